/**
 * `tf.train.adam`, `tf.train.rmsprop` and `tf.train.momentum` with fused updates: while the active
 * backend registers the fused kernels (src/nn/fused-update.ts; the aten backend does), their
 * `applyGradients` updates each variable with one kernel call instead of tfjs's 4–10 element-wise ops.
 * The state is tfjs's own (the same variables, names and iteration count), so getWeights/setWeights,
 * saved optimizers and `model.fit` are unchanged; on any other backend tfjs's original method runs.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  MOMENTUM_UPDATE,
  RMSPROP_UPDATE,
  fusedAdamWStep,
  hasFusedAdamW,
  type AdamWSlot,
} from '../../nn/fused-update.js';

type Slot = { originalName: string; variable: tf.Variable } | undefined;

/** The fields of tfjs's optimizers the fused updates read and write (protected in tfjs's types). */
interface AdamState {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: Slot[];
  accumulatedSecondMoment: Slot[];
  incrementIterations(): void;
}

interface RmsPropState {
  learningRate: number;
  decay: number;
  momentum: number;
  epsilon: number;
  centered: boolean;
  accumulatedMeanSquares: Slot[];
  accumulatedMoments: Slot[];
  accumulatedMeanGrads: Slot[];
  incrementIterations(): void;
}

interface MomentumState {
  learningRate: number;
  momentum: number;
  useNesterov: boolean;
  accumulations: Slot[];
  incrementIterations(): void;
}

type Gradients = tf.NamedTensorMap | { name: string; tensor: tf.Tensor }[];

const FUSED = Symbol.for('kexue.fusedOptimizer');

/** The state variable in `list[i]`, created as tfjs does (zeros, not trainable, `name`) on first use. */
function slot(list: Slot[], i: number, name: string, value: tf.Variable): tf.Variable {
  list[i] ??= { originalName: name, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
  return list[i].variable;
}

/** Calls `update(param, grad, i, name)` for each gradient, in tfjs's order (slots are indexed by i). */
function eachGradient(
  grads: Gradients,
  update: (param: tf.Variable, grad: tf.Tensor | undefined, i: number, name: string) => void,
): void {
  const names = Array.isArray(grads) ? grads.map((g) => g.name) : Object.keys(grads);
  names.forEach((name, i) => {
    const grad = Array.isArray(grads) ? grads[i].tensor : grads[name];
    update(tf.engine().registeredVariables[name], grad ?? undefined, i, name);
  });
}

/** Runs a fused kernel and assigns its outputs to `targets`, in order. */
function runAndAssign(
  kernel: string,
  inputs: tf.NamedTensorMap,
  attrs: object,
  targets: tf.Variable[],
): void {
  const outs = tf.engine().runKernel(kernel, inputs, attrs as tf.NamedAttrMap) as tf.Tensor[];
  targets.forEach((t, j) => t.assign(outs[j]));
  tf.dispose(outs);
}

function adamApply(self: AdamState, grads: Gradients): void {
  // tfjs keeps β^t as float32 variables; reading them keeps its bias correction bit for bit.
  const bc1 = 1 - self.accBeta1.dataSync()[0];
  const bc2 = 1 - self.accBeta2.dataSync()[0];
  const attrs = { lr: self.learningRate, beta1: self.beta1, beta2: self.beta2, epsilon: self.epsilon };
  const slots: AdamWSlot[] = [];
  eachGradient(grads, (param, grad, i, name) => {
    const m = slot(self.accumulatedFirstMoment, i, `${name}/m`, param);
    const v = slot(self.accumulatedSecondMoment, i, `${name}/v`, param);
    if (grad) slots.push({ param, m, v, grad, decay: 1 });
  });
  fusedAdamWStep(slots, { ...attrs, bc1, bc2 });
  tf.tidy(() => {
    self.accBeta1.assign(tf.mul(self.accBeta1, self.beta1));
    self.accBeta2.assign(tf.mul(self.accBeta2, self.beta2));
  });
  self.incrementIterations();
}

function rmsPropApply(self: RmsPropState, grads: Gradients): void {
  const attrs = { lr: self.learningRate, decay: self.decay, momentum: self.momentum, epsilon: self.epsilon };
  eachGradient(grads, (param, grad, i, name) => {
    const ms = slot(self.accumulatedMeanSquares, i, `${name}/rms`, param);
    const mom = slot(self.accumulatedMoments, i, `${name}/momentum`, param);
    const mg = self.centered ? slot(self.accumulatedMeanGrads, i, `${name}/mg`, param) : undefined;
    if (!grad) return;
    const inputs: tf.NamedTensorMap = { param, ms, mom, grad, ...(mg && { mg }) };
    runAndAssign(RMSPROP_UPDATE, inputs, attrs, mg ? [param, ms, mom, mg] : [param, ms, mom]);
  });
  self.incrementIterations();
}

function momentumApply(self: MomentumState, grads: Gradients): void {
  // tfjs multiplies by a scalar tensor made from the momentum at construction; the number is the same.
  const attrs = { lr: self.learningRate, momentum: self.momentum, nesterov: self.useNesterov ? 1 : 0 };
  eachGradient(grads, (param, grad, i, name) => {
    const acc = slot(self.accumulations, i, `${name}/momentum`, param);
    if (grad) runAndAssign(MOMENTUM_UPDATE, { param, acc, grad }, attrs, [param, acc]);
  });
  self.incrementIterations();
}

/** Replaces `cls.prototype.applyGradients` by `fused` while `kernel` is registered on the active backend. */
function wrap<S>(
  cls: { prototype: object },
  kernel: () => boolean,
  fused: (self: S, g: Gradients) => void,
): void {
  const proto = cls.prototype as Record<symbol | string, unknown>;
  if (Object.hasOwn(proto, FUSED)) return;
  const original = proto.applyGradients as (this: unknown, g: Gradients) => void;
  proto.applyGradients = function (this: unknown, grads: Gradients): void {
    if (!kernel()) return original.call(this, grads);
    fused(this as S, grads);
  };
  proto[FUSED] = true;
}

const registered = (name: string) => () => tf.getKernel(name, tf.getBackend()) !== undefined;

/** Wraps the `applyGradients` of tfjs's Adam, RMSProp and Momentum optimizers once (idempotent). */
export function fuseTfjsOptimizers(): void {
  wrap(tf.AdamOptimizer, hasFusedAdamW, adamApply);
  wrap(tf.RMSPropOptimizer, registered(RMSPROP_UPDATE), rmsPropApply);
  wrap(tf.MomentumOptimizer, registered(MOMENTUM_UPDATE), momentumApply);
}
