/**
 * A GAN trainer with interchangeable Lipschitz methods and losses (for the comparison in Su's note
 * https://kexue.fm/archives/8757 and Wu et al. 2021):
 *
 *   lipschitz  none | clip (weight clipping to ±c, WGAN) | gp (λ·E(‖∇D(x̂)‖ − 1)², x̂ between real and
 *              fake, WGAN-GP) | sn (spectral normalisation) | gn (gradient normalisation, double backprop
 *              for both players) | gn-fast (GN with the generator-side rescaling: exact for piecewise-
 *              linear critics, no double backprop in the generator step) | gran (GraN-GAN)
 *   loss       wasserstein: L_D = E D(fake) − E D(real),            L_G = −E D(fake)
 *              hinge:       L_D = E relu(1 − D(real)) + E relu(1 + D(fake)), L_G = −E D(fake)
 *              ns:          L_D = E softplus(−D(real)) + E softplus(D(fake)), L_G = E softplus(−D(fake))
 *
 * with D the critic after its Lipschitz wrapping. n_dis critic steps per generator step, Adam with
 * configurable betas for both, and an exponential moving average of the generator's weights used for
 * sampling when `emaDecay` > 0.
 */
import * as tf from '@tensorflow/tfjs-core';
import { DivergenceError } from '../io/errors.js';
import { readBackAsync, readBackSync } from '../util/read-back.js';
import { Rng } from '../util/rng.js';
import { inputGradientPenalty, interpolate } from '../penalty/penalties.js';
import { gradientNormalize, gradientNormalizeForGenerator, granNormalize } from './gradnorm.js';
import {
  ConvCritic,
  ConvGenerator,
  MlpNet,
  type GanNet,
  type ImageShape,
  type NetActivation,
} from './nets.js';

/** How the critic is kept Lipschitz (see the file header). */
export type LipschitzMethod = 'none' | 'clip' | 'gp' | 'sn' | 'gn' | 'gn-fast' | 'gran';
/** Every `LipschitzMethod`, in the order of the comparison tables. */
export const LIPSCHITZ_METHODS: readonly LipschitzMethod[] = [
  'none',
  'clip',
  'gp',
  'sn',
  'gn',
  'gn-fast',
  'gran',
];
/** The GAN losses (see the file header for L_D and L_G). */
export type GanLoss = 'wasserstein' | 'hinge' | 'ns';
/** Every `GanLoss`. */
export const GAN_LOSSES: readonly GanLoss[] = ['wasserstein', 'hinge', 'ns'];

/** The networks' kind: MLPs, or DCGAN-style convolutional nets for images (see `ConvCritic`). */
export type GanArchitecture = 'mlp' | 'conv';

/** `GanTrainer`'s settings: the two networks, the loss, the Lipschitz method and two Adam optimizers. */
export interface GanConfig {
  /** Width of a data row (2 for the toys, 784 for MNIST). */
  dataDim: number;
  /** MLPs, or convolutional nets reading and writing rows as `image`. */
  architecture: GanArchitecture;
  /** [height, width, channels] of a row, for the convolutional nets (height·width·channels = dataDim). */
  image?: ImageShape;
  /** Width of the generator's Gaussian noise input. */
  zDim: number;
  /**
   * Hidden layer widths of the generator (ReLU); for conv, the channels of its feature maps from the
   * smallest up (`ConvGenerator`'s `channels`).
   */
  genHidden: number[];
  /** Hidden layer widths of the critic; for conv, the channels of its stride-2 convs (`ConvCritic`'s). */
  criticHidden: number[];
  /** Generator output activation (tanh for images in [−1, 1], linear for toys). */
  genOut: NetActivation;
  criticActivation: NetActivation;
  lipschitz: LipschitzMethod;
  loss: GanLoss;
  /** Critic steps per generator step. */
  nDis: number;
  /** Adam learning rate of the generator. */
  lrG: number;
  /** Adam learning rate of the critic. */
  lrD: number;
  /** Adam β₁ of both optimizers. */
  beta1: number;
  /** Adam β₂ of both optimizers. */
  beta2: number;
  /** Samples per batch, real and fake alike. */
  batchSize: number;
  /** Weight clipping bound c (clip). */
  clip: number;
  /** λ of the gradient penalty (gp). */
  gpWeight: number;
  /** ε of GraN. */
  granEpsilon: number;
  /** EMA decay of the generator's weights (0: off). */
  emaDecay: number;
  /** Seeds the initial weights and the noise. */
  seed: number;
}

