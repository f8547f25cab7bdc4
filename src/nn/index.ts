/** Building blocks: the Module pattern, layers, initializers, LR schedules, AdamW. */
export * from './module.js';
export * from './layers.js';
export * from './init.js';
export * from './schedule.js';
export * from './optim.js';
export * from './diagnose.js';
export * from './tfjs-init.js';
export * from './spectral-norm.js';
export * from './random.js';
