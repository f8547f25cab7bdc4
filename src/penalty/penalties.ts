/**
 * Gradient penalties usable in any TF.js training loop (Su's note https://kexue.fm/archives/8796):
 *
 *   input-gradient penalty      λ·E‖∇ₓf(x)‖²        (Dirichlet energy; with `center` c: λ·E(‖∇ₓf‖ − c)²,
 *                                                    the two-sided WGAN-GP penalty for c = 1)
 *   parameter-gradient penalty  λ·‖∇_θ L(θ)‖²       (Euclidean norm over all listed parameters)
 *
 * Both return a scalar that is itself differentiable with respect to the model's parameters (they are
 * meant to be added to a loss inside `tf.variableGrads` / `optimizer.minimize`); this relies on kexue's
 * registered higher-order gradients (src/grad), so use `logSoftmax` from there for cross-entropy.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { valueAndInputGradient, type Critic } from '../gan/gradnorm.js';
import { InputError } from '../io/errors.js';
import { Rng } from '../util/rng.js';

/** The options both penalties take. */
export interface PenaltyOptions {
  /** λ (default 1). */
  weight?: number;
}

/** `inputGradientPenalty`'s options. */
export interface InputPenaltyOptions extends PenaltyOptions {
  /** Penalise (‖∇ₓf‖ − center)² instead of ‖∇ₓf‖² (WGAN-GP uses 1). */
  center?: number;
  /** For a `tf.LayersModel` f: apply it in training mode (default true). */
  training?: boolean;
}

/** The parameters a parameter-gradient penalty is over: a model's trainable weights, or variables. */
export type PenaltyParameters = tfl.LayersModel | tf.Variable[];

function weightOf(opts: PenaltyOptions | number | undefined): number {
  const weight = typeof opts === 'number' ? opts : (opts?.weight ?? 1);
  if (!(typeof weight === 'number' && Number.isFinite(weight) && weight >= 0))
    throw new InputError(`weight must be a finite number ≥ 0, got ${String(weight)}`, 'options');
  return weight;
}

/** The trainable variables of a LayersModel (`LayerVariable.read()` is the tf.Variable), or the list. */
export function parametersOf(params: PenaltyParameters): tf.Variable[] {
  if (params instanceof tfl.LayersModel) return params.trainableWeights.map((w) => w.read() as tf.Variable);
  if (Array.isArray(params) && params.every((v) => v instanceof tf.Variable)) {
    if (params.length === 0) throw new InputError('is an empty list', 'params');
    return params;
  }
  throw new InputError('must be a tf.LayersModel or an array of tf.Variable', 'params');
}

/**
 * λ·mean over the batch of ‖∇ₓf(xᵢ)‖² (or (‖∇ₓf(xᵢ)‖ − c)²), the gradient flattened per sample.
 * `f` (a function or a `tf.LayersModel`) returns one value per sample; for a vector-valued model pass a
 * scalar reduction of it (e.g. the loss per sample), since the penalty of the note is on the gradient
 * of a scalar.
 *
 * @example
 * const fake = generator.predict(tf.randomNormal([x.shape[0], 2])) as tf.Tensor2D; // 2: the noise width
 * const eps = tf.randomUniform([x.shape[0], 1]); // WGAN-GP: points between real and fake samples
 * const xHat = tf.add(tf.mul(eps, x), tf.mul(tf.sub(1, eps), fake));
 * const gp = inputGradientPenalty(critic, xHat, { weight: 10, center: 1 }); // a tf.Scalar, add it to L_D
 */
export function inputGradientPenalty(f: Critic, x: tf.Tensor, opts: InputPenaltyOptions = {}): tf.Scalar {
  const weight = weightOf(opts);
  if (opts.center !== undefined && !Number.isFinite(opts.center))
    throw new InputError(`center must be a finite number, got ${String(opts.center)}`, 'options');
  if (!(x instanceof tf.Tensor) || x.rank < 1)
    throw new InputError('must be a tensor of shape [n, ...]', 'x');
  return tf.tidy(() => {
    const { grad, norm } = valueAndInputGradient(f, x, opts.training ?? true);
    const n = x.shape[0];
    const sq =
      opts.center === undefined
        ? tf.sum(tf.square(tf.reshape(grad, [n, -1])), 1)
        : tf.square(tf.sub(norm, opts.center));
    return tf.mul(tf.mean(sq), weight) as tf.Scalar;
  });
}

/**
 * λ·‖∇_θ L‖², θ = `params` (a `tf.LayersModel`'s trainable weights or a list of variables). `loss` is
 * evaluated afresh (its value is returned too, so a training step can use L + penalty without a second
 * forward pass). The third argument is `{ weight }` (a bare number is still accepted).
 *
 * @example
 * // cross-entropy with kexue's logSoftmax (its second derivative is right); y one-hot, model → logits
 * const meanLoss = () =>
 *   tf.neg(tf.mean(tf.sum(tf.mul(y, logSoftmax(model.apply(x) as tf.Tensor)), -1))) as tf.Scalar;
 * optimizer.minimize(() => {
 *   const { loss, penalty } = parameterGradientPenalty(meanLoss, model, { weight: 0.1 });
 *   return tf.add(loss, penalty) as tf.Scalar;
 * });
 */
export function parameterGradientPenalty(
  loss: () => tf.Scalar,
  params: PenaltyParameters,
  opts: PenaltyOptions | number = {},
): { loss: tf.Scalar; penalty: tf.Scalar } {
  if (typeof loss !== 'function') throw new InputError('must be a function () => tf.Scalar', 'loss');
  const vars = parametersOf(params);
  const weight = weightOf(opts);
  return tf.tidy(() => {
    // tf.variableGrads records its backward pass on the enclosing tape (when there is one), so the
    // squared norm below can be differentiated again by the training step that adds it to its loss.
    const { value, grads: g } = tf.variableGrads(loss, vars);
    const sq = tf.addN(vars.map((w) => tf.sum(tf.square(g[w.name] ?? tf.zerosLike(w)))));
    return { loss: value, penalty: tf.mul(sq, weight) as tf.Scalar };
  });
}

/** Euclidean norm ‖∇ₓf(xᵢ)‖ per sample, shape [n] (a diagnostic, not on the tape's critical path). */
export function inputGradientNorms(f: Critic, x: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => valueAndInputGradient(f, x).norm);
}

/**
 * x̂ = εx_real + (1 − ε)x_fake with ε ~ U(0, 1) per sample (WGAN-GP's sampling of the penalty points).
 * `rng` is a seed (number) or a kexue `Rng` (which advances).
 */
export function interpolate(real: tf.Tensor, fake: tf.Tensor, rng: Rng | number): tf.Tensor {
  if (
    !(real instanceof tf.Tensor) ||
    !(fake instanceof tf.Tensor) ||
    !tf.util.arraysEqual(real.shape, fake.shape)
  )
    throw new InputError(
      `real and fake must be tensors of one shape, got [${real?.shape}] and [${fake?.shape}]`,
      'interpolate',
    );
  const random = typeof rng === 'number' ? new Rng(rng) : rng;
  if (!(random instanceof Rng)) throw new InputError('must be a seed (number) or a kexue Rng', 'rng');
  return tf.tidy(() => {
    const n = real.shape[0];
    const eps = tf.tensor(
      Array.from({ length: n }, () => random.next()),
      [n, ...real.shape.slice(1).map(() => 1)],
    );
    return tf.add(tf.mul(eps, real), tf.mul(tf.sub(1, eps), fake));
  });
}
