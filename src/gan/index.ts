/** GANs with interchangeable Lipschitz constraints, gradient normalization of critics, toys and FID. */
export * from './gradnorm.js';
export * from './trainer.js';
export {
  MlpNet,
  DenseLayer as GanDenseLayer,
  ConvCritic,
  ConvGenerator,
  type MlpNetOptions,
  type ConvCriticOptions,
  type ConvGeneratorOptions,
  type GanNet,
  type ImageShape,
  type NetActivation,
} from './nets.js';
export * from './toys.js';
export { FeatureClassifier, featureStats, frechetDistance, type FeatureStats } from './fid.js';
export { imageGrid, scatterImage } from './grid.js';
