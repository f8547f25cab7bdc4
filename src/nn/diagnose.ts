/**
 * Gradient-flow diagnostics for any TF.js model: per-parameter and per-layer gradient norms, weight
 * norms, and the relative size of the update an optimizer step would make (‖Δw‖/‖w‖).
 *
 * Models: a `tf.LayersModel` (its trainable weights, grouped by layer), a `Module` (parameters by
 * path), a Map name → variable, or a list of { name, variable }.
 * Update ratios: 'sgd' gives lr·‖g‖/‖w‖; 'adam' gives the first Adam step, lr·‖g/(|g|+ε)‖/‖w‖ (Adam's
 * first update is ≈ lr·sign(g), so this ratio shows which weights move fastest relative to their size).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { InputError } from '../io/errors.js';
import { readAndDispose, readBackAsync, readBackSync } from '../util/read-back.js';
import { Module } from './module.js';

/** Anything whose trainable variables `diagnoseGradients` can find. */
export type DiagnosableModel =
  tfl.LayersModel | Module | Map<string, tf.Variable> | { name: string; variable: tf.Variable }[];

/** One parameter's gradient, weight and one-step update norms (L2, over all its entries). */
export interface ParamDiagnostics {
  name: string;
  /** Group name: 'layers.3' for a path containing it, else the first path component. */
  group: string;
  size: number;
  gradNorm: number;
  weightNorm: number;
  /** ‖Δw‖ for one step of the chosen rule. */
  updateNorm: number;
  /** ‖Δw‖/‖w‖ (Infinity when ‖w‖ = 0 and the step is not zero). */
  updateRatio: number;
}

/** The norms of `ParamDiagnostics`, pooled over a group of parameters (e.g. one transformer layer). */
export interface GroupDiagnostics {
  group: string;
  /** Root of the sum of squares over the group's parameters. */
  gradNorm: number;
  weightNorm: number;
  updateNorm: number;
  updateRatio: number;
}

/** `diagnoseGradients`' result: the loss, then per-parameter and per-group norms. */
export interface GradientReport {
  loss: number;
  params: ParamDiagnostics[];
  /** Groups in order of first appearance (embeddings, layers.0, layers.1, …). */
  groups: GroupDiagnostics[];
}

/** `diagnoseGradients`' options: the update rule the update norms assume. */
export interface DiagnoseOptions {
  /** Learning rate (default 1e-4). */
  lr?: number;
  /** 'sgd' (default) or 'adam' (its first step). */
  rule?: 'sgd' | 'adam';
  /** Adam's ε (default 1e-6). */
  epsilon?: number;
  /** Group names from parameter names; default as documented on ParamDiagnostics.group. */
  groupOf?: (name: string) => string;
}

/** A LayersModel weight's variable: `LayerVariable.read()` returns the underlying `tf.Variable`. */
function layerVariable(w: tfl.LayerVariable): tf.Variable {
  const v = w.read();
  if (!(v instanceof tf.Variable))
    throw new InputError(`weight '${w.name}' is not backed by a tf.Variable`, 'model');
  return v;
}

function namedVariables(model: DiagnosableModel): [string, tf.Variable][] {
  if (model instanceof tfl.LayersModel)
    return model.trainableWeights.map((w) => [w.name, layerVariable(w)] as [string, tf.Variable]);
  if (model instanceof Module) return [...model.namedParameters()].filter(([, v]) => v.trainable);
  if (model instanceof Map) return [...model].filter(([, v]) => v.trainable);
  if (Array.isArray(model)) {
    model.forEach((p, i) => {
      if (!p || typeof p.name !== 'string' || !(p.variable instanceof tf.Variable))
        throw new InputError(`entry ${i} must be { name: string, variable: tf.Variable }`, 'model');
    });
    return model.map((p) => [p.name, p.variable]);
  }
  throw new InputError(
    'must be a tf.LayersModel, a kexue Module, a Map name → tf.Variable or a list of { name, variable }',
    'model',
  );
}

function checkOptions(opts: DiagnoseOptions): void {
  if (opts.lr !== undefined && !(opts.lr > 0 && Number.isFinite(opts.lr)))
    throw new InputError(`lr must be a positive number, got ${opts.lr}`, 'options');
  if (opts.rule !== undefined && opts.rule !== 'sgd' && opts.rule !== 'adam')
    throw new InputError(`rule must be 'sgd' or 'adam', got '${String(opts.rule)}'`, 'options');
  if (opts.epsilon !== undefined && !(opts.epsilon >= 0))
    throw new InputError(`epsilon must be a number ≥ 0, got ${opts.epsilon}`, 'options');
}

export function defaultGroup(name: string): string {
  const m = /(^|\.)(layers?|blocks?|h)\.(\d+)(\.|$)/.exec(name);
  if (m) return name.slice(0, m.index + m[1].length + m[2].length + 1 + m[3].length);
  return name.split(/[./]/)[0];
}

