/**
 * kexue's fused kernels, where tfjs decomposes into many element-wise ones:
 * - the AdamW update of many variables (formula in src/nn/fused-update.ts): the addon's one-pass loop
 *   (native/loops.cc) over all of them in one call. In place when nothing else holds a variable's param,
 *   m and v: no other tfjs tensor (refCount 1: no clone, reshape, or copy the tape saved) and no ATen view
 *   (Transpose and Slice return views of the storage). Otherwise into new tensors, so that those keep
 *   the old values;
 * - layer normalisation and its gradient (src/nn/fused-layer-norm.ts): ATen's native_layer_norm and
 *   native_layer_norm_backward;
 * - the global norm of many tensors (gradient clipping): per-tensor norms, then the norm of those;
 * - exact GELU and its derivative (src/nn/fused-gelu.ts): ATen's gelu and gelu_backward;
 * - log Σ exp along one axis and its gradient (src/nn/fused-logsumexp.ts): ATen's logsumexp, and
 *   dy·exp(x − y) in one kernel;
 * - softmax's gradient from its output (src/grad/softmax.ts): ATen's _softmax_backward_data; sigmoid's
 *   likewise (src/grad/activations.ts): sigmoid_backward;
 * - float32 tanh and its gradient from the output: the addon's loops (native/loops.cc). ATen's tanh wakes
 *   the second thread from 32,768 elements on, which costs more than it gives back at 10^5 (500 × 200:
 *   0.11–0.17 ms against 0.06 ms on one thread);
 * - the dropout multiplier (src/nn/layers.ts): the addon's counter-based mask, from the call's seed;
 * - standard-normal and Bernoulli draws (src/nn/random.ts): the addon's, from the call's seed;
 * - the RoPE rotation (src/nn/fused-rope.ts): one complex multiply of the pairs by cos + i·sin;
 * - softmax cross-entropy against class labels and its gradient (src/nn/fused-cross-entropy.ts):
 *   log_softmax + nll_loss, and nll_loss_backward + _log_softmax_backward_data;
 * - the Bernoulli log-likelihood over the last axis and its gradient (src/nn/fused-bernoulli.ts): the
 *   addon's one-pass loops (native/loops.cc);
 * - the Gaussian log-density over the last axis and its three input gradients (src/nn/fused-gaussian.ts):
 *   ATen's element-wise ops and sum_to_size inside one kernel each way;
 * - tfjs's RMSProp and momentum updates (formulas in src/nn/fused-update.ts), out of place like AdamW's;
 * - a dense layer act(x·W + b) and its gradient (src/nn/fused-dense.ts): the addon's product, then the
 *   bias and the activation in one pass; its backward through the activation with the bias gradient in
 *   the same pass, then xᵀ·dPre (native/aten.cc).
 */
import { ADAMW_UPDATE, GLOBAL_NORM, MOMENTUM_UPDATE, RMSPROP_UPDATE } from '../../nn/fused-update.js';
import { GELU, GELU_GRAD } from '../../nn/fused-gelu.js';
import { LAYER_NORM, LAYER_NORM_GRAD } from '../../nn/fused-layer-norm.js';
import { SOFTMAX_GRAD } from '../../grad/softmax.js';
import { ACTIVATION_GRAD } from '../../grad/activations.js';
import { DROPOUT_MASK } from '../../nn/layers.js';
import { SPARSE_XENT, SPARSE_XENT_GRAD } from '../../nn/fused-cross-entropy.js';
import { ROPE } from '../../nn/fused-rope.js';
import { BERNOULLI, RANDOM_NORMAL } from '../../nn/random.js';
import { BERNOULLI_LOG_PMF, BERNOULLI_LOG_PMF_GRAD } from '../../nn/fused-bernoulli.js';
import { GAUSSIAN_LOG_PDF, GAUSSIAN_LOG_PDF_GRAD } from '../../nn/fused-gaussian.js';
import { DENSE, DENSE_ACTIVATIONS, DENSE_GRAD, type DenseActivation } from '../../nn/fused-dense.js';
import { LOG_SUM_EXP, LOG_SUM_EXP_GRAD } from '../../nn/fused-logsumexp.js';
import type { Inputs, NativeKernel, Attrs } from './kernels_math.js';
import {
  Unsupported,
  adamWUpdate,
  bernoulli,
  bernoulliLogPmf,
  bernoulliLogPmfGrad,
  dense,
  denseGrad,
  dropoutMask,
  firstValue,
  idOf,
  out,
  randomNormal,
  run,
  runN,
  scalar,
  shapeOf,
  soleHolder,
  tanh,
  tanhGrad,
} from './native.js';

