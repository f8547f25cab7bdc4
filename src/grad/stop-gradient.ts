/** TensorFlow's `stop_gradient`, which tfjs-core lacks. */
import * as tf from '@tensorflow/tfjs-core';

const stop = tf.customGrad((...inputs) => ({
  value: tf.clone(inputs[0] as tf.Tensor),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
}));

/**
 * `t`'s values with no gradient path: gradients through the result are zero. Unlike a copy made with
 * `tf.tensor(t.dataSync())`, it stays on the device (no GPU read-back, which would stall webgl/webgpu).
 *
 * @example
 * const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(x, stopGradient(x))))(tf.tensor1d([2, 3]));
 * g.print(); // [2, 3]: d/dx of x·c with c = x held constant
 */
export function stopGradient<T extends tf.Tensor>(t: T): T {
  return stop(t) as T;
}
