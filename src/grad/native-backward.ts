/**
 * The rule for kexue's one-call native backward kernels (layer norm, softmax, tanh, sigmoid, softmax
 * cross-entropy): a gradient function may use one when no tape records the gradient being computed (plain
 * training) and the active backend has it. A recorded gradient will itself be differentiated, so it must be built from
 * differentiable ops on the op's inputs: the native backward kernels have no gradients, and tfjs does not
 * link saved outputs into the tape.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Whether the gradient being computed may run the native backward `kernel`. */
export function nativeBackward(kernel: string): boolean {
  return !tf.engine().isTapeOn() && tf.getKernel(kernel, tf.getBackend()) !== undefined;
}
