/**
 * Learning-rate schedules: linear warmup to `peak`, then linear or cosine decay to `min` at
 * `totalSteps` (constant after). Steps count from 0; warmup step s uses peak·(s+1)/warmup, so the
 * first update is not wasted on a zero learning rate and step warmup−1 reaches the peak.
 */
import type * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { InputError } from '../io/errors.js';

/** How the rate falls from `peak` to `min` after warmup ('constant' stays at `peak`). */
export type DecayKind = 'linear' | 'cosine' | 'constant';

/** `warmupSchedule`'s options; steps count optimizer updates (batches), from 0. */
export interface ScheduleOptions {
  /** The rate reached at the end of warmup. */
  peak: number;
  /** Steps of linear warmup from peak/warmupSteps up to peak (0: none). */
  warmupSteps: number;
  /** The step at which the decay reaches `min`; the rate stays there afterwards. */
  totalSteps: number;
  /** Default 'linear'. */
  decay?: DecayKind;
  /** Final learning rate (default 0). */
  min?: number;
}

/** A learning rate as a function of the global step (0-based). */
export type Schedule = (step: number) => number;

/**
 * Linear warmup to `peak` over `warmupSteps` steps (step s gives peak·(s+1)/warmupSteps), then a linear or
 * cosine decay to `min` at `totalSteps`, as in BERT fine-tuning.
 *
 * @example
 * const lr = warmupSchedule({ peak: 1e-3, warmupSteps: 100, totalSteps: 1000, decay: 'cosine' });
 * lr(0); // 1e-5
 * lr(99); // 1e-3
 * lr(1000); // 0
 */
export function warmupSchedule(opts: ScheduleOptions): Schedule {
  const { peak, warmupSteps, totalSteps } = opts;
  const decay = opts.decay ?? 'linear';
  const min = opts.min ?? 0;
  if (!(peak >= 0) || !(warmupSteps >= 0) || !(totalSteps >= warmupSteps)) {
    throw new InputError(
      `needs peak ≥ 0 and 0 ≤ warmupSteps ≤ totalSteps, got peak ${peak}, warmup ${warmupSteps}, total ${totalSteps}`,
      'schedule',
    );
  }
  if (!['linear', 'cosine', 'constant'].includes(decay))
    throw new InputError(`decay must be 'linear', 'cosine' or 'constant', got '${decay}'`, 'schedule');
  if (!(min >= 0 && min <= peak)) throw new InputError(`min must be in [0, peak], got ${min}`, 'schedule');
  return (step: number): number => {
    if (step < warmupSteps) return (peak * (step + 1)) / warmupSteps;
    if (decay === 'constant') return peak;
    const span = totalSteps - warmupSteps;
    const p = span <= 0 ? 1 : Math.min(1, Math.max(0, (step - warmupSteps) / span));
    const f = decay === 'linear' ? 1 - p : 0.5 * (1 + Math.cos(Math.PI * p));
    return min + (peak - min) * f;
  };
}

/** Options of `LearningRateScheduler`. */
export interface SchedulerOptions {
  /** The step count to start from (e.g. when resuming); default 0. */
  initialStep?: number;
}

/** Sets an optimizer's learning rate: `setLearningRate` (SGD, momentum) or the `learningRate` field. */
export function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  const o = optimizer as unknown as { setLearningRate?: (lr: number) => void; learningRate?: unknown };
  if (typeof o.setLearningRate === 'function') o.setLearningRate(lr);
  else if (typeof o.learningRate === 'number') o.learningRate = lr;
  else
    throw new InputError(
      `${optimizer.getClassName()} has no settable learning rate (setLearningRate or a numeric learningRate)`,
      'optimizer',
    );
}

/**
 * A `model.fit` callback that sets the compiled optimizer's learning rate before every batch from a
 * schedule of the global step (batches since the start of training, across epochs). Works with kexue's
 * `AdamW` and the `tf.train` optimizers. The rate of the last batch is in `scheduler.lastRate`.
 *
 * @example
 * model.compile({ optimizer: new AdamW({ learningRate: 1e-3 }), loss: 'meanSquaredError' });
 * const scheduler = new LearningRateScheduler((step) => (step < 100 ? 1e-3 : 1e-4));
 * await model.fit(x, y, { epochs: 3, batchSize: 32, callbacks: [scheduler] });
 * scheduler.lastRate; // 1e-4 once past step 100
 */
export class LearningRateScheduler extends tfl.Callback {
  /** The next batch's global step. */
  step: number;
  lastRate = NaN;

  constructor(
    readonly schedule: Schedule,
    opts: SchedulerOptions = {},
  ) {
    super();
    if (typeof schedule !== 'function') throw new InputError('must be a function step → rate', 'schedule');
    const initial = opts.initialStep ?? 0;
    if (!Number.isInteger(initial) || initial < 0)
      throw new InputError(`initialStep must be an integer ≥ 0, got ${initial}`, 'options');
    this.step = initial;
  }

  override async onBatchBegin(): Promise<void> {
    const optimizer = this.model.optimizer;
    if (!optimizer) throw new InputError('the model has no optimizer: call model.compile first', 'model');
    const lr = this.schedule(this.step);
    if (!(Number.isFinite(lr) && lr >= 0))
      throw new InputError(`gave ${lr} at step ${this.step}; rates must be finite and ≥ 0`, 'schedule');
    setLearningRate(optimizer, lr);
    this.lastRate = lr;
  }

  override async onBatchEnd(): Promise<void> {
    this.step++;
  }
}

/**
 * A `LearningRateScheduler` for `warmupSchedule(opts)`: linear warmup, then linear/cosine decay.
 * `initialStep` resumes the schedule part-way (e.g. after loading a checkpoint).
 *
 * @example
 * model.compile({ optimizer: new AdamW({ learningRate: 1e-3 }), loss: 'meanSquaredError' });
 * const steps = 3 * Math.ceil(x.shape[0] / 32); // epochs × batches per epoch
 * await model.fit(x, y, { epochs: 3, batchSize: 32,
 *   callbacks: [warmupCallback({ peak: 1e-3, warmupSteps: Math.ceil(steps / 10), totalSteps: steps })] });
 */
export function warmupCallback(opts: ScheduleOptions & SchedulerOptions): LearningRateScheduler {
  const { initialStep, ...schedule } = opts;
  return new LearningRateScheduler(warmupSchedule(schedule), { initialStep });
}
