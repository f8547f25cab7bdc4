/**
 * Every experiment `kexue lab` runs, in report order. To add one: import it and add one entry below.
 */
import type { Experiment } from './types.js';
import { canExperiment } from './can.js';

export const experiments: Experiment[] = [canExperiment];
