/**
 * `childTuning(optimizer, options)`: ChildTuning (Xu et al., EMNLP 2021) as a wrapper around any
 * `tf.train` optimizer or kexue's `AdamW`.
 *
 * - 'F': every step, each gradient element is kept with probability p (a fresh Bernoulli mask) and
 *   divided by p, so the masked gradient is unbiased.
 * - 'D': a fixed mask (from `fisherMask`) multiplies the gradients of the candidate parameters; by
 *   default not divided by p, as in the reference code (the note writes g⊗M/p: `rescale: true`).
 * - 'update': the variant the note proposes: the optimizer sees the full gradient and its parameter
 *   update Δθ is masked (and divided by p by default) instead.
 *
 * As in the reference, the mask is applied to the raw gradient before the optimizer's moments are
 * updated (for AdamW: after global-norm clipping, which the reference trainer does before the
 * optimizer step), and AdamW's decoupled weight decay still applies to every parameter. Note's
 * analysis: under Adam, F with keep probability p behaves like plain Adam with learning rate ×√p.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdamW, type AdamWHooks, type NamedTensor } from '../nn/optim.js';
import { bernoulliMask, checkKeep, maskSeed, type NameFilter } from './masks.js';

/** ChildTuning variant: 'F' (random gradient mask), 'D' (fixed Fisher mask) or 'update' (masked updates). */
export type ChildTuningMode = 'F' | 'D' | 'update';
/** Every `ChildTuningMode`, for validation and command-line choices. */
export const CHILD_TUNING_MODES: readonly ChildTuningMode[] = ['F', 'D', 'update'];

/** Settings of `childTuning` and `Masker`: the mode, keep probability p, seed, rescaling and masks. */
export interface ChildTuningOptions {
  mode: ChildTuningMode;
  /** Keep probability (the reference's reserve_p; default 0.3). For 'D' it is the masks' own p. */
  p?: number;
  /** Seed of the random masks ('F', 'update'); default 0. */
  seed?: number;
  /** Divide kept values by p; default true for 'F' and 'update', false for 'D' (as the reference). */
  rescale?: boolean;
  /** 'D' only: the fixed 0/1 masks by parameter name (see `fisherMask`); the wrapper owns them. */
  masks?: Map<string, tf.Tensor>;
  /** 'F' and 'update': which parameters are masked (default all). */
  filter?: NameFilter;
}

/**
 * The masking rule shared by both wrappers; `step` is the 0-based optimizer step. Random masks depend
 * only on (seed, step, parameter name), so a resumed run draws the same masks. It owns the 'D' masks.
 * `childTuning` builds one; the wrappers expose it as `masker`.
 *
 * @example
 * const opt = childTuning(tf.train.adam(1e-3), { mode: 'F', p: 0.3, seed: 1 });
 * opt.masker.describe(); // → { mode: 'F', p: 0.3, seed: 1, rescale: true }
 * const g = tf.tidy(() => opt.masker.gradient('dense/kernel', tf.ones([4, 4]), 0));
 * // each entry is 1/0.3 with probability 0.3, else 0; step 0 gives the same mask every run
 */
export class Masker {
  readonly mode: ChildTuningMode;
  readonly p: number;
  readonly seed: number;
  readonly rescale: boolean;
  private readonly masks?: Map<string, tf.Tensor>;
  private readonly filter: NameFilter;
  private checkedNames = false;

  constructor(o: ChildTuningOptions) {
    if (!CHILD_TUNING_MODES.includes(o.mode))
      throw new Error(`ChildTuning mode must be one of ${CHILD_TUNING_MODES.join(', ')}, got '${o.mode}'`);
    this.mode = o.mode;
    this.p = o.p ?? 0.3;
    checkKeep(this.p);
    this.seed = o.seed ?? 0;
    if (!Number.isInteger(this.seed)) throw new Error(`ChildTuning seed must be an integer, got ${o.seed}`);
    this.rescale = o.rescale ?? o.mode !== 'D';
    this.filter = o.filter ?? (() => true);
    if (o.mode === 'D') {
      if (!o.masks || o.masks.size === 0)
        throw new Error("ChildTuning-D needs 'masks' (compute them with fisherInformation + fisherMask)");
      this.masks = o.masks;
    } else if (o.masks) {
      throw new Error(`'masks' are for ChildTuning-D; mode '${o.mode}' draws its own`);
    }
  }

  private random(name: string, x: tf.Tensor, step: number): tf.Tensor {
    if (!this.filter(name)) return x;
    const keep = bernoulliMask(
      x.shape,
      this.p,
      maskSeed(this.seed, step, name),
      this.rescale ? 1 / this.p : 1,
    );
    return tf.mul(x, keep);
  }