/** `GanTrainer`'s defaults for everything but `dataDim`: a hinge-loss GN-GAN for the 2-D toys. */
export const GAN_DEFAULTS: Omit<GanConfig, 'dataDim'> = {
  architecture: 'mlp',
  zDim: 2,
  genHidden: [128, 128],
  criticHidden: [128, 128],
  genOut: 'linear',
  criticActivation: 'relu',
  lipschitz: 'gn',
  loss: 'hinge',
  nDis: 1,
  lrG: 2e-4,
  lrD: 2e-4,
  beta1: 0.5,
  beta2: 0.9,
  batchSize: 128,
  clip: 0.01,
  gpWeight: 10,
  granEpsilon: 1e-4,
  emaDecay: 0,
  seed: 0,
};

/** Real data: a batch of n rows, row-major [n, dataDim]. */
export type DataSampler = (n: number, rng: Rng) => Float32Array;

/** One `GanTrainer.step`'s losses (the last critic step's and the generator step's) and time. */
export interface StepStats {
  lossD: number;
  lossG: number;
  /** Wall-clock milliseconds of this iteration (n_dis critic steps + one generator step). */
  ms: number;
}

function criticLoss(loss: GanLoss, real: tf.Tensor, fake: tf.Tensor): tf.Scalar {
  switch (loss) {
    case 'wasserstein':
      return tf.sub(tf.mean(fake), tf.mean(real)) as tf.Scalar;
    case 'hinge':
      return tf.add(tf.mean(tf.relu(tf.sub(1, real))), tf.mean(tf.relu(tf.add(1, fake)))) as tf.Scalar;
    case 'ns':
      return tf.add(tf.mean(tf.softplus(tf.neg(real))), tf.mean(tf.softplus(fake))) as tf.Scalar;
  }
}

function generatorLoss(loss: GanLoss, fake: tf.Tensor): tf.Scalar {
  return (loss === 'ns' ? tf.mean(tf.softplus(tf.neg(fake))) : tf.neg(tf.mean(fake))) as tf.Scalar;
}

/**
 * Trains a generator against a critic (MLPs, or convolutional nets with `architecture: 'conv'`) with
 * the configured loss and Lipschitz method (see the file header); everything not given comes from
 * `GAN_DEFAULTS`. Call `dispose` when done.
 *
 * @example
 * const ring = toy('8gaussians');
 * const gan = new GanTrainer({ dataDim: 2, lipschitz: 'gn', loss: 'hinge' });
 * for (let i = 0; i < 2000; i++) gan.step((n, rng) => ring.sample(n, rng)); // → { lossD, lossG, ms }
 * ring.metrics(gan.sample(2000), 2000); // { covered, modes: 8, highQuality }
 * gan.dispose();
 * // A convolutional GAN on 28×28 images in [−1, 1]:
 * const conv = new GanTrainer({ dataDim: 784, architecture: 'conv', image: [28, 28, 1], zDim: 64,
 *   genHidden: [128, 64], criticHidden: [64, 128], genOut: 'tanh', criticActivation: 'leakyRelu' });
 * conv.dispose();
 */
export class GanTrainer {
  readonly config: GanConfig;
  readonly generator: GanNet;
  readonly critic: GanNet;
  /** EMA copy of the generator (same architecture), when emaDecay > 0. */
  readonly emaGenerator?: GanNet;
  private readonly optG: tf.Optimizer;
  private readonly optD: tf.Optimizer;
  private readonly rng: Rng;
  private steps = 0;

