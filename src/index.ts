/**
 * kexue: techniques from the Scientific Spaces notes for TensorFlow.js. This entry is browser-safe (no
 * Node built-in, no `process`) and runs on any TF.js backend; files on disk, the native backend and the
 * CLI are in `kexue/node` (src/node.ts). Importing it registers kexue's corrected higher-order
 * gradients (src/register.ts).
 *
 * This file is the public API: each technique's folder has more (its building blocks, used by the
 * experiments and tests), and only what is listed here is promised to users. `npm run lint` checks that
 * every name here is documented (scripts/check-api.mjs).
 *
 * @packageDocumentation
 * @module kexue
 */
import './register.js';

// Shared: errors, seeds, input kinds, the gradient fixes.
export { InputError, DivergenceError } from './io/errors.js';
export { Rng, type Seed } from './util/rng.js';
export type { MatrixInput, VectorInput } from './util/inputs.js';
export { registerGradientFixes, logSoftmax, stopGradient } from './grad/index.js';
export { sparseSoftmaxCrossEntropy } from './nn/fused-cross-entropy.js';
export { dense, DENSE_ACTIVATIONS, type DenseActivation } from './nn/fused-dense.js';
export { logSumExp } from './nn/fused-logsumexp.js';
export { standardNormal, bernoulli } from './nn/random.js';

// 1. CAN: classification with a label prior.
export {
  can,
  canAsync,
  CAN_DEFAULTS,
  CAN_ROW_SUM_TOLERANCE,
  type CanOptions,
  type CanCallOptions,
  type CanResult,
  type CanResultOf,
  type CanMatrixResult,
  type CanTensorResult,
  type CanArrayResult,
} from './can/can.js';
export {
  canTune,
  canTuneAsync,
  DEFAULT_GRID,
  type CanGrid,
  type CanTuneOptions,
  type CanTuneResult,
} from './can/tune.js';
export { emPrior, emPriorAsync, type EmPriorOptions, type EmPriorResult } from './can/em.js';
export { accuracy, topkAccuracy, type ProbMatrix } from './can/matrix.js';
export { priorFromLabels, uniformPrior, normalizePrior } from './can/prior.js';
export { uncertainties } from './can/uncertainty.js';
export { calibration, type CalibrationResult, type CalibrationBin } from './can/calibration.js';

// 2. BERT's initialization and training: TF.js optimizers, initializers, schedules, diagnostics.
export { AdamW, readLossAndNorm, type AdamWOptions, type AdamWConfig } from './nn/optim.js';
export { BertTruncatedNormal, type BertTruncatedNormalArgs } from './nn/tfjs-init.js';
export {
  warmupSchedule,
  warmupCallback,
  LearningRateScheduler,
  type DecayKind,
  type ScheduleOptions,
  type Schedule,
  type SchedulerOptions,
} from './nn/schedule.js';
export {
  diagnoseGradients,
  diagnoseGradientsAsync,
  type DiagnosableModel,
  type DiagnoseOptions,
  type GradientReport,
  type GroupDiagnostics,
  type ParamDiagnostics,
} from './nn/diagnose.js';

