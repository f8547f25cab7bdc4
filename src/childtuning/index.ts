/** ChildTuning (https://kexue.fm/archives/8764): gradient masks for fine-tuning, for TF.js optimizers. */
export * from './masks.js';
export * from './fisher.js';
export * from './optimizer.js';
export * from './classifier.js';
export * from './data.js';
export * from './finetune.js';
