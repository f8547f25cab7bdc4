/**
 * Every experiment `kexue lab` runs, in report order. To add one: import it and add one entry below.
 */
import type { ClaimSummary, Experiment, ExperimentResult } from './types.js';
import { canExperiment } from './can.js';
import { initExperiment } from './init.js';
import { ganConvExperiment, ganExperiment } from './gan.js';
import { gradpenaltyExperiment } from './gradpenalty.js';
import { cosentExperiment } from './cosent.js';
import { densityExperiment } from './density.js';
import { densityOrderExperiment } from './density-order.js';
import { attentionExperiment } from './attention.js';
import { childtuningExperiment } from './childtuning.js';

export const experiments: Experiment[] = [
  canExperiment,
  initExperiment,
  ganExperiment,
  ganConvExperiment,
  gradpenaltyExperiment,
  cosentExperiment(),
  densityExperiment(),
  densityOrderExperiment(),
  attentionExperiment,
  childtuningExperiment(),
];

/** The verdict-table row of a result, from its experiment's `summarize` (undefined for unknown names). */
export function summarizeResult(r: ExperimentResult): ClaimSummary | undefined {
  return experiments.find((e) => e.name === r.name)?.summarize?.(r);
}