// The Transformer encoder (BERT-style) and its tokenizers, used by CoSENT, ChildTuning and attention.
export {
  Encoder,
  pool,
  type EncoderInput,
  type EncoderOutput,
  type Pooling,
  POOLINGS,
} from './encoder/model.js';
export {
  makeConfig,
  DEFAULT_CONFIG,
  type EncoderConfig,
  type PositionKind,
  type NormPlacement,
  type Activation,
} from './encoder/config.js';
export { encodeTexts, encodePairs, padBatch, disposeInput } from './encoder/inputs.js';
export { mlmCountBaselines, type MlmBaselines } from './encoder/baselines.js';
export {
  encoderArtifacts,
  encoderFromArtifacts,
  encoderHttpHandler,
  loadEncoderFrom,
  saveEncoderTo,
  ENCODER_FORMAT,
  type LoadedEncoder,
  type LoadEncoderOptions,
} from './encoder/io.js';
export {
  registerAttentionScale,
  registerAttentionScaleFactory,
  type ScaleContext,
  type AttentionScaleFn,
  type AttentionScaleFactory,
} from './encoder/attention.js';
export { mlmLoss, makeMlmBatch, MlmMasker, type MaskingOptions, type MlmBatch } from './encoder/mlm.js';
export { WordPieceTokenizer, type WordPieceOptions } from './tokenizers/wordpiece.js';
export { buildWordPieceVocab, type WordPieceBuildOptions } from './tokenizers/wordpiece-build.js';
export { CharTokenizer, CHINESE_CHAR, ENGLISH_CHAR, type CharOptions } from './tokenizers/char.js';
export { Vocab, SPECIAL_TOKENS, type SpecialIds } from './tokenizers/vocab.js';
export type { Tokenizer, EncodeOptions } from './tokenizers/types.js';
export { tokenizerFiles, tokenizerFromFiles, type TokenizerFiles } from './tokenizers/index.js';

// 3. Gradient normalization for GAN critics.
export {
  gradientNormalize,
  gradientNormalizeForGenerator,
  granNormalize,
  valueAndInputGradient,
  type Critic,
  type ScalarField,
  type ValueAndGradNorm,
  type GnOptions,
  type GranOptions,
} from './gan/gradnorm.js';
export {
  GanTrainer,
  GAN_DEFAULTS,
  GAN_LOSSES,
  LIPSCHITZ_METHODS,
  type GanArchitecture,
  type GanConfig,
  type GanLoss,
  type LipschitzMethod,
  type DataSampler,
  type StepStats,
} from './gan/trainer.js';
export {
  ConvCritic,
  ConvGenerator,
  type ConvCriticOptions,
  type ConvGeneratorOptions,
  type GanNet,
  type ImageShape,
  type NetActivation,
} from './gan/nets.js';
export { toy, TOY_NAMES, type Toy, type ToyName, type ToyMetrics } from './gan/toys.js';
export { FeatureClassifier, featureStats, frechetDistance, type FeatureStats } from './gan/fid.js';
export { SpectralNormalization, type SpectralNormalizationArgs } from './nn/spectral-norm.js';

// 4. ChildTuning.
export {
  childTuning,
  ChildTuningOptimizer,
  ChildTuningAdamW,
  Masker,
  CHILD_TUNING_MODES,
  type ChildTuningMode,
  type ChildTuningOptions,
} from './childtuning/optimizer.js';
export { fisherInformation, type FisherOptions, type NamedVariables } from './childtuning/fisher.js';
export {
  bernoulliMask,
  fisherMask,
  fisherMaskAsync,
  keptFraction,
  keptFractionAsync,
  encoderBlocks,
  type FisherMaskOptions,
  type NameFilter,
} from './childtuning/masks.js';
export { TextClassifier, top1Accuracy, type ClassifierConfig } from './childtuning/classifier.js';
export {
  finetuneClassifier,
  type ChildTuningSetting,
  type FinetuneOptions,
  type FinetuneEpoch,
  type FinetuneResult,
} from './childtuning/finetune.js';
export { fewShot, type LabelledText } from './childtuning/data.js';

// 5. VAE density estimation and the IWAE.
export {
  VAE,
  type VAEOptions,
  type Likelihood,
  type DecoderVariance,
  type Noise,
  type WeightHooks,
} from './density/vae.js';
export { VAEModel, paperConfig, type VAEConfig } from './density/build.js';
export { Mlp, type MlpOptions, type Net } from './density/nets.js';
export {
  bound,
  objectiveLoss,
  objectiveTensors,
  type Objective,
  type Estimator,
  type ObjectiveOptions,
} from './density/objectives.js';
export {
  logLikelihood,
  boundsByK,
  type LikelihoodOptions,
  type LikelihoodResult,
  type DataInput,
} from './density/likelihood.js';
export { activeUnits, activeUnitsAsync } from './density/units.js';
export { binarize, binarizeFixed, logitMean, perturb } from './density/data.js';
export { auroc, likelihoodRatio } from './density/ood.js';
export {
  VAETrainer,
  paperLearningRate,
  PAPER_EPOCHS,
  type TrainerOptions,
  type EpochStats,
  type OnBatch,
  type Binarization,
} from './density/trainer.js';
export { saveVAE, loadVAE, vaeArtifacts, vaeFromArtifacts, VAE_FORMAT } from './density/io.js';

