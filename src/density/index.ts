/**
 * VAE density estimation: importance-sampled log p(x), the IWAE bound and objective (with the DReG
 * gradient), active units, binarized data and out-of-distribution scores. Browser-safe (tfjs-core).
 */
export * from './distributions.js';
export * from './nets.js';
export * from './vae.js';
export * from './build.js';
export * from './objectives.js';
export * from './likelihood.js';
export * from './units.js';
export * from './data.js';
export * from './ood.js';
export * from './trainer.js';
export * from './io.js';
