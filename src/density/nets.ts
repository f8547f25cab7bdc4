/**
 * Networks for the VAE. Any of these works as an encoder or decoder: a plain function of a [N, in]
 * tensor, a `tf.LayersModel` (anything with `apply`), or kexue's `Mlp` below — the tanh MLP of the
 * IWAE paper with its initialisation (Glorot uniform weights, zero biases; yburda/iwae `nnet.py`).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { dense } from '../nn/fused-dense.js';
import { Module } from '../nn/module.js';
import { Rng } from '../util/rng.js';

/**
 * A network: a function, or an object with `apply` such as a `tf.LayersModel` (whose `apply` is typed to
 * return symbolic tensors too; given a concrete tensor it returns one, which `applyNet` checks).
 */
export type Net =
  | ((x: tf.Tensor2D) => tf.Tensor)
  | { apply(x: tf.Tensor2D): tf.Tensor | tf.Tensor[] | SymbolicTensor | SymbolicTensor[] };

/** Runs a network and checks it returned one rank-2 tensor with `cols` columns. */
export function applyNet(net: Net, x: tf.Tensor2D, cols: number, what: string): tf.Tensor2D {
  const y = typeof net === 'function' ? net(x) : net.apply(x);
  if (!(y instanceof tf.Tensor) || y.rank !== 2 || y.shape[0] !== x.shape[0] || y.shape[1] !== cols) {
    const got = Array.isArray(y)
      ? `${y.length} tensors`
      : y instanceof tf.Tensor
        ? `shape [${y.shape.join(', ')}]`
        : 'a symbolic tensor';
    throw new Error(
      `${what} must return [${x.shape[0]}, ${cols}] for input [${x.shape.join(', ')}], got ${got}`,
    );
  }
  return y as tf.Tensor2D;
}

/** Uniform(−s, s) with s = √(6 / (in + out)): Glorot & Bengio 2010, as `nnet.Linear.random` draws it. */
function glorot(rows: number, cols: number, rng: Rng): tf.Tensor2D {
  const s = Math.sqrt(6 / (rows + cols));
  const w = new Float32Array(rows * cols);
  for (let i = 0; i < w.length; i++) w[i] = (2 * rng.next() - 1) * s;
  return tf.tensor2d(w, [rows, cols]);
}

/** Settings of `Mlp`: input width, tanh hidden widths, linear output heads, seed and output bias. */
export interface MlpOptions {
  /** Input width. */
  input: number;
  /** Hidden widths, each followed by tanh. */
  hidden: number[];
  /**
   * Output heads: one linear layer per entry, concatenated along the columns. A Gaussian layer has
   * two heads (mean and log-variance), each initialised as its own layer as in the paper.
   */
  heads: number[];
  seed: number;
  /** Initial bias of the concatenated output (e.g. logit of the training mean for a Bernoulli decoder). */
  outputBias?: Float32Array;
}

/**
 * A tanh MLP with linear output heads, on kexue's Module pattern (named parameters for saving).
 *
 * @example
 * // the paper's first encoder layer: 784 → 200 → 200 → [mean(50), log-variance(50)]
 * const enc = new Mlp({ input: 784, hidden: [200, 200], heads: [50, 50], seed: 1 });
 * const out = enc.apply(tf.tensor2d(images.subarray(0, 8 * 784), [8, 784])); // [8, 100]
 */
export class Mlp extends Module {
  private readonly kernels: tf.Variable[] = [];
  private readonly biases: tf.Variable[] = [];
  readonly outputs: number;

  constructor(readonly options: MlpOptions) {
    super();
    const rng = new Rng(options.seed);
    const sizes = [options.input, ...options.hidden];
    for (let i = 0; i + 1 < sizes.length; i++) {
      this.kernels.push(this.param(`dense${i}.kernel`, glorot(sizes[i], sizes[i + 1], rng)));
      this.biases.push(this.param(`dense${i}.bias`, tf.zeros([sizes[i + 1]])));
    }
    const last = sizes[sizes.length - 1];
    this.outputs = options.heads.reduce((a, b) => a + b, 0);
    const heads = options.heads.map((h) => glorot(last, h, rng));
    const kernel = heads.length === 1 ? heads[0] : tf.concat(heads, 1);
    if (heads.length > 1) tf.dispose(heads);
    const i = this.kernels.length;
    this.kernels.push(this.param(`dense${i}.kernel`, kernel));
    if (options.outputBias && options.outputBias.length !== this.outputs) {
      throw new Error(`outputBias has ${options.outputBias.length} entries, the output has ${this.outputs}`);
    }
    const bias = options.outputBias ? tf.tensor1d(options.outputBias) : tf.zeros([this.outputs]);
    this.biases.push(this.param(`dense${i}.bias`, bias));
  }

  /** [N, input] → [N, Σ heads]. */
  apply(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      let h: tf.Tensor2D = x;
      const n = this.kernels.length;
      for (let i = 0; i < n; i++)
        h = dense(
          h,
          this.kernels[i] as tf.Tensor2D,
          this.biases[i] as tf.Tensor1D,
          i + 1 < n ? 'tanh' : 'linear',
        ) as tf.Tensor2D;
      return h;
    });
  }
}
