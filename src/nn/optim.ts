/**
 * AdamW (Adam with decoupled weight decay, Loshchilov & Hutter) with optional global-norm gradient
 * clipping (BERT clips at 1.0), as a registered, serializable `tf.Optimizer`:
 *
 *  - `new AdamW({ learningRate: 1e-3, weightDecay: 0.01 })` works in `model.compile` / `model.fit`,
 *    `minimize` and `applyGradients` like `tf.train.adam`, and saves with the model
 *    (`model.save(handler, { includeOptimizer: true })`; `getConfig`/`fromConfig`).
 *  - `new AdamW(namedParameters, options)` also keeps kexue's named-parameter `step(grads, lr, hooks)`,
 *    with the learning rate given per step (any schedule) and per-step hooks (ChildTuning).
 *
 * State (first and second moments) is keyed by parameter name — the variable's name in `applyGradients`,
 * the map's key in `step` — and exposed through getWeights/setWeights, so checkpoints treat it like
 * `tf.train` optimizers' state.
 *
 * Update for parameter w with gradient g at step t (1-based):
 *   m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  w ← w − lr·( m̂/(√v̂ + ε) + λ·w ),  m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ)
 * with λ = 0 for parameters the decay filter excludes (by default biases and LayerNorm γ/β: rank-1).
 */
import * as tf from '@tensorflow/tfjs-core';
import { DivergenceError, InputError } from '../io/errors.js';
import { GLOBAL_NORM, fusedAdamWStep, hasFusedAdamW } from './fused-update.js';

/** Same shape as tfjs-core's internal NamedTensor (not exported by the package). */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

/** AdamW's hyperparameters besides the learning rate. */
export interface AdamWOptions {
  /** Default 0.9. */
  beta1?: number;
  /** Default 0.999. */
  beta2?: number;
  /** Default 1e-6 (BERT's value). */
  epsilon?: number;
  /** Decoupled weight decay λ (default 0.01). */
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

/** √(Σ ‖g‖²) over `grads`, as one kernel where the backend has it (see `GLOBAL_NORM`). */
export function globalNorm(grads: Iterable<tf.Tensor>): tf.Scalar {
  const list = [...grads];
  if (
    list.length > 0 &&
    list.every((g) => g.dtype === 'float32') &&
    tf.getKernel(GLOBAL_NORM, tf.getBackend())
  )
    return tf
      .engine()
      .runKernel(GLOBAL_NORM, Object.fromEntries(list.map((g, i) => [`t${i}`, g]))) as tf.Scalar;
  return tf.tidy(() => tf.sqrt(tf.addN(list.map((g) => tf.sum(tf.square(g))))) as tf.Scalar);
}

/**
 * A training step's loss and its gradients' global norm, read back together asynchronously: one
 * `await data()` per step instead of synchronous reads, which stall a WebGL/WebGPU pipeline and block
 * the page. Pass the norm to `AdamW.step` so it does not read it again.
 *
 * @example
 * const params = new Map([['w', tf.variable(tf.randomNormal([x.shape[1], 2]))]]);
 * const opt = new AdamW(params, { clipNorm: 1 });
 * const lossFn = () => tf.sum(tf.square(tf.matMul(x, params.get('w')!))) as tf.Scalar;
 * const { value, grads } = tf.variableGrads(lossFn, [...params.values()]);
 * const byName = new Map([...params].map(([n, v]) => [n, grads[v.name]] as const));
 * const [loss, norm] = await readLossAndNorm(value, byName.values());
 * if (Number.isFinite(loss)) opt.step(byName, 1e-3, undefined, norm);
 */
export async function readLossAndNorm(
  loss: tf.Tensor,
  grads: Iterable<tf.Tensor>,
): Promise<[number, number]> {
  const both = tf.tidy(() => tf.stack([tf.reshape(loss, []), globalNorm(grads)]));
  try {
    const d = await both.data();
    return [d[0], d[1]];
  } finally {
    both.dispose();
  }
}

/** `new AdamW(config)`: the options plus the learning rate, for `model.compile` and `applyGradients`. */
export interface AdamWConfig extends AdamWOptions {
  /** Default 0.001. Change it between steps by assigning `learningRate` (what `warmupCallback` does). */
  learningRate?: number;
}

const SERIALIZED_KEYS = ['learningRate', 'beta1', 'beta2', 'epsilon', 'weightDecay', 'clipNorm'] as const;

function checkConfig(o: AdamWConfig): void {
  if (o === null || typeof o !== 'object') throw new InputError('must be an options object', 'AdamW options');
  const positive = (k: keyof AdamWConfig, v: unknown, open = false) => {
    if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && (open ? v > 0 : v >= 0)))
      throw new InputError(
        `${k} must be a finite number ${open ? '> 0' : '≥ 0'}, got ${String(v)}`,
        'AdamW options',
      );
  };
  positive('learningRate', o.learningRate);
  positive('epsilon', o.epsilon);
  positive('weightDecay', o.weightDecay);
  positive('clipNorm', o.clipNorm, true);
  for (const k of ['beta1', 'beta2'] as const)
    if (o[k] !== undefined && !(typeof o[k] === 'number' && o[k] >= 0 && o[k] < 1))
      throw new InputError(`${k} must be in [0, 1), got ${String(o[k])}`, 'AdamW options');
  if (o.decay !== undefined && typeof o.decay !== 'function')
    throw new InputError('decay must be a function (name, variable) => boolean', 'AdamW options');
}