function adamW(inputs: Inputs, attrs: Attrs) {
  const a = attrs as Record<string, number>;
  const decays = attrs.decay as number[];
  const ids: number[] = [];
  const sole: boolean[] = [];
  for (let i = 0; i < decays.length; i++) {
    const four = [inputs[`param${i}`], inputs[`m${i}`], inputs[`v${i}`], inputs[`grad${i}`]];
    if (four.some((t) => t.dtype !== 'float32')) throw new Unsupported('AdamW needs float32');
    ids.push(...four.map(idOf));
    sole.push(four.slice(0, 3).every(soleHolder));
  }
  const { clipScale } = inputs;
  const scalars = [a.clip, a.beta1, a.beta2, a.bc1, a.bc2, a.epsilon, a.lr];
  const clip = clipScale ? idOf(clipScale) : null;
  return adamWUpdate(ids, clip, scalars, decays, sole).map((id) => out(id, 'float32'));
}

function rmsProp(inputs: Inputs, attrs: Attrs) {
  const { param, ms, mom, grad, mg } = inputs;
  const a = attrs as Record<string, number>;
  const g = idOf(grad);
  const ms2 = run('addcmul', [run('mul.Scalar', [idOf(ms), a.decay]), g, g, 1 - a.decay]);
  let denom: number;
  let mg2: number | undefined;
  if (mg) {
    mg2 = run('add.Tensor', [run('mul.Scalar', [idOf(mg), a.decay]), g, 1 - a.decay]);
    const sq = run('add.Scalar', [run('mul.Tensor', [mg2, mg2]), a.epsilon]);
    denom = run('sqrt', [run('add.Tensor', [ms2, sq, -1])]);
  } else denom = run('sqrt', [run('add.Scalar', [ms2, a.epsilon])]);
  const mom2 = run('addcdiv', [run('mul.Scalar', [idOf(mom), a.momentum]), g, denom, a.lr]);
  const p2 = run('add.Tensor', [idOf(param), mom2, -1]);
  const outs = [out(p2, 'float32'), out(ms2, 'float32'), out(mom2, 'float32')];
  return mg2 === undefined ? outs : [...outs, out(mg2, 'float32')];
}

function momentum(inputs: Inputs, attrs: Attrs) {
  const { param, acc, grad } = inputs;
  const a = attrs as Record<string, number>;
  const g = idOf(grad);
  const acc2 = run('add.Tensor', [run('mul.Scalar', [idOf(acc), a.momentum]), g, 1]);
  const step = a.nesterov ? run('add.Tensor', [g, acc2, a.momentum]) : acc2;
  return [out(run('add.Tensor', [idOf(param), step, -a.lr]), 'float32'), out(acc2, 'float32')];
}

function layerNorm(inputs: Inputs, attrs: Attrs) {
  const { x, gamma, beta } = inputs;
  const h = x.shape[x.shape.length - 1];
  if (x.dtype !== 'float32' || gamma.shape.length !== 1 || gamma.shape[0] !== h || beta.shape[0] !== h)
    throw new Unsupported('layer norm needs float32 x and [H] gamma/beta');
  const [y, mean, rstd] = runN('native_layer_norm', [
    idOf(x),
    [h],
    idOf(gamma),
    idOf(beta),
    attrs.eps as number,
  ]);
  return [out(y, 'float32'), out(mean, 'float32'), out(rstd, 'float32')];
}

