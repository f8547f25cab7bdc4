/**
 * AdamW (Adam with decoupled weight decay, Loshchilov & Hutter) over named parameters, with optional
 * global-norm gradient clipping (BERT clips at 1.0). The learning rate is given at each step, so any
 * schedule plugs in. State is keyed by parameter name and exposed through the same
 * getWeights/setWeights pair as `tf.train` optimizers, so checkpoints treat both alike.
 *
 * Update for parameter w with gradient g at step t (1-based):
 *   m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  w ← w − lr·( m̂/(√v̂ + ε) + λ·w ),  m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ)
 * with λ = 0 for parameters the decay filter excludes (by default biases and LayerNorm γ/β: rank-1).
 */
import * as tf from '@tensorflow/tfjs-core';
import { DivergenceError } from '../io/errors.js';

/** Same shape as tfjs-core's internal NamedTensor (not exported by the package). */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  weightDecay?: number;
  /** Whether a parameter gets weight decay; default: parameters of rank ≥ 2. */
  decay?: (name: string, v: tf.Variable) => boolean;
  /** Clip the global gradient norm to this value (off by default). */
  clipNorm?: number;
}

/**
 * Per-step hooks into `AdamW.step` (used by ChildTuning): `gradient` sees each parameter's gradient
 * after clipping and before the moments are updated; `update` sees the adaptive step m̂/(√v̂ + ε)
 * before weight decay is added. Both run inside the step's tidy and return a replacement tensor.
 */
export interface AdamWHooks {
  gradient?: (name: string, g: tf.Tensor) => tf.Tensor;
  update?: (name: string, upd: tf.Tensor) => tf.Tensor;
}

/** The interface checkpoints need; `tf.train` optimizers have it too. */
export interface StatefulOptimizer {
  getWeights(): Promise<NamedTensor[]>;
  setWeights(weights: NamedTensor[]): Promise<void>;
}

export function globalNorm(grads: Iterable<tf.Tensor>): tf.Scalar {
  return tf.tidy(() => tf.sqrt(tf.addN([...grads].map((g) => tf.sum(tf.square(g))))) as tf.Scalar);
}

export class AdamW implements StatefulOptimizer {
  private t = 0;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  private readonly o: Required<Omit<AdamWOptions, 'clipNorm'>> & { clipNorm?: number };

  constructor(
    private readonly params: Map<string, tf.Variable>,
    opts: AdamWOptions = {},
  ) {
    this.o = {
      beta1: 0.9,
      beta2: 0.999,
      epsilon: 1e-6,
      weightDecay: 0.01,
      decay: (_name, p) => p.rank >= 2,
      ...opts,
    };
    for (const [n, p] of params) {
      if (!p.trainable) continue;
      // tf.variable copies its initial value: the zeros tensors are disposed by the tidy.
      tf.tidy(() => {
        this.m.set(n, tf.variable(tf.zerosLike(p), false));
        this.v.set(n, tf.variable(tf.zerosLike(p), false));
      });
    }
  }

  get iterations(): number {
    return this.t;
  }

  /**
   * One update; gradients keyed by parameter name (missing ones are skipped). Returns the pre-clip norm.
   * `hooks` (optional) transform the clipped gradient and the adaptive step of each parameter.
   */
  step(grads: Map<string, tf.Tensor>, lr: number, hooks?: AdamWHooks): number {
    const { beta1, beta2, epsilon, weightDecay, decay, clipNorm } = this.o;
    this.t++;
    const norm = globalNorm(grads.values());
    const normValue = norm.dataSync()[0];
    norm.dispose();
    if (!Number.isFinite(normValue)) {
      this.t--;
      throw new DivergenceError('the gradient norm', this.t + 1);
    }
    const clipScale = clipNorm !== undefined && normValue > clipNorm ? clipNorm / normValue : 1;
    const bc1 = 1 - Math.pow(beta1, this.t);
    const bc2 = 1 - Math.pow(beta2, this.t);
    for (const [name, g0] of grads) {
      const p = this.params.get(name);
      const m = this.m.get(name);
      const v = this.v.get(name);
      if (!p || !m || !v) continue;
      tf.tidy(() => {
        const clipped = clipScale === 1 ? g0 : tf.mul(g0, clipScale);
        const g = hooks?.gradient ? hooks.gradient(name, clipped) : clipped;
        m.assign(tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1)));
        v.assign(tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2)));
        let upd = tf.div(tf.div(m, bc1), tf.add(tf.sqrt(tf.div(v, bc2)), epsilon));
        if (hooks?.update) upd = hooks.update(name, upd);
        if (weightDecay > 0 && decay(name, p)) upd = tf.add(upd, tf.mul(p, weightDecay));
        p.assign(tf.sub(p, tf.mul(upd, lr)));
      });
    }
    return normValue;
  }

  async getWeights(): Promise<NamedTensor[]> {
    const out: NamedTensor[] = [{ name: 'iterations', tensor: tf.scalar(this.t, 'int32') }];
    for (const [n, m] of this.m) out.push({ name: `${n}/m`, tensor: m });
    for (const [n, v] of this.v) out.push({ name: `${n}/v`, tensor: v });
    return out;
  }

  async setWeights(weights: NamedTensor[]): Promise<void> {
    const byName = new Map(weights.map((w) => [w.name, w.tensor]));
    const it = byName.get('iterations');
    if (!it) throw new Error('optimizer state has no iterations');
    for (const [kind, store] of [
      ['m', this.m],
      ['v', this.v],
    ] as const) {
      for (const [n, variable] of store) {
        const t = byName.get(`${n}/${kind}`);
        if (!t) throw new Error(`optimizer state is missing '${n}/${kind}'`);
        variable.assign(t);
      }
    }
    this.t = (await it.data())[0];
  }

  dispose(): void {
    for (const x of [...this.m.values(), ...this.v.values()]) x.dispose();
  }
}
