/**
 * The IWAE paper's networks (Burda et al. 2016, §5; yburda/iwae `experiments.py`): tanh MLPs,
 *   one stochastic layer:  x(784) → 200 → 200 → z₁(50)        and back 50 → 200 → 200 → x,
 *   two stochastic layers: x → 200 → 200 → z₁(100) → 100 → 100 → z₂(50), decoders mirrored,
 * Glorot-uniform weights, zero biases, and the Bernoulli decoder's output bias set to the logit of the
 * training-set mean pixel (clipped to [0.001, 0.999]).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Module, assignNamed } from '../nn/module.js';
import { Mlp } from './nets.js';
import { VAE, type DecoderVariance, type Likelihood } from './vae.js';

/** A JSON-serialisable description of a VAE built from tanh MLPs (saved beside the weights). */
export interface VAEConfig {
  dataDim: number;
  /** Latent widths bottom-up, e.g. [50] or [100, 50]. */
  latent: number[];
  /** Hidden widths of stochastic layer i's encoder (its decoder uses them reversed). */
  hidden: number[][];
  likelihood: Likelihood;
  /** Gaussian decoder only. */
  variance?: DecoderVariance;
}

/**
 * The paper's architecture with 1 or 2 stochastic layers (a Gaussian decoder learns its variance).
 *
 * @example
 * paperConfig(2);
 * // → { dataDim: 784, latent: [100, 50], hidden: [[200, 200], [100, 100]], likelihood: 'bernoulli' }
 * const v = VAEModel.build(paperConfig(1), { seed: 1, outputBias: logitMean(images, 784) });
 */
export function paperConfig(layers: 1 | 2, dataDim = 784, likelihood: Likelihood = 'bernoulli'): VAEConfig {
  const base =
    layers === 1
      ? { latent: [50], hidden: [[200, 200]] }
      : {
          latent: [100, 50],
          hidden: [
            [200, 200],
            [100, 100],
          ],
        };
  return {
    dataDim,
    ...base,
    likelihood,
    ...(likelihood === 'gaussian' ? { variance: 'learned' as const } : {}),
  };
}

/** Checks a config (e.g. read from a file); throws an Error naming the bad field. */
export function checkConfig(c: VAEConfig): VAEConfig {
  const posInt = (v: unknown) => Number.isInteger(v) && (v as number) > 0;
  if (!posInt(c.dataDim)) throw new Error(`dataDim must be a positive integer, got ${String(c.dataDim)}`);
  if (!Array.isArray(c.latent) || c.latent.length < 1 || !c.latent.every(posInt)) {
    throw new Error('latent must be a non-empty list of positive integers');
  }
  if (
    !Array.isArray(c.hidden) ||
    c.hidden.length !== c.latent.length ||
    !c.hidden.every((h) => Array.isArray(h) && h.every(posInt))
  ) {
    throw new Error('hidden must hold one list of positive integers per stochastic layer');
  }
  if (c.likelihood !== 'bernoulli' && c.likelihood !== 'gaussian') {
    throw new Error(`likelihood must be 'bernoulli' or 'gaussian', got '${String(c.likelihood)}'`);
  }
  const v = c.variance;
  if (v !== undefined && v !== 'learned' && v !== 'output' && !(typeof v === 'number' && v > 0)) {
    throw new Error(`variance must be a positive number, 'learned' or 'output', got '${String(v)}'`);
  }
  return c;
}

class VAENets extends Module {
  readonly encoders: Mlp[] = [];
  readonly decoders: Mlp[] = [];

  constructor(c: VAEConfig, seed: number, outputBias?: Float32Array) {
    super();
    const L = c.latent.length;
    for (let i = 0; i < L; i++) {
      const input = i === 0 ? c.dataDim : c.latent[i - 1];
      const d = c.latent[i];
      this.encoders.push(
        this.child(
          `encoder${i}`,
          new Mlp({ input, hidden: c.hidden[i], heads: [d, d], seed: seed * 31 + 2 * i + 1 }),
        ),
      );
    }
    for (let i = 0; i < L; i++) {
      const hidden = [...c.hidden[i]].reverse();
      const out = i === 0 ? c.dataDim : c.latent[i - 1];
      const heads = i === 0 && !(c.likelihood === 'gaussian' && c.variance === 'output') ? [out] : [out, out];
      let bias: Float32Array | undefined;
      if (i === 0 && outputBias) {
        if (outputBias.length !== c.dataDim)
          throw new Error(`outputBias has ${outputBias.length} entries, dataDim is ${c.dataDim}`);
        bias = new Float32Array(heads.length * out);
        bias.set(outputBias);
      }
      this.decoders.push(
        this.child(
          `decoder${i}`,
          new Mlp({ input: c.latent[i], hidden, heads, seed: seed * 31 + 2 * i + 2, outputBias: bias }),
        ),
      );
    }
  }
}

/**
 * A VAE of tanh MLPs with its config and named parameters (what saving and checkpoints need). Build it
 * with `VAEModel.build(config)`; the constructor is private.
 *
 * @example
 * const v = VAEModel.build(paperConfig(1), { seed: 1, outputBias: logitMean(images, 784) });
 * const trainer = new VAETrainer(v, images, { objective: 'iwae', k: 5, epochs: 100 });
 * for (let e = 0; e < 100; e++) trainer.trainEpoch();
 * await saveVAE(v, directoryHandler('vae-dir/'));
 */
export class VAEModel extends VAE {
  private constructor(
    readonly config: VAEConfig,
    private readonly nets: VAENets,
  ) {
    super({
      dataDim: config.dataDim,
      latentDims: config.latent,
      encoders: nets.encoders,
      decoders: nets.decoders,
      likelihood: config.likelihood,
      variance: config.variance,
      variables: nets.trainableVariables(),
      onDispose: () => nets.dispose(),
    });
  }

  /** Builds the networks; `outputBias` initialises the decoder's output (mean) bias, e.g. `logitMean(train)`. */
  static build(config: VAEConfig, opts: { seed?: number; outputBias?: Float32Array } = {}): VAEModel {
    checkConfig(config);
    return new VAEModel(config, new VAENets(config, opts.seed ?? 0, opts.outputBias));
  }

  /** Copies weights in by parameter path; every name and shape must match. */
  loadNamedTensors(values: Record<string, tf.Tensor>): void {
    assignNamed(this.namedParameters(), values);
  }

  /** Parameters by path ("encoder0.dense1.kernel", …, "decoderLogVar"), in a stable order. */
  namedParameters(): Map<string, tf.Variable> {
    const m = this.nets.namedParameters();
    if (this.decoderLogVar) m.set('decoderLogVar', this.decoderLogVar);
    return m;
  }
}
