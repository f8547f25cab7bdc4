/**
 * MLP generators and critics for the GAN trainer, on kexue's Module pattern. A critic layer can be
 * spectrally normalised (Miyato et al. 2018): W/σ(W) with σ estimated by one power-iteration step per
 * training step; the singular vectors u, v are state (non-trainable variables) and constants to the
 * gradient, as in the paper.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Module } from '../nn/module.js';
import { initTensor } from '../nn/init.js';
import { Rng, rngOf, type Seed } from '../util/rng.js';

export type NetActivation = 'relu' | 'leakyRelu' | 'tanh' | 'linear' | 'sigmoid';

export function applyActivation(act: NetActivation, x: tf.Tensor): tf.Tensor {
  switch (act) {
    case 'relu':
      return tf.relu(x);
    case 'leakyRelu':
      return tf.leakyRelu(x, 0.2);
    case 'tanh':
      return tf.tanh(x);
    case 'sigmoid':
      return tf.sigmoid(x);
    case 'linear':
      return x;
  }
}

/** y = x·W + b (W [in, out]), optionally with W replaced by W/σ(W). */
export class DenseLayer extends Module {
  readonly kernel: tf.Variable;
  readonly bias: tf.Variable;
  private readonly u?: tf.Variable;
  private readonly v?: tf.Variable;

  constructor(
    readonly inDim: number,
    readonly outDim: number,
    rng: Rng,
    spectral = false,
  ) {
    super();
    this.kernel = this.param('kernel', initTensor({ name: 'glorot-uniform' }, [inDim, outDim], rng));
    this.bias = this.param('bias', tf.zeros([outDim]));
    if (spectral) {
      const u = Array.from({ length: outDim }, () => rng.normal());
      const norm = Math.hypot(...u) || 1;
      this.u = this.param('sn_u', tf.tensor1d(u.map((a) => a / norm)), false);
      this.v = this.param('sn_v', tf.zeros([inDim]), false);
      this.powerIteration();
    }
  }

  get spectral(): boolean {
    return this.u !== undefined;
  }

  /** One power-iteration step: v ← Wu/‖Wu‖, u ← Wᵀv/‖Wᵀv‖ (W as [in, out]). Call outside the tape. */
  powerIteration(): void {
    if (!this.u || !this.v) return;
    const [u, v] = [this.u, this.v];
    tf.tidy(() => {
      const k = this.kernel as tf.Tensor2D;
      const nv = tf.reshape(tf.matMul(k, tf.reshape(u, [-1, 1])), [-1]);
      const vn = tf.div(nv, tf.add(tf.norm(nv), 1e-12));
      const nu = tf.reshape(tf.matMul(tf.reshape(vn, [1, -1]), k), [-1]);
      v.assign(vn);
      u.assign(tf.div(nu, tf.add(tf.norm(nu), 1e-12)));
    });
  }

  /** The weight used in the forward pass. */
  weight(): tf.Tensor2D {
    if (!this.u || !this.v) return this.kernel as tf.Tensor2D;
    // σ = vᵀ W u with u, v constants (they are variables, not functions of the kernel on the tape)
    const sigma = tf.sum(tf.mul(tf.matMul(tf.reshape(this.v, [1, -1]), this.kernel as tf.Tensor2D), this.u));
    return tf.div(this.kernel, sigma) as tf.Tensor2D;
  }

  apply(x: tf.Tensor2D): tf.Tensor2D {
    return tf.add(tf.matMul(x, this.weight()), this.bias) as tf.Tensor2D;
  }
}

export interface MlpNetOptions {
  dims: number[];
  activation: NetActivation;
  outActivation?: NetActivation;
  spectral?: boolean;
}

/** A plain MLP: dims[0] → … → dims[last]. */
export class MlpNet extends Module {
  readonly layers: DenseLayer[];

  constructor(
    readonly opts: MlpNetOptions,
    seed: Seed,
  ) {
    super();
    const rng = rngOf(seed, 'rng');
    this.layers = opts.dims
      .slice(1)
      .map((d, i) => this.child(String(i), new DenseLayer(opts.dims[i], d, rng, opts.spectral)));
  }

  apply(x: tf.Tensor): tf.Tensor2D {
    let h = (x.rank === 2 ? x : tf.reshape(x, [x.shape[0], -1])) as tf.Tensor2D;
    this.layers.forEach((l, i) => {
      h = l.apply(h);
      const act = i < this.layers.length - 1 ? this.opts.activation : (this.opts.outActivation ?? 'linear');
      h = applyActivation(act, h) as tf.Tensor2D;
    });
    return h;
  }

  powerIteration(): void {
    for (const l of this.layers) l.powerIteration();
  }
}
