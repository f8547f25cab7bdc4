/**
 * Training a VAE/IWAE on image data with the paper's recipe (yburda/iwae `experiments.py`): Adam with
 * ε = 1e-4, minibatches of 20, dynamic binarization of every minibatch, and the learning-rate schedule
 * of 8 stages where stage i lasts 3^(i−1) epochs at 1e-3·10^(−(i−1)/7) (3,280 epochs in all). For a
 * shorter run the same stages are compressed proportionally (`paperLearningRate(progress)`).
 * Every random choice of epoch e (shuffle, binarization, noise) is derived from (seed, e), so a run
 * resumed from an epoch checkpoint continues exactly as the uninterrupted run would.
 */
import * as tf from '@tensorflow/tfjs-core';
import { DivergenceError } from '../io/errors.js';
import { AdamW } from '../nn/optim.js';
import { Rng } from '../util/rng.js';
import { binarizeFixed, gatherRows } from './data.js';
import { bernoulli } from '../nn/random.js';
import { readBackAsync, readBackSync } from '../util/read-back.js';
import { checkValues } from './likelihood.js';
import { objectiveTensors, type Estimator, type Objective } from './objectives.js';
import type { VAE } from './vae.js';

const STAGE_EPOCHS = [1, 3, 9, 27, 81, 243, 729, 2187];
/** Epochs of the paper's full schedule: Σ 3^(i−1), i = 1..8. */
export const PAPER_EPOCHS = STAGE_EPOCHS.reduce((a, b) => a + b, 0);

/**
 * The paper's learning rate at `progress` ∈ [0, 1] of training: 1e-4 · round(10^(1 − (i−1)/7), 1) in
 * stage i, the stages taking 1, 3, 9, …, 2187 of 3280 parts of training.
 *
 * @example
 * paperLearningRate(0); // → 1e-3
 * paperLearningRate(1); // → 1e-4 (the last stage)
 * paperLearningRate(0.5); // → 1e-4: the last stage alone takes 2/3 of training
 */
export function paperLearningRate(progress: number): number {
  const at = Math.min(Math.max(progress, 0), 1) * PAPER_EPOCHS;
  let end = 0;
  let i = 0;
  for (; i < STAGE_EPOCHS.length - 1; i++) {
    end += STAGE_EPOCHS[i];
    if (at < end) break;
  }
  return 1e-4 * (Math.round(10 * 10 ** (1 - i / 7)) / 10);
}

/** How `VAETrainer` binarizes training data (see `TrainerOptions.binarization`). */
export type Binarization = 'dynamic' | 'fixed' | 'none';

/** Settings of `VAETrainer`; defaults are the paper's (batch 20, Adam ε 1e-4, its learning-rate schedule). */
export interface TrainerOptions {
  objective: Objective;
  k: number;
  estimator?: Estimator;
  /** Minibatch size (paper: 20). */
  batchSize?: number;
  /** Epochs the run will take; the schedule is compressed to fit them. */
  epochs: number;
  /** A fixed rate, or a function of progress ∈ [0, 1]; default `paperLearningRate`. */
  learningRate?: number | ((progress: number) => number);
  beta1?: number;
  beta2?: number;
  /** Adam ε (paper: 1e-4). */
  epsilon?: number;
  /** 'dynamic' (default): a fresh Bernoulli draw per minibatch; 'fixed': one draw of the set; 'none': as given. */
  binarization?: Binarization;
  seed?: number;
}

/** `VAETrainer.trainEpoch`'s progress callback: the running mean bound after `batch` of `batches`. */
export type OnBatch = (runningBound: number, batch: number, batches: number) => void;

/** What `VAETrainer.trainEpoch` returns. */
export interface EpochStats {
  epoch: number;
  /** Mean training bound over the epoch's minibatches (nats; the ELBO for 'vae', L_k for 'iwae'). */
  bound: number;
  seconds: number;
}

/**
 * Trains a VAE on a row-major [n, dataDim] array of intensities in [0, 1] (or real values for 'none'),
 * with the paper's recipe (see the file header). The VAE stays the caller's; `dispose()` frees only the
 * optimizer state.
 *
 * @example
 * const v = VAEModel.build(paperConfig(1), { seed: 1, outputBias: logitMean(images, 784) });
 * const trainer = new VAETrainer(v, images, { objective: 'iwae', k: 5, epochs: 100 });
 * for (let e = 0; e < 100; e++) console.log(trainer.trainEpoch().bound); // mean training L₅, nats
 * trainer.dispose();
 */
export class VAETrainer {
  readonly optimizer: AdamW;
  /** Epochs completed. */
  epoch = 0;
  private readonly o: Required<Omit<TrainerOptions, 'learningRate'>> & {
    learningRate: (p: number) => number;
  };
  private readonly params: Map<string, tf.Variable>;
  private readonly data: Float32Array;
  readonly n: number;

