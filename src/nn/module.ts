/**
 * A minimal module pattern on tfjs-core: parameters are plain `tf.Variable`s registered under short
 * names, children nest under dotted paths ("layers.3.attention.query.kernel"). Everything that needs
 * to see weights by name (optimizers, checkpoints, per-layer gradient diagnostics, ChildTuning masks)
 * goes through `namedParameters()`, whose order is the registration order and therefore stable.
 */
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's node build does not register its ops' gradients; tfjs-layers' entry point does (its
// bundle carries them), and the ESM deep import of tfjs-core's register_all_gradients does not resolve.
import '@tensorflow/tfjs-layers';

export abstract class Module {
  private readonly ownParams = new Map<string, tf.Variable>();
  private readonly children = new Map<string, Module>();
  private isTraining = false;

  /** Registers a parameter; the tensor becomes a variable (tf's global name is left automatic). */
  protected param(name: string, initial: tf.Tensor, trainable = true): tf.Variable {
    if (this.ownParams.has(name) || this.children.has(name)) throw new Error(`duplicate parameter '${name}'`);
    const v = tf.variable(initial, trainable);
    initial.dispose();
    this.ownParams.set(name, v);
    return v;
  }

  /** Registers a child module under `name`; returns it for convenient assignment. */
  protected child<M extends Module>(name: string, m: M): M {
    if (this.ownParams.has(name) || this.children.has(name)) throw new Error(`duplicate child '${name}'`);
    this.children.set(name, m);
    return m;
  }

  /** All parameters with dotted path names, in registration order (own parameters first). */
  namedParameters(prefix = ''): Map<string, tf.Variable> {
    const out = new Map<string, tf.Variable>();
    for (const [n, v] of this.ownParams) out.set(prefix + n, v);
    for (const [n, c] of this.children) {
      for (const [cn, v] of c.namedParameters(`${prefix}${n}.`)) out.set(cn, v);
    }
    return out;
  }

  /** Trainable variables in `namedParameters()` order, e.g. for `optimizer.minimize(f, false, vars)`. */
  trainableVariables(): tf.Variable[] {
    return [...this.namedParameters().values()].filter((v) => v.trainable);
  }

  /** Total number of scalar parameters. */
  parameterCount(): number {
    let n = 0;
    for (const v of this.namedParameters().values()) n += v.size;
    return n;
  }

  /** Switches dropout (and anything else mode-dependent) on or off, recursively. */
  train(on = true): this {
    this.isTraining = on;
    for (const c of this.children.values()) c.train(on);
    return this;
  }

  get training(): boolean {
    return this.isTraining;
  }

  /** Copies values into parameters by name; every name and shape must match. */
  loadNamedTensors(values: Record<string, tf.Tensor>): void {
    assignNamed(this.namedParameters(), values);
  }

  dispose(): void {
    for (const v of this.ownParams.values()) v.dispose();
    for (const c of this.children.values()) c.dispose();
  }
}

/**
 * Gradients of `loss` with respect to the module's trainable parameters, keyed by parameter path.
 * The returned tensors belong to the caller.
 */
export function namedGradients(
  module: Module,
  loss: () => tf.Scalar,
): { value: tf.Scalar; grads: Map<string, tf.Tensor> } {
  const params = [...module.namedParameters()].filter(([, v]) => v.trainable);
  const { value, grads } = tf.variableGrads(
    loss,
    params.map(([, v]) => v),
  );
  const out = new Map<string, tf.Tensor>();
  for (const [n, v] of params) {
    const g = grads[v.name];
    // A parameter that the loss does not touch gets an explicit zero gradient rather than a hole.
    out.set(n, g ?? tf.zerosLike(v));
  }
  return { value, grads: out };
}

/** Copies `values` into `params` by name; every name and shape must match (dtypes are cast). */
export function assignNamed(params: Map<string, tf.Variable>, values: Record<string, tf.Tensor>): void {
  const missing = [...params.keys()].filter((n) => !(n in values));
  const extra = Object.keys(values).filter((n) => !params.has(n));
  if (missing.length || extra.length) {
    throw new Error(
      `weights do not match the model: missing [${missing.join(', ')}], unexpected [${extra.join(', ')}]`,
    );
  }
  for (const [n, v] of params) {
    const t = values[n];
    if (!tf.util.arraysEqual(t.shape, v.shape)) {
      throw new Error(`weight '${n}' has shape [${t.shape}] but the model expects [${v.shape}]`);
    }
    v.assign(t.dtype === v.dtype ? t : tf.cast(t, v.dtype));
  }
}
