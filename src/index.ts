/**
 * kexue: techniques from the Scientific Spaces notes for TensorFlow.js.
 * Importing it registers kexue's corrected higher-order gradients (see src/grad).
 */
import { registerGradientFixes } from './grad/index.js';

registerGradientFixes();

export { initBackend, BACKEND_ORDER, type BackendName } from './backend/index.js';
export * from './can/index.js';
export { InputError, DivergenceError } from './io/errors.js';
export { readNpy, writeNpy, parseNpy, encodeNpy, type NpyArray } from './io/npy.js';
export { readMatrix, readLabels, readVector } from './io/table.js';
export { readSentencePairs, type SentencePair } from './io/sts.js';
export { readIdx, readImageSet, type ImageSet } from './io/idx.js';
export { registerGradientFixes, logSoftmax } from './grad/index.js';
export { Rng } from './util/rng.js';
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
export { loadHuggingFaceBert, exportHuggingFaceBert, hfDirReader } from './io/hf-files.js';
