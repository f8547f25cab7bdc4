/**
 * Gradient normalization of a critic (Wu et al., ICCV 2021; Su's note https://kexue.fm/archives/8757):
 *
 *   f̂(x) = f(x) / (‖∇ₓf(x)‖ + |f(x)|)                                   (GN)
 *   f̂(x) = f(x)·‖∇ₓf(x)‖ / (‖∇ₓf(x)‖² + ε)                              (GraN-GAN, Bhaskara et al. 2022)
 *
 * per sample, with ‖·‖ the Euclidean norm of the gradient flattened over the sample's input. |f̂| ≤ 1
 * always; for piecewise-linear f (ReLU/LeakyReLU nets, no normalisation layers) the Hessian vanishes
 * away from kinks, so ∇f̂ = ∇f·(‖∇f‖+|f| − |f|)/(‖∇f‖+|f|)² = ∇f·‖∇f‖/(‖∇f‖+|f|)², hence ‖∇f̂‖ ≤ 1.
 *
 * Both forms are differentiable with respect to the critic's parameters (double backprop through
 * kexue's registered higher-order gradients).
 *
 * The 0/0 case. The reference (basiclab/GNGAN-PyTorch, models/gradnorm.py) has no ε, so a sample with
 * f(x) = 0 and ∇ₓf(x) = 0 (e.g. a ReLU critic whose units are all off at x) gives NaN, which then
 * poisons the whole batch's update. Here such a sample gets f̂ = 0 and contributes no gradient at all
 * (neither to x nor to the parameters): 0 is the value of f̂ at any nearby point where f = 0 and ∇f ≠ 0,
 * and with zero gradient the sample simply drops out of the update. Likewise a zero gradient gives a
 * norm of 0 whose derivative is taken as 0 (√ has an infinite slope at 0).
 *
 * The generator-side shortcut (`gradientNormalizeForGenerator`): for piecewise-linear f the identity
 * above gives ∇ₓf̂ in closed form from f and ∇f alone, so the generator's update does not need to
 * differentiate through ∇f (no double backprop). We compute f, ∇f at a detached copy of x, and return
 * the surrogate  s(x) = f̂₀ + c·(f(x) − f₀)  with  c = ‖∇f₀‖/(‖∇f₀‖+|f₀|)²  held constant: its value is
 * f̂(x) and its gradient is c·∇f(x) = ∇f̂(x). It is exact only for piecewise-linear critics and only for
 * gradients with respect to x (and what produced x); never use it for the critic's own update.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { InputError } from '../io/errors.js';
import { stopGradient } from '../grad/stop-gradient.js';

/** A critic: one value per sample of a batch x of shape [n, ...]. */
export type ScalarField = (x: tf.Tensor) => tf.Tensor;
/** A critic as a function x → [n] values, or a `tf.LayersModel` with one output per sample. */
export type Critic = ScalarField | tfl.LayersModel;

/**
 * Normalises a critic to a function returning shape [n]. A `tf.LayersModel` is applied with
 * `{ training }` (default true: dropout, batch statistics and spectral-norm updates as in training).
 */
export function asScalarField(critic: Critic, training = true): (x: tf.Tensor) => tf.Tensor1D {
  if (typeof critic !== 'function' && !(critic && typeof (critic as tfl.LayersModel).apply === 'function'))
    throw new InputError('must be a function x → [n] values or a tf.LayersModel', 'critic');
  if (typeof training !== 'boolean')
    throw new InputError(`training must be true or false, got ${String(training)}`, 'options');
  const f: ScalarField =
    typeof critic === 'function' ? critic : (x) => critic.apply(x, { training }) as tf.Tensor;
  return (x) => {
    if (!(x instanceof tf.Tensor) || x.rank < 1)
      throw new InputError('must be a tensor of shape [n, ...]', 'x');
    const y = f(x);
    const n = x.shape[0];
    if (y.size !== n) {
      throw new Error(`critic must return one value per sample: got shape [${y.shape}] for ${n} samples`);
    }
    return y.rank === 1 ? (y as tf.Tensor1D) : tf.reshape(y, [n]);
  };
}

/** 1 where t > 0 else 0, with zero gradient. */
function positive(t: tf.Tensor): tf.Tensor {
  return tf.step(t);
}

/** √s for s ≥ 0, with value and derivative 0 at s = 0 instead of NaN/∞. */
export function safeSqrt(s: tf.Tensor): tf.Tensor {
  const m = positive(s);
  return tf.mul(tf.sqrt(tf.add(s, tf.sub(1, m))), m);
}

/** num/den where den > 0, else 0 with no gradient (den ≥ 0 assumed). */
function safeDiv(num: tf.Tensor, den: tf.Tensor): tf.Tensor {
  const m = positive(den);
  return tf.mul(tf.div(num, tf.add(den, tf.sub(1, m))), m);
}

/** `valueAndInputGradient`'s result; all three tensors stay on the tape. */
export interface ValueAndGradNorm {
  /** f(x), shape [n]. */
  value: tf.Tensor1D;
  /** ∇ₓf(x), shape of x. */
  grad: tf.Tensor;
  /** ‖∇ₓf(x)‖ per sample, shape [n]. */
  norm: tf.Tensor1D;
}

/**
 * f(x) and its per-sample input gradient, both on the tape (so differentiable again). Samples must be
 * independent (no batch statistics in f): the gradient of Σᵢ f(xᵢ) is then ∇f(xᵢ) row by row.
 *
 * @example
 * const { value, grad, norm } = valueAndInputGradient(critic, x); // [n], shape of x, [n]
 * const gp = tf.mean(tf.square(tf.sub(norm, 1))); // a WGAN-GP-style term, still differentiable
 */
