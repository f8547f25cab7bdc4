/**
 * A `tf.LayersModel` made of Dense layers, read as the float64 MLP of the inequality. TF.js stores a
 * Dense kernel as [in, out]; the note (and `DenseLayer.weight`) uses W row-major [out, in], so the kernel
 * is transposed here — passing a TF.js kernel's values as `weight` by hand silently computes the
 * inequality of a different network, which is why this conversion exists.
 */
import type * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { InputError } from '../io/errors.js';
import { readBackAsync, readBackSync } from '../util/read-back.js';
import { ACTIVATIONS, type Activation, type DenseLayer, type Mlp } from './inequality.js';

/** True for a `tf.LayersModel` (also from another copy of tfjs-layers: checked by shape, not class). */
export function isLayersModel(x: unknown): x is tfl.LayersModel {
  if (x instanceof tfl.LayersModel) return true;
  const m = x as { layers?: unknown; predict?: unknown; trainableWeights?: unknown } | null;
  return m !== null && typeof m === 'object' && Array.isArray(m.layers) && typeof m.predict === 'function';
}

/** The activation name of a Dense layer's config (tfjs-layers serialises it as a string). */
function activationOf(layer: tfl.layers.Layer, t: number): Activation {
  const name = String(layer.getConfig().activation ?? 'linear');
  if (!(ACTIVATIONS as readonly string[]).includes(name))
    throw new InputError(
      `layer ${t} ('${layer.name}') has activation '${name}'; supported: ${ACTIVATIONS.join(', ')}`,
      'model',
    );
  return name as Activation;
}

/** The layers of a chain model in order, InputLayers dropped; anything that is not a chain is an error. */
function chainLayers(model: tfl.LayersModel): tfl.layers.Layer[] {
  if (model.inputs.length !== 1 || model.outputs.length !== 1)
    throw new InputError(
      `must have one input and one output, got ${model.inputs.length} and ${model.outputs.length}`,
      'model',
    );
  const layers = model.layers.filter((l) => l.getClassName() !== 'InputLayer');
  layers.forEach((l, t) => {
    const inbound = l.inboundNodes.flatMap((n) => n.inboundLayers);
    const prev = t === 0 ? undefined : layers[t - 1];
    if (prev && !(inbound.length === 1 && inbound[0] === prev))
      throw new InputError(`layer ${t} ('${l.name}') does not take layer ${t - 1}'s output alone`, 'model');
  });
  return layers;
}

/**
 * The float64 MLP of a `tf.LayersModel` made only of Dense layers (relu, tanh, gelu or linear; with or
 * without bias) in a chain, ending in one unit. Anything else is rejected with an error naming the layer.
 *
 * @example
 * const mlp = mlpFromLayersModel(tf.sequential({ layers: [tf.layers.dense({ units: 8, inputShape: [4],
 *   activation: 'tanh' }), tf.layers.dense({ units: 1 })] }));
 */
export function mlpFromLayersModel(model: tfl.LayersModel): Mlp {
  return readBackSync(mlpWork(model));
}

/**
 * As `mlpFromLayersModel`, reading the weights with `await data()` instead of `dataSync()`.
 *
 * @example
 * const mlp = await mlpFromLayersModelAsync(critic);
 */
export function mlpFromLayersModelAsync(model: tfl.LayersModel): Promise<Mlp> {
  return readBackAsync(mlpWork(model));
}

// Yields each kernel and bias to be read; they are the model's own tensors, so nothing is disposed.
function* mlpWork(model: tfl.LayersModel): Generator<tf.Tensor, Mlp, ArrayLike<number>> {
  if (!isLayersModel(model)) throw new InputError('must be a tf.LayersModel', 'model');
  const layers = chainLayers(model);
  if (layers.length === 0) throw new InputError('has no Dense layers', 'model');
  const out: DenseLayer[] = [];
  for (const [t, l] of layers.entries()) {
    if (l.getClassName() !== 'Dense')
      throw new InputError(
        `layer ${t} ('${l.name}') is a ${l.getClassName()}; only Dense layers are supported`,
        'model',
      );
    const [kernel, bias] = l.getWeights() as [tf.Tensor2D, tf.Tensor1D?];
    if (kernel.rank !== 2)
      throw new InputError(`layer ${t} ('${l.name}') has a rank-${kernel.rank} kernel`, 'model');
    const [inDim, outDim] = kernel.shape;
    const activation = activationOf(l, t);
    const k = yield kernel;
    const weight = new Float64Array(inDim * outDim);
    for (let i = 0; i < inDim; i++)
      for (let o = 0; o < outDim; o++) weight[o * inDim + i] = k[i * outDim + o];
    out.push({
      inDim,
      outDim,
      weight,
      bias: bias ? Float64Array.from(yield bias) : new Float64Array(outDim),
      activation,
      hasBias: bias !== undefined,
    });
  }
  const inputShape = model.inputs[0].shape;
  if (inputShape.length !== 2)
    throw new InputError(`input must be [batch, features], got [${inputShape.map(String)}]`, 'model');
  if (out[out.length - 1].outDim !== 1)
    throw new InputError(`the last layer must have one unit, got ${out[out.length - 1].outDim}`, 'model');
  return { layers: out };
}
