/**
 * A variational autoencoder with one or more stochastic layers, built from any TF.js encoders and
 * decoders, and its importance weights.
 *
 * Notation. Su's note (kexue.fm/archives/8791) swaps the usual letters: its q(z) is the fixed prior,
 * q_θ(x|z) the decoder and p_θ(z|x) the encoder used as importance proposal. Here, as in Burda et al.
 * (IWAE, ICLR 2016): p(z) = N(0, I) is the prior, p_θ(x|z) the decoder (Bernoulli logits or a
 * Gaussian), q_φ(z|x) the Gaussian encoder (mean, log-variance). With L stochastic layers
 * x → z₁ → … → z_L the encoder factorises as q(z₁|x)·q(z₂|z₁)… and the generative model as
 * p(z_L)·p(z_{L−1}|z_L)…p(x|z₁). For a sample z⁽ʲ⁾ ~ q(·|x) the log importance weight is
 *   log wⱼ = log p(x, z⁽ʲ⁾) − log q(z⁽ʲ⁾|x),
 * each term summed over pixels and latent dimensions, and E[wⱼ] = p(x), so
 *   log p(x) ≥ E[log (1/k) Σⱼ wⱼ] = L_k   (L₁ is the ELBO; L_k ↑ log p(x) as k → ∞).
 */
import * as tf from '@tensorflow/tfjs-core';
import { stopGradient } from '../grad/stop-gradient.js';
import { applyNet, type Net } from './nets.js';
import { bernoulliLogPmf, gaussianLogPdf, standardNormalLogPdf } from './distributions.js';
import { standardNormal } from '../nn/random.js';

/** The decoder's distribution over x. */
export type Likelihood = 'bernoulli' | 'gaussian';

/**
 * Variance of a Gaussian decoder: a fixed number, one learned log-variance per dimension, or
 * `'output'` when the decoder returns [mean, log-variance] (2·dataDim columns).
 */
export type DecoderVariance = number | 'learned' | 'output';

/** The parts of a `VAE`: sizes, one encoder and one decoder per stochastic layer, and the likelihood. */
export interface VAEOptions {
  /** Width of x. */
  dataDim: number;
  /** Latent widths, bottom-up: [d₁] for one stochastic layer, [d₁, d₂] for two, … */
  latentDims: number[];
  /**
   * encoders[i] maps the layer below (x for i = 0, else z_i) to [mean, log-variance] of z_{i+1}:
   * 2·latentDims[i] columns, means first.
   */
  encoders: Net[];
  /**
   * decoders[0] maps z₁ to the parameters of p(x|z₁): dataDim logits (Bernoulli), dataDim means
   * (Gaussian) or 2·dataDim [mean, log-variance] columns (Gaussian, variance 'output').
   * decoders[i ≥ 1] map z_{i+1} to [mean, log-variance] of p(z_i | z_{i+1}).
   */
  decoders: Net[];
  likelihood?: Likelihood;
  /** Gaussian decoder only; default 'learned'. */
  variance?: DecoderVariance;
  /**
   * Trainable variables of function-style networks. Variables of `tf.LayersModel`s (anything with
   * `trainableWeights`) are collected automatically.
   */
  variables?: tf.Variable[];
  /** Called by `dispose()`, e.g. to free networks the VAE owns. */
  onDispose?: () => void;
}

/** Fixed noise for `logWeights`: one [B, k, d_i] standard-normal tensor per stochastic layer. */
export type Noise = tf.Tensor3D[];

/** Extra hooks used by the DReG estimator (see objectives.ts); not needed for plain bounds. */
export interface WeightHooks {
  /** Applied to each sampled z_i before it enters the densities (identity forward). */
  tap?: (z: tf.Tensor2D) => tf.Tensor2D;
  /** Add Σ log q(z_i | ·) with samples held fixed, which cancels the score-function terms. */
  cancelScore?: boolean;
}

interface LayerVariableLike {
  read(): tf.Variable;
}

