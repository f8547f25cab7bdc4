/**
 * Input- and parameter-gradient penalties, and the inequality between them for MLPs (float64).
 * Generic names of the float64 MLP are exported with a prefix to avoid clashes in the package root.
 */
export {
  inputGradientPenalty,
  parameterGradientPenalty,
  inputGradientNorms,
  interpolate,
  type InputPenaltyOptions,
  type PenaltyOptions,
  type PenaltyParameters,
} from './penalties.js';
export {
  trainStep,
  type TrainStepOptions,
  type TrainStepResult,
  type PerSampleLoss,
  type LossName,
} from './train-step.js';
export {
  gradientPenaltyInequality,
  gradientPenaltyInequalityAsync,
  gradientPenaltyInequalityBatch,
  gradientPenaltyInequalityBatchAsync,
  weightSpectralNormsSq,
  mlpPass as floatMlpPass,
  hiddenJacobians,
  randomMlp as randomFloatMlp,
  trainMlp as trainFloatMlp,
  ACTIVATIONS as FLOAT_MLP_ACTIVATIONS,
  type Activation as FloatMlpActivation,
  type DenseLayer as FloatDenseLayer,
  type Mlp as FloatMlp,
  type MlpPass as FloatMlpPass,
  type InequalityModel,
  type InequalityResult,
  type LayerTerms,
} from './inequality.js';
export {
  inequalitySurvey,
  randomInequalityCase,
  type RatioSummary,
  type InequalityCase,
} from './property.js';
export { spectralNormSq } from './linalg.js';
export { mlpFromLayersModel, mlpFromLayersModelAsync } from './from-layers.js';