  constructor(
    readonly vae: VAE,
    data: Float32Array,
    opts: TrainerOptions,
    params?: Map<string, tf.Variable>,
  ) {
    const lr = opts.learningRate ?? paperLearningRate;
    this.o = {
      estimator: 'standard',
      batchSize: 20,
      beta1: 0.9,
      beta2: 0.999,
      epsilon: 1e-4,
      binarization: 'dynamic',
      seed: 0,
      ...opts,
      learningRate: typeof lr === 'number' ? () => lr : lr,
    };
    if (!Number.isInteger(this.o.epochs) || this.o.epochs < 1)
      throw new Error(`epochs must be a positive integer, got ${opts.epochs}`);
    if (!Number.isInteger(this.o.batchSize) || this.o.batchSize < 1)
      throw new Error(`batchSize must be a positive integer, got ${opts.batchSize}`);
    this.n = data.length / vae.dataDim;
    if (!Number.isInteger(this.n) || this.n < 1)
      throw new Error(`data length ${data.length} is not a positive multiple of ${vae.dataDim}`);
    checkValues(vae, data);
    this.data = this.o.binarization === 'fixed' ? binarizeFixed(data, this.o.seed) : data;
    this.params = params ?? new Map(vae.variables.map((v) => [v.name, v]));
    this.optimizer = new AdamW(this.params, {
      beta1: this.o.beta1,
      beta2: this.o.beta2,
      epsilon: this.o.epsilon,
      weightDecay: 0,
    });
  }

  /** Minibatches per epoch (the last, smaller one included). */
  get batchesPerEpoch(): number {
    return Math.ceil(this.n / this.o.batchSize);
  }

  /** One update on `x` [B, D] at learning rate `lr`; returns the minibatch's mean bound (nats). */
  step(x: tf.Tensor2D, lr: number, seed: number): number {
    return readBackSync(this.stepWork(x, lr, seed));
  }

  /** As `step`, reading the bound with `await data()` (keeps a browser page responsive on webgl). */
  stepAsync(x: tf.Tensor2D, lr: number, seed: number): Promise<number> {
    return readBackAsync(this.stepWork(x, lr, seed));
  }

  /** The gradients, then the bound read back (yielded) and checked before the update is applied. */
  private *stepWork(
    x: tf.Tensor2D,
    lr: number,
    seed: number,
  ): Generator<tf.Tensor, number, ArrayLike<number>> {
    const vars = [...this.params.values()].filter((v) => v.trainable);
    let boundT: tf.Scalar | undefined;
    const { value, grads } = tf.variableGrads(() => {
      const r = objectiveTensors(this.vae, x, {
        objective: this.o.objective,
        k: this.o.k,
        estimator: this.o.estimator,
        seed,
      });
      boundT = tf.keep(r.bound);
      return r.loss;
    }, vars);
    value.dispose();
    try {
      const bound = (yield boundT!)[0];
      if (!Number.isFinite(bound))
        throw new DivergenceError(`the bound (${bound})`, this.optimizer.iterations + 1);
      const named = new Map<string, tf.Tensor>();
      for (const [name, v] of this.params) if (grads[v.name]) named.set(name, grads[v.name]);
      this.optimizer.step(named, lr);
      return bound;
    } finally {
      boundT!.dispose();
      tf.dispose(Object.values(grads));
    }
  }

  /** Frees the optimizer state (the VAE belongs to the caller). */
  dispose(): void {
    this.optimizer.dispose();
  }

  /** Trains one epoch (shuffled, binarized per minibatch); `onBatch` gets the running mean bound. */
  trainEpoch(onBatch?: OnBatch): EpochStats {
    return readBackSync(this.epochWork(onBatch));
  }

  /** As `trainEpoch`, reading each minibatch's bound with `await data()` instead of `dataSync()`. */
  trainEpochAsync(onBatch?: OnBatch): Promise<EpochStats> {
    return readBackAsync(this.epochWork(onBatch));
  }

  private *epochWork(onBatch?: OnBatch): Generator<tf.Tensor, EpochStats, ArrayLike<number>> {
    const t0 = Date.now();
    const e = this.epoch;
    const rng = new Rng(this.o.seed * 1_000_003 + e * 7_919 + 17);
    const order = rng.shuffle(Array.from({ length: this.n }, (_, i) => i));
    const D = this.vae.dataDim;
    const batches = this.batchesPerEpoch;
    let total = 0;
    let count = 0;
    for (let b = 0; b < batches; b++) {
      const idx = order.slice(b * this.o.batchSize, (b + 1) * this.o.batchSize);
      const raw = tf.tensor2d(gatherRows(this.data, D, idx), [idx.length, D]);
      const x = this.o.binarization === 'dynamic' ? (bernoulli(raw, rng.seed()) as tf.Tensor2D) : raw;
      const progress = (e + b / batches) / this.o.epochs;
      try {
        const bound = yield* this.stepWork(x, this.o.learningRate(progress), rng.seed());
        total += bound * idx.length;
        count += idx.length;
      } finally {
        tf.dispose([raw, x]);
      }
      onBatch?.(total / count, b + 1, batches);
    }
    this.epoch++;
    return { epoch: this.epoch, bound: total / count, seconds: (Date.now() - t0) / 1000 };
  }
}