function layersVariables(net: Net): tf.Variable[] {
  const w = (net as { trainableWeights?: LayerVariableLike[] }).trainableWeights;
  return Array.isArray(w) ? w.map((v) => v.read()) : [];
}

/**
 * A VAE with one or more stochastic layers over any encoder and decoder networks (see the file header);
 * `logWeights` gives the importance weights every bound and estimate is computed from. For the paper's
 * MLPs with saving, use `VAEModel`.
 *
 * @example
 * const enc = new Mlp({ input: 784, hidden: [200, 200], heads: [50, 50], seed: 1 });
 * const dec = new Mlp({ input: 50, hidden: [200, 200], heads: [784], seed: 2 });
 * const variables = [...enc.trainableVariables(), ...dec.trainableVariables()];
 * const v = new VAE({ dataDim: 784, latentDims: [50], encoders: [enc], decoders: [dec], variables });
 * const logw = v.logWeights(tf.tensor2d(binarizeFixed(images.subarray(0, 8 * 784)), [8, 784]), 5); // [8, 5]
 *
 * @example
 * // tf.LayersModels work too (their variables are found without `variables`):
 * const encoderModel = tf.sequential({
 *   layers: [tf.layers.dense({ inputShape: [784], units: 200, activation: 'tanh' }), tf.layers.dense({ units: 100 })],
 * });
 * const decoderModel = tf.sequential({
 *   layers: [tf.layers.dense({ inputShape: [50], units: 200, activation: 'tanh' }), tf.layers.dense({ units: 784 })],
 * });
 * const vae2 = new VAE({ dataDim: 784, latentDims: [50], encoders: [encoderModel], decoders: [decoderModel] });
 */
export class VAE {
  readonly dataDim: number;
  readonly latentDims: readonly number[];
  readonly likelihood: Likelihood;
  readonly variance: DecoderVariance;
  private readonly encoders: Net[];
  private readonly decoders: Net[];
  /** Per-dimension log-variance of a Gaussian decoder with variance 'learned'. */
  readonly decoderLogVar?: tf.Variable;
  private readonly extraVariables: tf.Variable[];
  private readonly onDispose?: () => void;

  constructor(o: VAEOptions) {
    const L = o.latentDims.length;
    if (!Number.isInteger(o.dataDim) || o.dataDim < 1)
      throw new Error(`dataDim must be a positive integer, got ${o.dataDim}`);
    if (L < 1 || o.latentDims.some((d) => !Number.isInteger(d) || d < 1)) {
      throw new Error(
        `latentDims must be positive integers (one per stochastic layer), got [${o.latentDims}]`,
      );
    }
    if (o.encoders.length !== L || o.decoders.length !== L) {
      throw new Error(
        `need one encoder and one decoder per stochastic layer (${L}), got ${o.encoders.length} and ${o.decoders.length}`,
      );
    }
    this.dataDim = o.dataDim;
    this.latentDims = [...o.latentDims];
    this.likelihood = o.likelihood ?? 'bernoulli';
    if (this.likelihood !== 'bernoulli' && this.likelihood !== 'gaussian') {
      throw new Error(`likelihood must be 'bernoulli' or 'gaussian', got '${String(this.likelihood)}'`);
    }
    this.variance = o.variance ?? 'learned';
    if (typeof this.variance === 'number' && !(this.variance > 0)) {
      throw new Error(`a fixed decoder variance must be > 0, got ${this.variance}`);
    }
    this.encoders = o.encoders;
    this.decoders = o.decoders;
    if (this.likelihood === 'gaussian' && this.variance === 'learned') {
      this.decoderLogVar = tf.variable(tf.zeros([o.dataDim]), true);
    }
    this.extraVariables = o.variables ?? [];
    this.onDispose = o.onDispose;
  }

  /** Every trainable variable: networks' (given or collected from LayersModels) and the decoder variance. */
  get variables(): tf.Variable[] {
    const all = [
      ...this.extraVariables,
      ...this.encoders.flatMap(layersVariables),
      ...this.decoders.flatMap(layersVariables),
      ...(this.decoderLogVar ? [this.decoderLogVar] : []),
    ];
    return [...new Set(all)].filter((v) => v.trainable);
  }

