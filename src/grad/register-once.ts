/**
 * How kexue's fused ops register their kernels' gradients: on first use, not at import (importing kexue
 * has no side effects beyond those listed), and never over a gradient already registered for the kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GradConfig } from '@tensorflow/tfjs-core';

/** Registers `config` unless its kernel already has a gradient. */
export function registerGradientOnce(config: GradConfig): void {
  if (!tf.getGradient(config.kernelName)) tf.registerGradient(config);
}