// 6. Input- vs parameter-gradient penalties.
export {
  inputGradientPenalty,
  parameterGradientPenalty,
  type InputPenaltyOptions,
  type PenaltyOptions,
  type PenaltyParameters,
} from './penalty/penalties.js';
export {
  trainStep,
  type TrainStepOptions,
  type TrainStepResult,
  type PerSampleLoss,
  type LossName,
} from './penalty/train-step.js';
export {
  gradientPenaltyInequality,
  gradientPenaltyInequalityAsync,
  gradientPenaltyInequalityBatch,
  gradientPenaltyInequalityBatchAsync,
  type InequalityModel,
  type InequalityResult,
  type LayerTerms,
} from './penalty/inequality.js';
export { inequalitySurvey, type RatioSummary } from './penalty/property.js';

// 7. Entropy-invariant attention scale and length extrapolation.
export {
  logNScale,
  logNScaleTensor,
  logNFactor,
  SCALE_AT,
  type LogNOptions,
  type ScaleAt,
} from './attention/scale.js';
export {
  scaledRope,
  scaledRopeTables,
  ntkBase,
  dynamicNtkAlpha,
  ROPE_SCALINGS,
  type RopeScaling,
} from './attention/rope.js';
export {
  attentionEntropy,
  attentionEntropyAsync,
  rowEntropy,
  type AttentionEntropy,
  type EntropyBatch,
  type EntropyCurve,
} from './attention/entropy.js';
export {
  withInferenceSettings,
  mlmByLength,
  mlmByLengthAsync,
  type InferenceSettings,
  type MlmEvalOptions,
  type LengthResult,
} from './attention/extrapolation.js';

// 8. CoSENT and sentence embeddings.
export {
  cosentLoss,
  cosentFromCosines,
  type CosentOptions,
  type CosentMethod,
  type Labels,
} from './cosent/loss.js';
export {
  CoSENTLoss,
  SoftmaxLoss,
  CosineMSELoss,
  type PairObjective,
  type ObjectiveName,
} from './cosent/objectives.js';
export { SentenceEncoder, type SentenceConfig } from './cosent/sentence-model.js';
export {
  cosineSimilarity,
  semanticSearch,
  semanticSearchAsync,
  type SearchOptions,
  type SentenceEncodeOptions,
  type Embeddings,
  type SearchHit,
} from './cosent/similarity.js';
export { spearman, pearson } from './cosent/spearman.js';
export {
  trainSentenceEncoder,
  evaluatePairs,
  type TrainOptions,
  type EpochRecord,
  type SentenceTrainingState,
  type TrainResult,
  type SentenceEmbedder,
  type SentenceModel,
} from './cosent/trainer.js';
export type { SentencePair } from './io/sts.js';
export { renderModelCard, type ModelCard } from './util/model-card.js';

// Hugging Face BERT checkpoints (safetensors) in and out.
export {
  loadHuggingFaceBertFrom,
  hfUrlReader,
  huggingFaceBertFiles,
  type HfFileReader,
  type HfFiles,
  type HfSource,
  type LoadedHfBert,
  type HfExportable,
  type HfExportOptions,
} from './hf/load.js';
export {
  encoderConfigFromHf,
  hfConfigFromEncoder,
  HF_MODEL_TYPES,
  type HfBertConfig,
  type HfModelType,
} from './hf/config.js';
export { parseSafetensors, encodeSafetensors, type SafeTensor } from './hf/safetensors.js';
export { hfTokenizer, hfTokenizerConfig, type HfTokenizerFiles } from './hf/tokenizer.js';