const ratio = (u: number, w: number) => (w > 0 ? u / w : u > 0 ? Infinity : 0);

/**
 * Computes gradients of `loss(model, batch)` and summarizes them per parameter and per group (for a
 * `tf.LayersModel`, per layer); no weight is changed.
 *
 * @example
 * const report = diagnoseGradients(model, { x, y }, (m, b) =>
 *   tf.losses.meanSquaredError(b.y, m.apply(b.x) as tf.Tensor) as tf.Scalar);
 * console.table(report.groups);
 */
export function diagnoseGradients<M extends DiagnosableModel, B>(
  model: M,
  batch: B,
  loss: (model: M, batch: B) => tf.Scalar,
  opts: DiagnoseOptions = {},
): GradientReport {
  return readBackSync(diagnoseWork(model, batch, loss, opts));
}

/**
 * As `diagnoseGradients`, reading the norms back with `await data()` instead of `dataSync()` (a
 * browser page on webgl keeps responding).
 *
 * @example
 * const report = await diagnoseGradientsAsync(model, { x, y }, (m, b) =>
 *   tf.losses.meanSquaredError(b.y, m.apply(b.x) as tf.Tensor) as tf.Scalar);
 */
export function diagnoseGradientsAsync<M extends DiagnosableModel, B>(
  model: M,
  batch: B,
  loss: (model: M, batch: B) => tf.Scalar,
  opts: DiagnoseOptions = {},
): Promise<GradientReport> {
  return readBackAsync(diagnoseWork(model, batch, loss, opts));
}

function* diagnoseWork<M extends DiagnosableModel, B>(
  model: M,
  batch: B,
  loss: (model: M, batch: B) => tf.Scalar,
  opts: DiagnoseOptions,
): Generator<tf.Tensor, GradientReport, ArrayLike<number>> {
  if (typeof loss !== 'function')
    throw new InputError('must be a function (model, batch) => tf.Scalar', 'loss');
  checkOptions(opts);
  const lr = opts.lr ?? 1e-4;
  const eps = opts.epsilon ?? 1e-6;
  const groupOf = opts.groupOf ?? defaultGroup;
  const vars = namedVariables(model);
  if (vars.length === 0) throw new InputError('has no trainable variables', 'model');
  const { value, grads } = tf.variableGrads(
    () => {
      const l = loss(model, batch);
      if (!(l instanceof tf.Tensor) || l.rank !== 0)
        throw new InputError(
          `must return a scalar tensor, got ${l instanceof tf.Tensor ? `shape [${l.shape}]` : typeof l}`,
          'loss',
        );
      return l;
    },
    vars.map(([, v]) => v),
  );
  // Every sum of squares and the loss in one tensor: one read-back instead of three per parameter.
  const sums = tf.tidy(() =>
    tf.concat([
      tf.reshape(value, [1]),
      ...vars.map(([, v]) => {
        const g = grads[v.name];
        if (!g) return tf.stack([tf.scalar(0), tf.sum(tf.square(v)), tf.scalar(0)]);
        const step = opts.rule === 'adam' ? tf.div(g, tf.add(tf.abs(g), eps)) : g;
        return tf.stack([tf.sum(tf.square(g)), tf.sum(tf.square(v)), tf.sum(tf.square(step))]);
      }),
    ]),
  );
  tf.dispose([value, ...Object.values(grads)]);
  const read = yield* readAndDispose(sums);
  const params: ParamDiagnostics[] = vars.map(([name, v], i) => {
    const [gradNorm, weightNorm, stepNorm] = [0, 1, 2].map((j) => Math.sqrt(read[1 + 3 * i + j]));
    const updateNorm = lr * stepNorm;
    return {
      name,
      group: groupOf(name),
      size: v.size,
      gradNorm,
      weightNorm,
      updateNorm,
      updateRatio: ratio(updateNorm, weightNorm),
    };
  });
  return { loss: read[0], params, groups: groupSummary(params) };
}

function groupSummary(params: ParamDiagnostics[]): GroupDiagnostics[] {
  const acc = new Map<string, { g: number; w: number; u: number }>();
  for (const p of params) {
    const a = acc.get(p.group) ?? { g: 0, w: 0, u: 0 };
    a.g += p.gradNorm ** 2;
    a.w += p.weightNorm ** 2;
    a.u += p.updateNorm ** 2;
    acc.set(p.group, a);
  }
  return [...acc].map(([group, a]) => {
    const [gradNorm, weightNorm, updateNorm] = [a.g, a.w, a.u].map(Math.sqrt);
    return { group, gradNorm, weightNorm, updateNorm, updateRatio: ratio(updateNorm, weightNorm) };
  });
}