function layerNormGrad(inputs: Inputs) {
  const { dy, x, gamma, mean, rstd, dMean, dRstd } = inputs;
  const h = x.shape[x.shape.length - 1];
  if ([dy, x, gamma].some((t) => t.dtype !== 'float32') || gamma.shape.length !== 1 || gamma.shape[0] !== h)
    throw new Unsupported('layer norm gradient needs float32 dy, x and [H] gamma');
  const g = idOf(gamma); // also stands in for β, which the backward reads only for its shape
  const [dx, dGamma, dBeta] = runN('native_layer_norm_backward', [
    idOf(dy),
    idOf(x),
    [h],
    idOf(mean),
    idOf(rstd),
    g,
    g,
    [true, true, true],
  ]);
  // dμ and dr are zero unless a caller used the kernel's statistics outputs ([..., 1]: cheap to check).
  const used = firstValue(run('count_nonzero', [run('cat', [[idOf(dMean), idOf(dRstd)], -1])]));
  if (used === 0) return [out(dx, 'float32'), out(dGamma, 'float32'), out(dBeta, 'float32')];
  const r3 = run('mul.Tensor', [idOf(dRstd), run('pow.Tensor_Scalar', [idOf(rstd), 3])]);
  const centred = run('sub.Tensor', [idOf(x), idOf(mean)]);
  const full = run('add.Tensor', [
    run('add.Tensor', [dx, run('mul.Tensor', [centred, r3]), -1 / h]),
    idOf(dMean),
    1 / h,
  ]);
  return [out(full, 'float32'), out(dGamma, 'float32'), out(dBeta, 'float32')];
}

function softmaxGrad({ dy, y }: Inputs, { dim }: Attrs) {
  if (dy.dtype !== 'float32' || y.dtype !== 'float32')
    throw new Unsupported('softmax gradient needs float32');
  return out(run('_softmax_backward_data', [idOf(dy), idOf(y), dim as number, 'float32']), 'float32');
}

function logSumExp({ x }: Inputs, { axis, keepDims }: Attrs) {
  if (x.dtype !== 'float32') throw new Unsupported('logSumExp needs float32');
  return out(run('logsumexp', [idOf(x), [axis as number], keepDims as boolean]), 'float32');
}

function logSumExpGrad({ dy, x, y }: Inputs, { axis, keepDims }: Attrs) {
  if ([dy, x, y].some((t) => t.dtype !== 'float32'))
    throw new Unsupported('logSumExp gradient needs float32');
  const along = (t: Inputs[string]) => (keepDims ? idOf(t) : run('unsqueeze', [idOf(t), axis as number]));
  const softmax = run('exp', [run('sub.Tensor', [idOf(x), along(y)])]);
  return out(run('mul.Tensor', [softmax, along(dy)]), 'float32');
}

function activationGrad({ dy, y }: Inputs, { activation }: Attrs) {
  if (dy.dtype !== 'float32' || y.dtype !== 'float32')
    throw new Unsupported('activation gradient needs float32');
  if (activation === 'tanh') return out(tanhGrad(idOf(dy), idOf(y)), 'float32');
  return out(run('sigmoid_backward', [idOf(dy), idOf(y)]), 'float32');
}

function dropoutMultiplier(_inputs: Inputs, { shape, rate, seed }: Attrs) {
  return out(dropoutMask(shape as number[], rate as number, seed as number), 'float32');
}