/** One parameter's part of an update: its name (the state key), variable and gradient. */
interface Entry {
  name: string;
  variable: tf.Variable;
  grad: tf.Tensor;
}

/**
 * AdamW as a `tf.Optimizer` (see the file header).
 *
 * @example
 * const optimizer = new AdamW({ learningRate: 1e-3, weightDecay: 0.01, clipNorm: 1 });
 * model.compile({ optimizer, loss: 'meanSquaredError' });
 * const warmup = warmupCallback({ peak: 1e-3, warmupSteps: 100, totalSteps: 1000 });
 * await model.fit(x, y, { epochs: 3, callbacks: [warmup] });
 */
export class AdamW extends tf.Optimizer implements StatefulOptimizer {
  static get className(): string {
    return 'AdamW';
  }

  /**
   * Ordinary `instanceof` (prototype chain). tf.Optimizer answers `instanceof` by duck typing (any
   * object with minimize/applyGradients), which would make every tf.train optimizer "an instance".
   */
  static override [Symbol.hasInstance](x: unknown): boolean {
    return Function.prototype[Symbol.hasInstance].call(this, x);
  }

  /** The learning rate `applyGradients` uses (`step` takes its own). */
  learningRate: number;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  private readonly o: Required<Omit<AdamWOptions, 'clipNorm'>> & { clipNorm?: number };
  private readonly params: Map<string, tf.Variable> | null;
  /** Restored state not yet bound to a variable (see setWeights), in order. */
  private pending: { m: tf.Variable; v: tf.Variable; name: string }[] = [];

  /** For `model.compile` / `applyGradients` / `minimize`. */
  constructor(config?: AdamWConfig);
  /** Over named parameters, for `step(grads, lr, hooks)` (the state is created at once). */
  constructor(params: Map<string, tf.Variable>, opts?: AdamWOptions);
  constructor(first: Map<string, tf.Variable> | AdamWConfig = {}, opts: AdamWOptions = {}) {
    super();
    const named = first instanceof Map;
    const config: AdamWConfig = named ? opts : first;
    checkConfig(config);
    this.params = named ? first : null;
    this.learningRate = config.learningRate ?? 0.001;
    this.o = {
      beta1: 0.9,
      beta2: 0.999,
      epsilon: 1e-6,
      weightDecay: 0.01,
      decay: (_name, p) => p.rank >= 2,
      ...Object.fromEntries(
        Object.entries(config).filter(([k, v]) => v !== undefined && k !== 'learningRate'),
      ),
    };
    if (this.params) {
      for (const [n, p] of this.params) {
        if (!(p instanceof tf.Variable)) throw new InputError(`'${n}' is not a tf.Variable`, 'AdamW params');
        if (p.trainable) this.ensureState(n, p);
      }
    }
  }

