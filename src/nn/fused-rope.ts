/**
 * The rotary position rotation of interleaved pairs, (x₂ᵢ, x₂ᵢ₊₁) ↦ (x₂ᵢ·c − x₂ᵢ₊₁·s, x₂ᵢ₊₁·c + x₂ᵢ·s), as
 * one kernel where the backend has it (kexue's 'aten' registers `KexueRope`: each pair is a complex
 * number, the rotation one complex multiply by c + i·s, as Meta's LLaMA writes it in PyTorch). tfjs
 * needs the pair swap (a reverse of a trailing axis of 2, slow in ATen 1.13), two multiplies
 * and an add, each over the whole [B, heads, N, d] tensor, forward and again backward.
 *
 * The rotation is linear in x and its transpose is the rotation by −angle, so the gradient is the same
 * kernel with `inverse` set, and gradients of gradients follow. The tables are constants here: they get
 * no gradient, so this is for tables built from positions (the encoder's), not learned ones.
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerGradientOnce } from '../grad/register-once.js';

export const ROPE = 'KexueRope';

const gradient: tf.GradConfig = {
  kernelName: ROPE,
  inputsToSave: ['cos', 'signedSin'],
  gradFunc: (dy, [cos, signedSin], attrs) => ({
    x: () =>
      tf
        .engine()
        .runKernel(
          ROPE,
          { x: dy as tf.Tensor, cos, signedSin },
          { inverse: !(attrs.inverse as boolean) },
        ) as tf.Tensor,
  }),
};

/**
 * The `signedSin` table of `rotatePairs` from a sin table [N, d] whose entries repeat per pair: −sin in
 * even columns, +sin in odd ones (the signs that make the pair swap a 90° rotation).
 */
export function signedSinTable(sin: tf.Tensor2D): tf.Tensor2D {
  const d = sin.shape[1];
  return tf.tidy(() =>
    tf.mul(sin, tf.tensor1d(Float32Array.from({ length: d }, (_, i) => (i % 2 ? 1 : -1)))),
  );
}

/**
 * Rotates x [..., N, d] by position tables [N, d] whose entries repeat per pair: `cos` holds cos(angle)
 * and `signedSin` holds −sin(angle) in even columns and +sin(angle) in odd ones (the pair swap's signs,
 * folded in once). Fused when the backend has the kernel; the tables get no gradient.
 *
 * @example
 * // One pair at angle π/2: (1, 0) ↦ (0, 1).
 * const x = tf.tensor2d([[1, 0]]);
 * rotatePairs(x, tf.tensor2d([[0, 0]]), tf.tensor2d([[-1, 1]])); // → [[0, 1]]
 */
export function rotatePairs(x: tf.Tensor, cos: tf.Tensor2D, signedSin: tf.Tensor2D): tf.Tensor {
  const d = x.shape[x.rank - 1];
  const n = x.shape[x.rank - 2];
  if (
    x.rank < 2 ||
    d % 2 ||
    cos.shape[0] !== n ||
    cos.shape[1] !== d ||
    !signedSin.shape.every((s, i) => s === cos.shape[i])
  )
    throw new Error(
      `rotatePairs: x [..., N, d] with d even and tables [N, d]; got x [${x.shape.join(', ')}], tables [${cos.shape.join(', ')}] and [${signedSin.shape.join(', ')}]`,
    );
  if (x.dtype === 'float32' && tf.getKernel(ROPE, tf.getBackend())) {
    registerGradientOnce(gradient);
    return tf.engine().runKernel(ROPE, { x, cos, signedSin }, { inverse: false }) as tf.Tensor;
  }
  return tf.tidy(() => {
    // The swap reverses a trailing axis of 2 (one kernel forward and one backward). A gather along the
    // last axis costs a transpose, a scatter-add and a transpose back in its gradient; splitting the
    // axis into halves ran SplitV, which dominated the training step on the wasm backend.
    const swapped = tf.reshape(tf.reverse(tf.reshape(x, [...x.shape.slice(0, -1), d / 2, 2]), -1), x.shape);
    return tf.add(tf.mul(x, cos), tf.mul(swapped, signedSin));
  });
}