export function valueAndInputGradient(critic: Critic, x: tf.Tensor, training = true): ValueAndGradNorm {
  const f = asScalarField(critic, training);
  const value = f(x);
  const grad = tf.grad((xx: tf.Tensor) => tf.sum(f(xx)))(x);
  const n = x.shape[0];
  const norm = safeSqrt(tf.sum(tf.square(tf.reshape(grad, [n, -1])), 1)) as tf.Tensor1D;
  return { value, grad, norm };
}

/** Options of `gradientNormalize` and `gradientNormalizeForGenerator`. */
export interface GnOptions {
  /** Added to the denominator (default 0, as in the paper; the 0/0 case is handled regardless). */
  epsilon?: number;
  /**
   * For a `tf.LayersModel` critic: apply it in training mode (default true, for the critic's updates);
   * false for evaluation (dropout off, no batch-statistic or spectral-norm updates).
   */
  training?: boolean;
}

function checkEpsilon(epsilon: number): number {
  if (!(typeof epsilon === 'number' && epsilon >= 0 && Number.isFinite(epsilon)))
    throw new InputError(`epsilon must be a finite number ≥ 0, got ${String(epsilon)}`, 'options');
  return epsilon;
}

/** f̂ = f/(‖∇f‖ + |f| + ε) per sample, from precomputed parts. */
function gnFromParts(value: tf.Tensor, norm: tf.Tensor, epsilon: number): tf.Tensor1D {
  const den = tf.add(tf.add(norm, tf.abs(value)), epsilon);
  return safeDiv(value, den) as tf.Tensor1D;
}

/**
 * Wraps a critic (a function or a `tf.LayersModel`) into its gradient-normalized form
 * f̂(x) = f(x)/(‖∇ₓf(x)‖ + |f(x)|), shape [n].
 *
 * @example
 * const fhat = gradientNormalize(critic); // training mode (critic updates)
 * const fake = generator.predict(tf.randomNormal([x.shape[0], 2])) as tf.Tensor; // 2: the noise width
 * const hinge = (t: tf.Tensor) => tf.mean(tf.relu(tf.sub(1, t)));
 * const lossD = tf.add(hinge(fhat(x)), hinge(tf.neg(fhat(fake)))); // the hinge loss of the critic
 * const score = gradientNormalize(critic, { training: false })(x); // evaluation: [n], each in [−1, 1]
 */
export function gradientNormalize(critic: Critic, opts: GnOptions = {}): (x: tf.Tensor) => tf.Tensor1D {
  const epsilon = checkEpsilon(opts.epsilon ?? 0);
  const training = opts.training ?? true;
  asScalarField(critic, training); // validates the critic now, not at the first call
  return (x) =>
    tf.tidy(() => {
      const { value, norm } = valueAndInputGradient(critic, x, training);
      return gnFromParts(value, norm, epsilon);
    });
}

/** Options of `granNormalize`. */
export interface GranOptions {
  /** ε in f·‖∇f‖/(‖∇f‖² + ε); default 1e-4 (our choice: it only matters where ‖∇f‖ ≲ 1e-2). */
  epsilon?: number;
  /** As `GnOptions.training` (default true). */
  training?: boolean;
}

/**
 * GraN-GAN's form f̂(x) = f(x)·‖∇ₓf(x)‖/(‖∇ₓf(x)‖² + ε), shape [n].
 *
 * @example
 * const fhat = granNormalize(critic, { epsilon: 1e-4 });
 * const score = fhat(x); // [n]
 */
export function granNormalize(critic: Critic, opts: GranOptions = {}): (x: tf.Tensor) => tf.Tensor1D {
  const epsilon = checkEpsilon(opts.epsilon ?? 1e-4);
  const training = opts.training ?? true;
  asScalarField(critic, training);
  return (x) =>
    tf.tidy(() => {
      const { value, norm } = valueAndInputGradient(critic, x, training);
      return safeDiv(tf.mul(value, norm), tf.add(tf.square(norm), epsilon)) as tf.Tensor1D;
    });
}

/**
 * The generator-side surrogate of GN for piecewise-linear critics (see the header): value f̂(x),
 * gradient with respect to x equal to ∇f̂(x), computed with a single backprop through the critic.
 * The detached copy is made by reading x's values, so the critic's gradient computation is not on the
 * path from the generator's parameters and is never differentiated.
 *
 * @example
 * const fhat = gradientNormalizeForGenerator(critic); // critic: ReLU/LeakyReLU layers only
 * const z = tf.randomNormal([64, 2]); // generator input
 * const lossG = () => tf.neg(tf.mean(fhat(generator.apply(z) as tf.Tensor))) as tf.Scalar;
 * const genVars = generator.trainableWeights.map((w) => w.read() as tf.Variable);
 * optimizer.applyGradients(tf.variableGrads(lossG, genVars).grads); // the generator's weights only
 */
export function gradientNormalizeForGenerator(
  critic: Critic,
  opts: GnOptions = {},
): (x: tf.Tensor) => tf.Tensor1D {
  const epsilon = checkEpsilon(opts.epsilon ?? 0);
  const f = asScalarField(critic, opts.training ?? true);
  return (x) =>
    tf.tidy(() => {
      const x0 = stopGradient(tf.cast(x, 'float32'));
      const { value: f0, norm } = valueAndInputGradient(f, x0);
      const den = tf.add(tf.add(norm, tf.abs(f0)), epsilon);
      const fhat0 = gnFromParts(f0, norm, epsilon);
      const c = safeDiv(norm, tf.square(den));
      return tf.add(fhat0, tf.mul(c, tf.sub(f(x), f0))) as tf.Tensor1D;
    });
}