  /** D: the names in the masks must be ones the optimizer sees, or nothing would be masked. */
  private checkNames(names: string[]): void {
    if (this.checkedNames || !this.masks) return;
    const seen = new Set(names);
    const unknown = [...this.masks.keys()].filter((n) => !seen.has(n));
    if (unknown.length === this.masks.size)
      throw new Error(
        `ChildTuning-D: none of the masks' names (${unknown.slice(0, 3).join(', ')}…) is a parameter the optimizer updates (${names.slice(0, 3).join(', ')}…)`,
      );
    this.checkedNames = true;
  }

  /** The gradient the optimizer should see (call inside a tidy). */
  gradient(name: string, g: tf.Tensor, step: number): tf.Tensor {
    if (this.mode === 'F') return this.random(name, g, step);
    if (this.mode !== 'D') return g;
    const m = this.masks!.get(name);
    if (!m) return g;
    if (!tf.util.arraysEqual(m.shape, g.shape))
      throw new Error(`ChildTuning-D mask '${name}' has shape [${m.shape}], its gradient [${g.shape}]`);
    return this.rescale ? tf.mul(g, tf.div(m, this.p)) : tf.mul(g, m);
  }

  /** The parameter update to apply (call inside a tidy); only 'update' changes it. */
  update(name: string, delta: tf.Tensor, step: number): tf.Tensor {
    return this.mode === 'update' ? this.random(name, delta, step) : delta;
  }

  beginStep(names: string[]): void {
    this.checkNames(names);
  }

  describe(): { mode: ChildTuningMode; p: number; seed: number; rescale: boolean } {
    return { mode: this.mode, p: this.p, seed: this.seed, rescale: this.rescale };
  }

  dispose(): void {
    if (this.masks) tf.dispose([...this.masks.values()]);
  }
}

type GradientInput = tf.NamedTensorMap | NamedTensor[];

function toList(grads: GradientInput): { name: string; tensor: tf.Tensor | undefined }[] {
  return Array.isArray(grads) ? grads : Object.entries(grads).map(([name, tensor]) => ({ name, tensor }));
}

/**
 * A `tf.train.Optimizer` that masks gradients (or updates) before delegating to `inner`, so it works
 * wherever TF.js expects an optimizer: `model.compile({optimizer})` + `model.fit`, `minimize`,
 * `applyGradients`. Its step count, state and checkpoints are the inner optimizer's. It owns `inner`
 * and the masks: `dispose()` frees them. Usually made by `childTuning`.
 *
 * @example
 * const opt = childTuning(tf.train.adam(1e-3), { mode: 'F', p: 0.3 });
 * opt instanceof ChildTuningOptimizer; // → true
 * model.compile({ optimizer: opt, loss: 'categoricalCrossentropy' });
 * await model.fit(x, y, { epochs: 3 });
 */
export class ChildTuningOptimizer extends tf.Optimizer {
  static get className(): string {
    return 'ChildTuningOptimizer';
  }

  /**
   * Ordinary `instanceof` (prototype chain). tf.Optimizer answers `instanceof` by duck typing (any
   * object with minimize/applyGradients), which would make every tf.train optimizer "an instance".
   */
  static override [Symbol.hasInstance](x: unknown): boolean {
    return Function.prototype[Symbol.hasInstance].call(this, x);
  }

  constructor(
    readonly inner: tf.Optimizer,
    readonly masker: Masker,
  ) {
    super();
  }

  override get iterations(): number {
    return this.inner.iterations;
  }

  applyGradients(variableGradients: GradientInput): void {
    const list = toList(variableGradients);
    const step = this.inner.iterations;
    this.masker.beginStep(list.filter((x) => x.tensor).map((x) => x.name));
    if (this.masker.mode === 'update') return this.applyMaskedUpdate(list, step);
    const masked = tf.tidy(() =>
      list.map(({ name, tensor }) => ({
        name,
        tensor: tensor && this.masker.gradient(name, tensor, step),
      })),
    );
    try {
      this.inner.applyGradients(masked as NamedTensor[]);
    } finally {
      masked.forEach((m, i) => {
        if (m.tensor && m.tensor !== list[i].tensor) m.tensor.dispose();
      });
    }
  }

