/**
 * kexue: techniques from the Scientific Spaces notes for TensorFlow.js. This entry is browser-safe (no
 * Node built-in, no `process`) and runs on any TF.js backend; files on disk, the native backend and the
 * CLI are in `kexue/node` (src/node.ts). Importing it registers kexue's corrected higher-order
 * gradients (src/register.ts).
 */
import './register.js';

export * from './can/index.js';
export { InputError, DivergenceError } from './io/errors.js';
export type { SentencePair } from './io/sts.js';
export { registerGradientFixes, logSoftmax } from './grad/index.js';
export { Rng, type Seed } from './util/rng.js';
export * from './encoder/index.js';
export * from './nn/index.js';
export * from './tokenizers/index.js';
export * from './cosent/index.js';
export * from './gan/index.js';
export * from './penalty/index.js';
export * from './density/index.js';
export * from './attention/index.js';
export * from './childtuning/index.js';
export * from './hf/index.js';
