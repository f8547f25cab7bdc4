export {
  can,
  CAN_DEFAULTS,
  CAN_MAX_ITERS,
  type CanOptions,
  type CanResult,
  type CanTensorResult,
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
export { priorFromLabels, uniformPrior, normalizePrior } from './prior.js';
export { uncertainties } from './uncertainty.js';
export { canTune, DEFAULT_GRID, type CanGrid, type CanTuneResult } from './tune.js';
export { emPrior, type EmPriorResult } from './em.js';
