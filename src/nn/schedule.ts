/**
 * Learning-rate schedules: linear warmup to `peak`, then linear or cosine decay to `min` at
 * `totalSteps` (constant after). Steps count from 0; warmup step s uses peak·(s+1)/warmup, so the
 * first update is not wasted on a zero learning rate and step warmup−1 reaches the peak.
 */
export type DecayKind = 'linear' | 'cosine' | 'constant';

export interface ScheduleOptions {
  peak: number;
  warmupSteps: number;
  totalSteps: number;
  decay?: DecayKind;
  /** Final learning rate (default 0). */
  min?: number;
}

export type Schedule = (step: number) => number;

export function warmupSchedule(opts: ScheduleOptions): Schedule {
  const { peak, warmupSteps, totalSteps } = opts;
  const decay = opts.decay ?? 'linear';
  const min = opts.min ?? 0;
  if (!(peak >= 0) || !(warmupSteps >= 0) || !(totalSteps >= warmupSteps)) {
    throw new Error(`bad schedule: peak ${peak}, warmup ${warmupSteps}, total ${totalSteps}`);
  }
  return (step: number): number => {
    if (step < warmupSteps) return (peak * (step + 1)) / warmupSteps;
    if (decay === 'constant') return peak;
    const span = totalSteps - warmupSteps;
    const p = span <= 0 ? 1 : Math.min(1, Math.max(0, (step - warmupSteps) / span));
    const f = decay === 'linear' ? 1 - p : 0.5 * (1 + Math.cos(Math.PI * p));
    return min + (peak - min) * f;
  };
}
