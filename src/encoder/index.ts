/** The BERT-style encoder: model, attention, MLM data/loss, save/load and checkpoints. */
export * from './config.js';
export * from './attention.js';
export * from './model.js';
export * from './mlm.js';
export * from './io.js';
export * from './inputs.js';
export * from './baselines.js';