  /** Columns decoders[0] must return. */
  private get decoderCols(): number {
    return this.likelihood === 'gaussian' && this.variance === 'output' ? 2 * this.dataDim : this.dataDim;
  }

  /** Mean and log-variance of q(z_{i+1} | h) for the layer-i encoder. */
  posterior(i: number, h: tf.Tensor2D): { mean: tf.Tensor2D; logVar: tf.Tensor2D } {
    return tf.tidy(() => {
      const d = this.latentDims[i];
      const y = applyNet(this.encoders[i], h, 2 * d, `encoder ${i}`);
      const [mean, logVar] = tf.split(y, 2, 1) as [tf.Tensor2D, tf.Tensor2D];
      return { mean, logVar };
    });
  }

  /** The posterior means of every stochastic layer (layer i+1 at the mean of layer i), e.g. for active units. */
  posteriorMeans(x: tf.Tensor2D): tf.Tensor2D[] {
    this.checkInput(x);
    const out: tf.Tensor2D[] = [];
    let h = x;
    for (let i = 0; i < this.latentDims.length; i++) {
      const { mean, logVar } = this.posterior(i, h);
      logVar.dispose();
      out.push(mean);
      h = mean;
    }
    return out;
  }

  /** Throws unless x is [B, dataDim] float. */
  checkInput(x: tf.Tensor): void {
    if (x.rank !== 2 || x.shape[1] !== this.dataDim) {
      throw new Error(`x must have shape [batch, ${this.dataDim}], got [${x.shape.join(', ')}]`);
    }
  }

  /** log p(x | z₁) summed over pixels: x [B, D], z₁ [B·k, d₁] → [B, k]. */
  private logLikelihood(x: tf.Tensor2D, z1: tf.Tensor2D, k: number): tf.Tensor2D {
    return tf.tidy(() => {
      const B = x.shape[0];
      const D = this.dataDim;
      const out = applyNet(this.decoders[0], z1, this.decoderCols, 'decoder 0');
      const xs = tf.reshape(x, [B, 1, D]);
      if (this.likelihood === 'bernoulli')
        return bernoulliLogPmf(xs, tf.reshape(out, [B, k, D])) as tf.Tensor2D;
      if (this.variance === 'output') {
        const [mean, logVar] = tf.split(out, 2, 1);
        return gaussianLogPdf(xs, tf.reshape(mean, [B, k, D]), tf.reshape(logVar, [B, k, D])) as tf.Tensor2D;
      }
      const logVar = this.decoderLogVar ?? Math.log(this.variance as number);
      return gaussianLogPdf(xs, tf.reshape(out, [B, k, D]), logVar) as tf.Tensor2D;
    });
  }

