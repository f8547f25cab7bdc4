/** CoSENT sentence embeddings: the loss, Spearman evaluation, baselines, trainer. */
export * from './loss.js';
export * from './spearman.js';
export * from './objectives.js';
export * from './sentence-model.js';
export * from './similarity.js';
export * from './trainer.js';
