export {
  can,
  canAsync,
  CAN_DEFAULTS,
  CAN_MAX_ITERS,
  CAN_ROW_SUM_TOLERANCE,
  type CanOptions,
  type CanCallOptions,
  type CanResult,
  type CanResultOf,
  type CanMatrixResult,
  type CanTensorResult,
  type CanArrayResult,
} from './can.js';
export {
  accuracy,
  topkAccuracy,
  argmaxRow,
  softmaxRows,
  checkProbMatrix,
  checkLabels,
  type ProbMatrix,
} from './matrix.js';
export type { MatrixInput, VectorInput } from '../util/inputs.js';
export { priorFromLabels, uniformPrior, normalizePrior } from './prior.js';
export { uncertainties } from './uncertainty.js';
export {
  canTune,
  canTuneAsync,
  DEFAULT_GRID,
  type CanGrid,
  type CanTuneOptions,
  type CanTuneResult,
} from './tune.js';
export { emPrior, emPriorAsync, type EmPriorOptions, type EmPriorResult } from './em.js';
export { calibration, type CalibrationResult, type CalibrationBin } from './calibration.js';