  /** True when made over named parameters (so `step` works). */
  get hasNamedParameters(): boolean {
    return this.params !== null;
  }

  private ensureState(name: string, p: tf.Variable): void {
    if (this.m.has(name)) return;
    const restored = this.pending.shift();
    if (restored) {
      if (!tf.util.arraysEqual(restored.m.shape, p.shape))
        throw new InputError(
          `restored state '${restored.name}' has shape [${restored.m.shape}], variable '${name}' has [${p.shape}]`,
          'AdamW',
        );
      this.m.set(name, restored.m);
      this.v.set(name, restored.v);
      return;
    }
    // tf.variable copies its initial value: the zeros tensors are disposed by the tidy.
    tf.tidy(() => {
      this.m.set(name, tf.variable(tf.zerosLike(p), false));
      this.v.set(name, tf.variable(tf.zerosLike(p), false));
    });
  }

  /**
   * One update of named parameters; gradients keyed by parameter name (missing ones are skipped).
   * Returns the pre-clip global gradient norm, and throws `DivergenceError` before any change when it
   * is not finite. `hooks` (optional) transform the clipped gradient and the adaptive step. `gradNorm`,
   * when the caller has already read the norm of these gradients (`readLossAndNorm`), saves a
   * synchronous read-back.
   */
  step(grads: Map<string, tf.Tensor>, lr: number, hooks?: AdamWHooks, gradNorm?: number): number {
    if (!this.params)
      throw new InputError('step() needs an AdamW made over named parameters; use applyGradients', 'AdamW');
    if (!(grads instanceof Map)) throw new InputError('must be a Map name → gradient tensor', 'grads');
    if (!(typeof lr === 'number' && Number.isFinite(lr) && lr >= 0))
      throw new InputError(`must be a finite number ≥ 0, got ${String(lr)}`, 'lr');
    let normValue = gradNorm;
    if (normValue === undefined) {
      const norm = globalNorm(grads.values());
      normValue = norm.dataSync()[0];
      norm.dispose();
    }
    if (!Number.isFinite(normValue)) throw new DivergenceError('the gradient norm', this.iterations + 1);
    const { clipNorm } = this.o;
    const clipScale = clipNorm !== undefined && normValue > clipNorm ? clipNorm / normValue : 1;
    const entries: Entry[] = [];
    for (const [name, grad] of grads) {
      const variable = this.params.get(name);
      if (variable && this.m.has(name)) entries.push({ name, variable, grad });
    }
    this.update(entries, lr, clipScale, hooks);
    return normValue;
  }

