/**
 * The gradients of Add, Sub, Multiply, RealDiv, Sum and Mean with tfjs-core 4.22's values, bit for bit,
 * in fewer kernels. tfjs's reshape every input gradient to the input's shape even when it has it already,
 * cast float32 operands to float32, and build Sum's and Mean's gradient by multiplying dy with a tensor
 * of ones filled in JavaScript and uploaded to the backend each time. Each of those is a kernel with the
 * engine's fixed cost (~5–10 µs here, as much as the arithmetic of a 10^4-element tensor): in a VAE's IWAE
 * step they were 45 of 271 kernels. Here an input gradient is dy itself when no reduction is needed, a
 * cast happens only for other dtypes, and Sum/Mean broadcast dy (one Tile kernel, no upload).
 *
 * Handing dy on as a gradient is safe for one input of a node: the engine is done with dy once the node's
 * gradients are taken, and it only ever disposes an accumulated gradient after adding it into a new one.
 * Two inputs must not share one tensor (accumulating into one would dispose the other's), so Add's second
 * input gets its own handle. All of it is ordinary ops, so the gradients stay differentiable.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GradConfig, NamedAttrMap, Tensor } from '@tensorflow/tfjs-core';
import { one } from './activations.js';

const sameShape = (a: number[], b: number[]) => tf.util.arraysEqual(a, b);

function asFloat(t: Tensor): Tensor {
  return t.dtype === 'float32' ? t : tf.cast(t, 'float32');
}

/**
 * `g` (of the broadcast output's shape) summed over the axes along which `shape` was broadcast, in
 * `shape`; `g` itself when nothing was broadcast.
 */
export function reduceTo(g: Tensor, shape: number[]): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const axes = tf.backend_util.getReductionAxes(shape, g.shape);
  // Keeping the reduced axes gives `shape` directly when the ranks agree; otherwise a reshape drops them.
  const r = axes.length > 0 ? tf.sum(g, axes, g.rank === shape.length) : g;
  return sameShape(r.shape, shape) ? r : tf.reshape(r, shape);
}

/** A separate handle on `t` (Identity shares the data: no copy). */
function handle(t: Tensor): Tensor {
  return tf.engine().runKernel('Identity', { x: t }) as Tensor;
}

/** A gradient config for a two-input op (a, b both saved) from its input gradients given dy, a and b. */
function binary(
  kernelName: string,
  grads: (g: Tensor, a: Tensor, b: Tensor) => { a: () => Tensor; b: () => Tensor },
): GradConfig {
  return { kernelName, inputsToSave: ['a', 'b'], gradFunc: (dy, [a, b]) => grads(one(dy), a, b) };
}

const add = binary('Add', (g, a, b) => ({
  a: () => reduceTo(g, a.shape),
  b: () => {
    const r = reduceTo(g, b.shape);
    return r === g ? handle(g) : r;
  },
}));

const sub = binary('Sub', (g, a, b) => ({
  a: () => reduceTo(g, a.shape),
  b: () => tf.neg(reduceTo(g, b.shape)),
}));

const multiply = binary('Multiply', (g, a, b) => ({
  a: () => reduceTo(tf.mul(g, asFloat(b)), a.shape),
  b: () => reduceTo(tf.mul(g, asFloat(a)), b.shape),
}));

const realDiv = binary('RealDiv', (g, a, b) => ({
  a: () => reduceTo(tf.div(g, asFloat(b)), a.shape),
  b: () => tf.neg(tf.div(reduceTo(tf.mul(g, asFloat(a)), b.shape), asFloat(tf.square(b)))),
}));

/** The axes a Sum or Mean of `x` reduced. */
function reducedAxes(x: Tensor, attrs: NamedAttrMap): number[] {
  return tf.util.parseAxisParam(attrs.axis as number | number[], x.shape);
}

/** dy with the reduced axes of `x` put back as size 1 (what a reduction with keepDims returns). */
function expanded(dy: Tensor, x: Tensor, axes: number[]): Tensor {
  const shape = x.shape.slice();
  for (const axis of axes) shape[axis] = 1;
  return sameShape(dy.shape, shape) ? dy : tf.reshape(dy, shape);
}

const sum: GradConfig = {
  kernelName: 'Sum',
  inputsToSave: ['x'],
  gradFunc: (dy, [x], attrs) => ({
    x: () => tf.broadcastTo(expanded(one(dy), x, reducedAxes(x, attrs)), x.shape),
  }),
};

const mean: GradConfig = {
  kernelName: 'Mean',
  inputsToSave: ['x'],
  gradFunc: (dy, [x], attrs) => ({
    x: () => {
      const axes = reducedAxes(x, attrs);
      const size = axes.reduce((n, axis) => n * x.shape[axis], 1);
      return tf.broadcastTo(tf.div(expanded(one(dy), x, axes), size), x.shape);
    },
  }),
};

/** Registered over tfjs-core's by `registerGradientFixes` (src/grad/index.ts). */
export const arithmeticGrads: GradConfig[] = [add, sub, multiply, realDiv, sum, mean];