function rope({ x, cos, signedSin }: Inputs, { inverse }: Attrs) {
  if ([x, cos, signedSin].some((t) => t.dtype !== 'float32')) throw new Unsupported('rope needs float32');
  const d = x.shape[x.shape.length - 1];
  // Pair i at angle θ: cos θ is column 2i of cos and −sin θ column 2i of signedSin. The pair, as the
  // complex number x₂ᵢ + i·x₂ᵢ₊₁, is multiplied by cos θ + i·sin θ; the inverse (the gradient) by its conjugate.
  const even = (t: Inputs[string]) => run('slice.Tensor', [idOf(t), 1, 0, d, 2]);
  const s = even(signedSin);
  const rotation = run('complex', [even(cos), inverse ? s : run('neg', [s])]);
  const pairs = [...x.shape.slice(0, -1), d / 2, 2];
  let z: number;
  try {
    z = run('view_as_complex', [run('reshape', [idOf(x), pairs])]);
  } catch {
    // A view whose strides do not pair up (odd offset) is made contiguous first.
    z = run('view_as_complex', [run('reshape', [run('contiguous', [idOf(x)]), pairs])]);
  }
  return out(run('reshape', [run('view_as_real', [run('mul.Tensor', [z, rotation])]), x.shape]), 'float32');
}

// nll_loss skips rows whose label is ignore_index (−100 by default); no int32 label can be this one.
const NO_IGNORED_LABEL = -(2 ** 40);

function crossEntropyParts(logits: Inputs[string], labels: Inputs[string]): { logp: number; target: number } {
  if (logits.dtype !== 'float32' || labels.dtype !== 'int32')
    throw new Unsupported('cross-entropy needs float32 logits and int32 labels');
  return {
    logp: run('_log_softmax', [idOf(logits), 1, false]),
    target: run('to.dtype', [idOf(labels), 'int64', false, false], 'raw'),
  };
}

function sparseXent({ logits, labels }: Inputs) {
  const { logp, target } = crossEntropyParts(logits, labels);
  return out(run('nll_loss', [logp, target, null, 0, NO_IGNORED_LABEL]), 'float32');
}

function sparseXentGrad({ dy, logits, labels }: Inputs) {
  const { logp, target } = crossEntropyParts(logits, labels);
  const total = scalar(1, 'float32'); // read only by the 'mean' reduction
  const g = run('nll_loss_backward', [idOf(dy), logp, target, null, 0, NO_IGNORED_LABEL, total]);
  return out(run('_log_softmax_backward_data', [g, logp, 1, 'float32']), 'float32');
}

function globalNorm(inputs: Inputs) {
  const norms = Object.values(inputs).map((t) => run('linalg_vector_norm', [idOf(t)]));
  return out(run('linalg_vector_norm', [run('stack', [norms, 0])]), 'float32');
}

function standardNormal(_inputs: Inputs, { shape, seed }: Attrs) {
  return out(randomNormal(shape as number[], seed as number), 'float32');
}

function bernoulliDraw({ p }: Inputs, { seed }: Attrs) {
  return out(bernoulli(idOf(p), seed as number), 'float32');
}

function bernoulliLogLikelihood({ x, logits }: Inputs) {
  if (x.dtype !== 'float32' || logits.dtype !== 'float32') throw new Unsupported('needs float32');
  return out(bernoulliLogPmf(idOf(x), idOf(logits)), 'float32');
}

function bernoulliLogLikelihoodGrad({ dy, x, logits }: Inputs) {
  if ([dy, x, logits].some((t) => t.dtype !== 'float32')) throw new Unsupported('needs float32');
  return out(bernoulliLogPmfGrad(idOf(dy), idOf(x), idOf(logits)), 'float32');
}

const LOG_2PI = Math.log(2 * Math.PI);

function gaussianLogDensity({ x, mean, logVar }: Inputs) {
  if ([x, mean, logVar].some((t) => t.dtype !== 'float32')) throw new Unsupported('needs float32');
  const d = run('sub.Tensor', [idOf(x), idOf(mean)]);
  const terms = run('add.Tensor', [
    run('mul.Tensor', [run('square', [d]), run('exp', [run('neg', [idOf(logVar)])])]),
    idOf(logVar),
  ]);
  const dims = shapeOf(terms);
  const sum = run('sum.dim_IntList', [terms, [-1], false]);
  return out(
    run('add.Scalar', [run('mul.Scalar', [sum, -0.5]), -0.5 * dims[dims.length - 1] * LOG_2PI]),
    'float32',
  );
}

