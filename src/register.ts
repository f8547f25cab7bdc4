/**
 * The one side effect of importing kexue (listed in package.json `sideEffects`): kexue's corrected,
 * themselves-differentiable gradients are registered over tfjs-core's, so gradient penalties and
 * gradient normalization (tf.grad of tf.grad) are right on every backend.
 */
import { registerGradientFixes } from './grad/index.js';

registerGradientFixes();
