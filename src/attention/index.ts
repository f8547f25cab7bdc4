/**
 * Entropy-invariant attention scale (log-n) and length extrapolation: the scale, RoPE extensions used
 * at inference (NTK-aware, dynamic NTK, position interpolation), attention entropy, MLM accuracy by
 * length, and the FIRST task of Chiang & Cholak. Browser-safe (tfjs-core only).
 */
export * from './scale.js';
export * from './rope.js';
export * from './entropy.js';
export * from './extrapolation.js';
export * from './first.js';