/** `id` summed over the axes `t` was broadcast along (ATen's sum_to_size), as t's gradient. */
function sumToInput(id: number, t: Inputs[string]) {
  return out(run('sum_to_size', [id, t.shape]), 'float32');
}

function gaussianLogDensityGrad({ dy, x, mean, logVar }: Inputs) {
  if ([dy, x, mean, logVar].some((t) => t.dtype !== 'float32')) throw new Unsupported('needs float32');
  const e = run('unsqueeze', [idOf(dy), -1]);
  const d = run('sub.Tensor', [idOf(x), idOf(mean)]);
  const r = run('mul.Tensor', [run('mul.Tensor', [d, run('exp', [run('neg', [idOf(logVar)])])]), e]);
  const dLogVar = run('mul.Scalar', [run('sub.Tensor', [e, run('mul.Tensor', [d, r])]), -0.5]);
  return [sumToInput(run('neg', [r]), x), sumToInput(r, mean), sumToInput(dLogVar, logVar)];
}

function geluForward({ x }: Inputs) {
  if (x.dtype !== 'float32') throw new Unsupported('gelu needs float32');
  return out(run('gelu', [idOf(x)]), 'float32');
}

function geluBackward({ dy, x }: Inputs) {
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') throw new Unsupported('gelu needs float32');
  return out(run('gelu_backward', [idOf(dy), idOf(x)]), 'float32');
}

/** The addon's number for an activation (its index in DENSE_ACTIVATIONS: linear, relu, tanh, sigmoid). */
function activationCode(attrs: Attrs): number {
  return DENSE_ACTIVATIONS.indexOf(attrs.activation as DenseActivation);
}

function denseForward({ x, kernel, bias }: Inputs, attrs: Attrs) {
  if ([x, kernel, bias].some((t) => t.dtype !== 'float32')) throw new Unsupported('dense needs float32');
  return out(dense(idOf(x), idOf(kernel), idOf(bias), activationCode(attrs)), 'float32');
}

function denseBackward({ dy, x, kernel, y }: Inputs, attrs: Attrs) {
  if ([dy, x, kernel, y].some((t) => t.dtype !== 'float32')) throw new Unsupported('dense needs float32');
  const ids = denseGrad(idOf(dy), idOf(x), idOf(kernel), idOf(y), activationCode(attrs));
  return ids.map((id) => out(id, 'float32'));
}

export const fusedKernels: Record<string, NativeKernel> = {
  [ADAMW_UPDATE]: adamW,
  [RMSPROP_UPDATE]: rmsProp,
  [MOMENTUM_UPDATE]: momentum,
  [GLOBAL_NORM]: globalNorm,
  [LAYER_NORM]: layerNorm,
  [LAYER_NORM_GRAD]: layerNormGrad,
  [SOFTMAX_GRAD]: softmaxGrad,
  [ACTIVATION_GRAD]: activationGrad,
  [LOG_SUM_EXP]: logSumExp,
  [LOG_SUM_EXP_GRAD]: logSumExpGrad,
  Tanh: ({ x }) =>
    x.dtype === 'float32' ? out(tanh(idOf(x)), 'float32') : out(run('tanh', [idOf(x)]), x.dtype),
  [DROPOUT_MASK]: dropoutMultiplier,
  [RANDOM_NORMAL]: standardNormal,
  [BERNOULLI]: bernoulliDraw,
  [SPARSE_XENT]: sparseXent,
  [ROPE]: rope,
  [SPARSE_XENT_GRAD]: sparseXentGrad,
  [BERNOULLI_LOG_PMF]: bernoulliLogLikelihood,
  [BERNOULLI_LOG_PMF_GRAD]: bernoulliLogLikelihoodGrad,
  [GAUSSIAN_LOG_PDF]: gaussianLogDensity,
  [GAUSSIAN_LOG_PDF_GRAD]: gaussianLogDensityGrad,
  [GELU]: geluForward,
  [GELU_GRAD]: geluBackward,
  [DENSE]: denseForward,
  [DENSE_GRAD]: denseBackward,
};
