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
import { valueAndInputGradient, type Critic } from '../gan/gradnorm.js';
import type { Rng } from '../util/rng.js';

export interface InputPenaltyOptions {
  /** λ (default 1). */
  weight?: number;
  /** Penalise (‖∇ₓf‖ − center)² instead of ‖∇ₓf‖² (WGAN-GP uses 1). */
  center?: number;
}

/**
 * λ·mean over the batch of ‖∇ₓf(xᵢ)‖² (or (‖∇ₓf(xᵢ)‖ − c)²), the gradient flattened per sample.
 * `f` returns one value per sample; for a vector-valued model pass a scalar reduction of it (e.g. the
 * loss per sample), since the penalty of the note is on the gradient of a scalar.
 */
export function inputGradientPenalty(f: Critic, x: tf.Tensor, opts: InputPenaltyOptions = {}): tf.Scalar {
  const weight = opts.weight ?? 1;
  return tf.tidy(() => {
    const { grad, norm } = valueAndInputGradient(f, x);
    const n = x.shape[0];
    const sq =
      opts.center === undefined
        ? tf.sum(tf.square(tf.reshape(grad, [n, -1])), 1)
        : tf.square(tf.sub(norm, opts.center));
    return tf.mul(tf.mean(sq), weight) as tf.Scalar;
  });
}

/**
 * λ·‖∇_θ L‖², θ = `vars`. `loss` is evaluated afresh (its value is returned too, so a training step
 * can use L + penalty without a second forward pass).
 */
export function parameterGradientPenalty(
  loss: () => tf.Scalar,
  vars: tf.Variable[],
  weight = 1,
): { loss: tf.Scalar; penalty: tf.Scalar } {
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

/** x̂ = εx_real + (1 − ε)x_fake with ε ~ U(0, 1) per sample (WGAN-GP's sampling of the penalty points). */
export function interpolate(real: tf.Tensor, fake: tf.Tensor, rng: Rng): tf.Tensor {
  return tf.tidy(() => {
    const n = real.shape[0];
    const eps = tf.tensor(
      Array.from({ length: n }, () => rng.next()),
      [n, ...real.shape.slice(1).map(() => 1)],
    );
    return tf.add(tf.mul(eps, real), tf.mul(tf.sub(1, eps), fake));
  });
}