  constructor(config: Partial<GanConfig> & { dataDim: number }) {
    this.config = { ...GAN_DEFAULTS, ...config };
    const c = this.config;
    this.rng = new Rng(c.seed);
    const { generator, critic } = GanTrainer.nets(c);
    this.generator = generator(new Rng(c.seed * 7919 + 1));
    this.critic = critic(new Rng(c.seed * 7919 + 2));
    if (c.emaDecay > 0) {
      this.emaGenerator = generator(new Rng(c.seed * 7919 + 1));
      this.copyToEma(1);
    }
    this.optG = tf.train.adam(c.lrG, c.beta1, c.beta2);
    this.optD = tf.train.adam(c.lrD, c.beta1, c.beta2);
  }

  /** Builders of the configured generator and critic, each from its own seed. */
  private static nets(c: GanConfig): { generator: (rng: Rng) => GanNet; critic: (rng: Rng) => GanNet } {
    const spectral = c.lipschitz === 'sn';
    if (c.architecture === 'mlp') {
      const g = {
        dims: [c.zDim, ...c.genHidden, c.dataDim],
        activation: 'relu' as const,
        outActivation: c.genOut,
      };
      const d = { dims: [c.dataDim, ...c.criticHidden, 1], activation: c.criticActivation, spectral };
      return { generator: (rng) => new MlpNet(g, rng), critic: (rng) => new MlpNet(d, rng) };
    }
    const image = c.image;
    if (!image || image[0] * image[1] * image[2] !== c.dataDim)
      throw new Error(
        `a conv GAN needs image [height, width, channels] with height·width·channels = dataDim (${c.dataDim}), got ${image ? `[${image.join(', ')}]` : 'none'}`,
      );
    const g = { zDim: c.zDim, image, channels: c.genHidden, outActivation: c.genOut };
    const d = { image, channels: c.criticHidden, activation: c.criticActivation, spectral };
    return { generator: (rng) => new ConvGenerator(g, rng), critic: (rng) => new ConvCritic(d, rng) };
  }

  /** The critic's output after the Lipschitz wrapping used by the losses, shape [n]. */
  wrappedCritic(): (x: tf.Tensor) => tf.Tensor {
    const raw = (x: tf.Tensor) => tf.reshape(this.critic.apply(x), [-1]);
    switch (this.config.lipschitz) {
      case 'gn':
      case 'gn-fast':
        return gradientNormalize(raw);
      case 'gran':
        return granNormalize(raw, { epsilon: this.config.granEpsilon });
      default:
        return raw;
    }
  }

  private noise(n: number): tf.Tensor2D {
    const z = new Float32Array(n * this.config.zDim);
    for (let i = 0; i < z.length; i++) z[i] = this.rng.normal();
    return tf.tensor2d(z, [n, this.config.zDim]);
  }

  /** One critic update; returns its loss, not read back. */
  private criticStep(data: DataSampler): tf.Scalar {
    const c = this.config;
    const n = c.batchSize;
    if (c.lipschitz === 'sn') this.critic.powerIteration();
    const D = this.wrappedCritic();
    const value = tf.tidy(() => {
      const real = tf.tensor2d(data(n, this.rng), [n, c.dataDim]);
      const fake = this.generator.apply(this.noise(n));
      const vars = this.critic.trainableVariables();
      const { value: v, grads } = tf.variableGrads(() => {
        let l = criticLoss(c.loss, D(real), D(fake));
        if (c.lipschitz === 'gp') {
          const xh = interpolate(real, fake, this.rng);
          l = tf.add(l, inputGradientPenalty(D, xh, { weight: c.gpWeight, center: 1 }));
        }
        return l;
      }, vars);
      this.optD.applyGradients(grads);
      return v;
    });
    if (c.lipschitz === 'clip') {
      tf.tidy(() => {
        for (const v of this.critic.trainableVariables()) v.assign(tf.clipByValue(v, -c.clip, c.clip));
      });
    }
    return value;
  }