  /** Update dropout: let the inner optimizer step, then keep only the masked part of each change. */
  private applyMaskedUpdate(list: { name: string; tensor: tf.Tensor | undefined }[], step: number): void {
    const registry = tf.engine().registeredVariables;
    const touched = list.filter((x) => x.tensor).map((x) => ({ name: x.name, v: registry[x.name] }));
    const missing = touched.find((x) => !x.v);
    if (missing) throw new Error(`ChildTuning update dropout: no variable named '${missing.name}'`);
    const before = touched.map(({ v }) => tf.clone(v));
    try {
      this.inner.applyGradients(list as NamedTensor[]);
      tf.tidy(() =>
        touched.forEach(({ name, v }, i) =>
          v.assign(tf.add(before[i], this.masker.update(name, tf.sub(v, before[i]), step))),
        ),
      );
    } finally {
      tf.dispose(before);
    }
  }

  override async getWeights(): Promise<NamedTensor[]> {
    return this.inner.getWeights();
  }

  override async setWeights(weights: NamedTensor[]): Promise<void> {
    return this.inner.setWeights(weights);
  }

  getConfig(): tf.serialization.ConfigDict {
    return {
      ...this.masker.describe(),
      inner: this.inner.getClassName(),
      innerConfig: this.inner.getConfig(),
    };
  }

  override dispose(): void {
    this.inner.dispose();
    this.masker.dispose();
  }
}

/**
 * kexue's `AdamW` with ChildTuning. It is a `ChildTuningOptimizer` (so `model.compile` / `model.fit`
 * work, masking the raw gradient), and over named parameters it keeps AdamW's `step(grads, lr)`, with
 * the masks applied through AdamW's step hooks (after clipping, before the moments, as the reference
 * trainer does). It owns `inner` and the masks.
 *
 * @example
 * const clf = new TextClassifier(encoder, tokenizer, { classes: 2 });
 * const params = clf.fineTunedParameters();
 * const opt = childTuning(new AdamW(params, { weightDecay: 0.01, clipNorm: 1 }), { mode: 'F', p: 0.3 });
 * const { value, grads } = tf.variableGrads(() => clf.loss(['fine', 'dull'], [1, 0]), [...params.values()]);
 * const byName = new Map([...params].map(([n, v]) => [n, grads[v.name]] as const));
 * const gradNorm = opt.step(byName, 2e-5); // → the gradient norm before clipping
 * tf.dispose([value, ...Object.values(grads)]);
 */
export class ChildTuningAdamW extends ChildTuningOptimizer {
  static override get className(): string {
    return 'ChildTuningAdamW';
  }

  declare readonly inner: AdamW;

  constructor(inner: AdamW, masker: Masker) {
    super(inner, masker);
  }

  /** One update, as `AdamW.step` (with `gradNorm` when already read); returns the pre-clip gradient norm. */
  step(grads: Map<string, tf.Tensor>, lr: number, gradNorm?: number): number {
    const step = this.inner.iterations;
    this.masker.beginStep([...grads.keys()]);
    const hooks: AdamWHooks = {
      gradient: (name, g) => this.masker.gradient(name, g, step),
      update: (name, u) => this.masker.update(name, u, step),
    };
    return this.inner.step(grads, lr, hooks, gradNorm);
  }
}

/**
 * Wraps `optimizer` with ChildTuning. A kexue `AdamW` gives a `ChildTuningAdamW` (same `step`), any
 * `tf.train` optimizer a `ChildTuningOptimizer` (a `tf.Optimizer` itself). Mask names are the names
 * the optimizer sees: `tf.Variable.name` for tf.train optimizers, AdamW's parameter names for AdamW.
 *
 * @example
 * // ChildTuning-F around a tf.train optimizer, for model.fit:
 * const ctOpt = childTuning(tf.train.adam(1e-4), { mode: 'F', p: 0.3 });
 * model.compile({ optimizer: ctOpt, loss: 'meanSquaredError' });
 * // Update dropout around kexue's AdamW over named parameters: a ChildTuningAdamW (step(grads, lr)).
 * const clf = new TextClassifier(encoder, tokenizer, { classes: 2 });
 * const opt = childTuning(new AdamW(clf.fineTunedParameters()), { mode: 'update', p: 0.3 });
 * // ChildTuning-D: see fisherMask.
 */
export function childTuning(optimizer: AdamW, options: ChildTuningOptions): ChildTuningAdamW;
export function childTuning(optimizer: tf.Optimizer, options: ChildTuningOptions): ChildTuningOptimizer;
export function childTuning(
  optimizer: AdamW | tf.Optimizer,
  options: ChildTuningOptions,
): ChildTuningAdamW | ChildTuningOptimizer {
  const masker = new Masker(options);
  if (optimizer instanceof AdamW) return new ChildTuningAdamW(optimizer, masker);
  if (optimizer instanceof tf.Optimizer) return new ChildTuningOptimizer(optimizer, masker);
  throw new Error('childTuning wraps a tf.train optimizer or a kexue AdamW');
}
