/**
 * `tf.train.adam` with the fused update: while the active backend registers the fused AdamW kernel
 * (src/nn/fused-update.ts; the aten backend does), `AdamOptimizer.applyGradients` updates each variable
 * with one kernel call instead of tfjs's ~10 element-wise ops. The state is tfjs's own (the moment
 * variables, accBeta1/2, iterations), so getWeights/setWeights, saved optimizers and `model.fit` are
 * unchanged; on any other backend tfjs's original method runs.
 */
import * as tf from '@tensorflow/tfjs-core';
import { fusedAdamWStep, hasFusedAdamW } from '../../nn/fused-update.js';

/** The AdamOptimizer fields the update reads and writes (public in tfjs's JS, protected in its types). */
interface AdamState {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: ({ originalName: string; variable: tf.Variable } | undefined)[];
  accumulatedSecondMoment: ({ originalName: string; variable: tf.Variable } | undefined)[];
  incrementIterations(): void;
}

type Gradients = tf.NamedTensorMap | { name: string; tensor: tf.Tensor }[];

const FUSED = Symbol.for('kexue.fusedAdam');

function moment(
  list: AdamState['accumulatedFirstMoment'],
  i: number,
  name: string,
  value: tf.Variable,
): tf.Variable {
  list[i] ??= { originalName: name, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
  return list[i].variable;
}

function fusedApply(self: AdamState, grads: Gradients): void {
  const names = Array.isArray(grads) ? grads.map((g) => g.name) : Object.keys(grads);
  // tfjs keeps β^t as float32 variables; reading them keeps its bias correction bit for bit.
  const bc1 = 1 - self.accBeta1.dataSync()[0];
  const bc2 = 1 - self.accBeta2.dataSync()[0];
  const attrs = { lr: self.learningRate, beta1: self.beta1, beta2: self.beta2, epsilon: self.epsilon };
  names.forEach((name, i) => {
    const param = tf.engine().registeredVariables[name];
    const m = moment(self.accumulatedFirstMoment, i, `${name}/m`, param);
    const v = moment(self.accumulatedSecondMoment, i, `${name}/v`, param);
    const grad = Array.isArray(grads) ? grads[i].tensor : grads[name];
    if (grad == null) return;
    fusedAdamWStep(param, m, v, grad, { ...attrs, bc1, bc2, decay: 1 });
  });
  tf.tidy(() => {
    self.accBeta1.assign(tf.mul(self.accBeta1, self.beta1));
    self.accBeta2.assign(tf.mul(self.accBeta2, self.beta2));
  });
  self.incrementIterations();
}

/** Wraps `tf.AdamOptimizer.prototype.applyGradients` once (idempotent). */
export function fuseTfjsAdam(): void {
  const proto = tf.AdamOptimizer.prototype as unknown as Record<symbol | string, unknown>;
  if (proto[FUSED]) return;
  const original = proto.applyGradients as (this: tf.AdamOptimizer, g: Gradients) => void;
  proto.applyGradients = function (this: tf.AdamOptimizer, grads: Gradients): void {
    if (!hasFusedAdamW()) return original.call(this, grads);
    fusedApply(this as unknown as AdamState, grads);
  };
  proto[FUSED] = true;
}