  /**
   * log wⱼ = log p(x, z⁽ʲ⁾) − log q(z⁽ʲ⁾ | x) for k samples per datapoint: x [B, dataDim] → [B, k],
   * summed over pixels and latent dimensions. Row b holds datapoint b's k weights.
   * `noise` fixes the standard-normal draws (for tests and chunk-exact comparisons); else `seed`.
   */
  logWeights(
    x: tf.Tensor2D,
    k: number,
    opts: { noise?: Noise; seed?: number; hooks?: WeightHooks } = {},
  ): tf.Tensor2D {
    this.checkInput(x);
    if (!Number.isInteger(k) || k < 1) throw new Error(`k must be a positive integer, got ${k}`);
    const B = x.shape[0];
    const L = this.latentDims.length;
    if (opts.noise) {
      if (opts.noise.length !== L)
        throw new Error(`noise needs ${L} tensors (one per stochastic layer), got ${opts.noise.length}`);
      opts.noise.forEach((e, i) => {
        if (!tf.util.arraysEqual(e.shape, [B, k, this.latentDims[i]])) {
          throw new Error(
            `noise[${i}] must have shape [${B}, ${k}, ${this.latentDims[i]}], got [${e.shape}]`,
          );
        }
      });
    }
    const tap = opts.hooks?.tap ?? ((z: tf.Tensor2D) => z);
    return tf.tidy(() => {
      let seed = opts.seed ?? Math.floor(Math.random() * 2 ** 31);
      const draw = (i: number) =>
        opts.noise ? opts.noise[i] : standardNormal([B, k, this.latentDims[i]], seed++);
      // Sampling pass. The first encoder sees each x once (q(z₁|x) is the same for its k samples).
      const z: tf.Tensor2D[] = [];
      const q: { mean: tf.Tensor2D; logVar: tf.Tensor2D }[] = [];
      const p1 = this.posterior(0, x);
      const d1 = this.latentDims[0];
      const mean1 = tf.reshape(p1.mean, [B, 1, d1]);
      const logVar1 = tf.reshape(p1.logVar, [B, 1, d1]);
      z.push(tf.reshape(tf.add(mean1, tf.mul(tf.exp(tf.mul(logVar1, 0.5)), draw(0))), [B * k, d1]));
      for (let i = 1; i < L; i++) {
        const pi = this.posterior(i, z[i - 1]);
        q.push(pi);
        const eps = tf.reshape(draw(i), [B * k, this.latentDims[i]]);
        z.push(tf.add(pi.mean, tf.mul(tf.exp(tf.mul(pi.logVar, 0.5)), eps)));
      }
      // Density pass: log p(x, z) − log q(z | x), each a sum over dimensions.
      const zt = z.map((zi) => tap(zi));
      const shape3 = (t: tf.Tensor2D, i: number) => tf.reshape(t, [B, k, this.latentDims[i]]);
      let logw: tf.Tensor = this.logLikelihood(x, zt[0], k);
      logw = tf.add(logw, tf.reshape(standardNormalLogPdf(zt[L - 1]), [B, k]));
      for (let i = 1; i < L; i++) {
        // p(z_i | z_{i+1}): decoders[i] maps z_{i+1} (i.e. zt[i]) to the parameters of z_i (zt[i-1]).
        const y = applyNet(this.decoders[i], zt[i], 2 * this.latentDims[i - 1], `decoder ${i}`);
        const [m, lv] = tf.split(y, 2, 1) as [tf.Tensor2D, tf.Tensor2D];
        logw = tf.add(logw, tf.reshape(gaussianLogPdf(zt[i - 1], m, lv), [B, k]));
      }
      logw = tf.sub(logw, gaussianLogPdf(shape3(zt[0], 0), mean1, logVar1));
      for (let i = 1; i < L; i++) {
        // With a tap the density must see the tapped z_{i-1}; otherwise reuse the sampling pass.
        const pi = opts.hooks?.tap ? this.posterior(i, zt[i - 1]) : q[i - 1];
        logw = tf.sub(logw, tf.reshape(gaussianLogPdf(zt[i], pi.mean, pi.logVar), [B, k]));
      }
      if (opts.hooks?.cancelScore) {
        // c = Σ log q(z_i | ·) with the samples entering as constants (no gradient path), so its gradient
        // w.r.t. φ is exactly the score-function part of −log q's; adding c − value(c) (zero forward)
        // removes that part and leaves the pathwise gradient.
        const fixed = z.map((zi) => stopGradient(zi));
        let c: tf.Tensor = gaussianLogPdf(shape3(fixed[0], 0), mean1, logVar1);
        for (let i = 1; i < L; i++) {
          const pi = this.posterior(i, fixed[i - 1]);
          c = tf.add(c, tf.reshape(gaussianLogPdf(fixed[i], pi.mean, pi.logVar), [B, k]));
        }
        logw = tf.add(logw, tf.sub(c, stopGradient(c)));
      }
      return logw as tf.Tensor2D;
    });
  }

  /** Frees the learned decoder variance and whatever `onDispose` frees (e.g. owned networks). */
  dispose(): void {
    this.decoderLogVar?.dispose();
    this.onDispose?.();
  }
}