  /** One generator update; returns its loss, not read back. */
  private generatorStep(): tf.Scalar {
    const c = this.config;
    const n = c.batchSize;
    const raw = (x: tf.Tensor) => tf.reshape(this.critic.apply(x), [-1]);
    // gn-fast: the generator sees f̂ through the single-backprop surrogate (exact for ReLU critics).
    const D = c.lipschitz === 'gn-fast' ? gradientNormalizeForGenerator(raw) : this.wrappedCritic();
    return tf.tidy(() => {
      const z = this.noise(n);
      const vars = this.generator.trainableVariables();
      const { value, grads } = tf.variableGrads(
        () => generatorLoss(c.loss, D(this.generator.apply(z))),
        vars,
      );
      this.optG.applyGradients(grads);
      return value;
    });
  }

  private copyToEma(rate: number): void {
    if (!this.emaGenerator) return;
    const src = this.generator.trainableVariables();
    const dst = this.emaGenerator.trainableVariables();
    tf.tidy(() => dst.forEach((d, i) => d.assign(tf.add(tf.mul(d, 1 - rate), tf.mul(src[i], rate)))));
  }

  /** One iteration: n_dis critic steps, one generator step, EMA update. */
  step(data: DataSampler): StepStats {
    return readBackSync(this.stepWork(data));
  }

  /**
   * As `step`, reading the losses with `await data()` instead of `dataSync()`, so a browser page stays
   * responsive on webgl/webgpu.
   */
  stepAsync(data: DataSampler): Promise<StepStats> {
    return readBackAsync(this.stepWork(data));
  }

  /** The iteration's updates, then one read-back of all its losses (yielded), checked for divergence. */
  private *stepWork(data: DataSampler): Generator<tf.Tensor, StepStats, ArrayLike<number>> {
    const t0 = performance.now();
    const losses: tf.Scalar[] = [];
    let all: tf.Tensor | undefined;
    try {
      for (let k = 0; k < this.config.nDis; k++) losses.push(this.criticStep(data));
      losses.push(this.generatorStep());
      all = tf.stack(losses);
      const values = yield all;
      const lossD = values[this.config.nDis - 1];
      const lossG = values[this.config.nDis];
      for (let k = 0; k < this.config.nDis; k++)
        if (!Number.isFinite(values[k])) throw new DivergenceError('the critic loss', this.steps + 1);
      if (!Number.isFinite(lossG)) throw new DivergenceError('the generator loss', this.steps + 1);
      this.steps++;
      if (this.emaGenerator) this.copyToEma(1 - this.config.emaDecay);
      return { lossD, lossG, ms: performance.now() - t0 };
    } finally {
      tf.dispose([...losses, ...(all ? [all] : [])]);
    }
  }

  get iterations(): number {
    return this.steps;
  }

  /** n generated samples (from the EMA generator when enabled), row-major [n, dataDim]. */
  sample(n: number, chunk = 1000): Float32Array {
    return readBackSync(this.sampleWork(n, chunk));
  }

  /** As `sample`, reading each chunk with `await data()`. */
  sampleAsync(n: number, chunk = 1000): Promise<Float32Array> {
    return readBackAsync(this.sampleWork(n, chunk));
  }

  private *sampleWork(n: number, chunk: number): Generator<tf.Tensor, Float32Array, ArrayLike<number>> {
    const g = this.emaGenerator ?? this.generator;
    const out = new Float32Array(n * this.config.dataDim);
    for (let i = 0; i < n; i += chunk) {
      const m = Math.min(chunk, n - i);
      const x = tf.tidy(() => g.apply(this.noise(m)));
      try {
        out.set(yield x, i * this.config.dataDim);
      } finally {
        x.dispose();
      }
    }
    return out;
  }

  dispose(): void {
    this.generator.dispose();
    this.critic.dispose();
    this.emaGenerator?.dispose();
    this.optG.dispose();
    this.optD.dispose();
  }
}