  /**
   * The `tf.Optimizer` update (what `model.fit` and `minimize` call): gradients keyed by variable name.
   * Clipping, when configured, scales by min(1, clipNorm/‖g‖) on the device (no read-back).
   */
  applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const list = Array.isArray(variableGradients)
      ? variableGradients
      : Object.entries(variableGradients).map(([name, tensor]) => ({ name, tensor }));
    const registry = tf.engine().registeredVariables;
    const entries: Entry[] = [];
    for (const { name, tensor } of list) {
      if (tensor == null) continue;
      const variable = this.params?.get(name) ?? registry[name];
      if (!variable) throw new InputError(`no variable named '${name}'`, 'AdamW.applyGradients');
      this.ensureState(name, variable);
      entries.push({ name, variable, grad: tensor });
    }
    const { clipNorm } = this.o;
    const clipScale =
      clipNorm === undefined
        ? 1
        : tf.tidy(() => tf.minimum(1, tf.div(clipNorm, globalNorm(entries.map((e) => e.grad)))) as tf.Scalar);
    try {
      this.update(entries, this.learningRate, clipScale);
    } finally {
      if (clipScale instanceof tf.Tensor) clipScale.dispose();
    }
  }

  /** The shared update: moments, bias correction, hooks, decoupled decay; one more iteration. */
  private update(entries: Entry[], lr: number, clipScale: number | tf.Scalar, hooks?: AdamWHooks): void {
    const { beta1, beta2, epsilon, weightDecay, decay } = this.o;
    const t = this.iterations + 1;
    const bc1 = 1 - Math.pow(beta1, t);
    const bc2 = 1 - Math.pow(beta2, t);
    // Hooks (ChildTuning's masks) need the intermediate gradient and step, so they take the op-by-op path.
    if (!hooks && hasFusedAdamW()) {
      const slots = entries.map(({ name, variable: param, grad }) => ({
        param,
        m: this.m.get(name)!,
        v: this.v.get(name)!,
        grad,
        decay: weightDecay > 0 && decay(name, param) ? 1 - lr * weightDecay : 1,
      }));
      fusedAdamWStep(slots, { lr, beta1, beta2, epsilon, bc1, bc2 }, clipScale);
      this.incrementIterations();
      return;
    }
    for (const { name, variable: p, grad: g0 } of entries) {
      const m = this.m.get(name)!;
      const v = this.v.get(name)!;
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
    this.incrementIterations();
  }

  /** `iterations` first, then `<name>/m` and `<name>/v` for every parameter with state. */
  override async getWeights(): Promise<NamedTensor[]> {
    const out: NamedTensor[] = [{ name: 'iterations', tensor: tf.scalar(this.iterations, 'int32') }];
    for (const [n, m] of this.m) out.push({ name: `${n}/m`, tensor: m });
    for (const p of this.pending) out.push({ name: `${p.name}/m`, tensor: p.m });
    for (const [n, v] of this.v) out.push({ name: `${n}/v`, tensor: v });
    for (const p of this.pending) out.push({ name: `${p.name}/v`, tensor: p.v });
    return out;
  }

  /**
   * Restores `getWeights`' output (also tfjs's 'iter' name for the count). Over named parameters every
   * parameter's state must be present; otherwise the state is created from what is given.
   */
  override async setWeights(weights: NamedTensor[]): Promise<void> {
    const byName = new Map(weights.map((w) => [w.name, w.tensor]));
    const it = byName.get('iterations') ?? byName.get('iter');
    if (!it) throw new InputError('has no iterations', 'optimizer state');
    if (this.params) {
      for (const kind of ['m', 'v'] as const) {
        for (const [n, variable] of this[kind]) {
          const t = byName.get(`${n}/${kind}`);
          if (!t) throw new InputError(`is missing '${n}/${kind}'`, 'optimizer state');
          variable.assign(t);
        }
      }
    } else {
      // Like tf.train optimizers, state without named parameters binds to variables by order: a loaded
      // model's variables get new names, so the saved ones are only labels. Each restored pair waits
      // for the next variable without state (in gradient order, as the model's weights are).
      this.dispose();
      const names = [...byName.keys()].filter((k) => k.endsWith('/m')).map((k) => k.slice(0, -2));
      for (const name of names) {
        const m = byName.get(`${name}/m`)!;
        const v = byName.get(`${name}/v`);
        if (!v) throw new InputError(`is missing '${name}/v'`, 'optimizer state');
        this.pending.push({ name, m: tf.variable(m, false), v: tf.variable(v, false) });
      }
    }
    this.iterations_ = (await it.data())[0];
  }

  /** The serializable settings (a custom `decay` function is not serializable and is not saved). */
  override getConfig(): tf.serialization.ConfigDict {
    const config: tf.serialization.ConfigDict = { learningRate: this.learningRate };
    for (const k of SERIALIZED_KEYS.slice(1)) {
      const v = this.o[k as keyof typeof this.o];
      if (v !== undefined) config[k] = v as number;
    }
    return config;
  }

  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    return new cls(config);
  }

  override dispose(): void {
    const pending = this.pending.flatMap((p) => [p.m, p.v]);
    for (const x of [...this.m.values(), ...this.v.values(), ...pending]) x.dispose();
    this.m.clear();
    this.v.clear();
    this.pending = [];
  }
}

tf.serialization.registerClass(AdamW);
