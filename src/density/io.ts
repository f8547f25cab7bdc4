/**
 * Saving and loading `VAEModel`s through TF.js IOHandlers (tf.io.browserLocalStorage, IndexedDB,
 * http, or kexue's Node file handler): modelTopology holds the config, the weights are float32 under
 * their parameter paths — the TF.js weights format, so any TF.js tool can read the tensors.
 */
import * as tf from '@tensorflow/tfjs-core';
import { checkConfig, VAEModel, type VAEConfig } from './build.js';

/** The `format` of a saved VAEModel's artifacts (and of modelTopology.format). */
export const VAE_FORMAT = 'kexue-vae';

interface Topology {
  format: string;
  formatVersion: number;
  config: VAEConfig;
}

/**
 * The model as TF.js ModelArtifacts (config in modelTopology, float32 weights).
 *
 * @example
 * const artifacts = await vaeArtifacts(vae);
 * const copy = vaeFromArtifacts(artifacts); // same config and weights
 */
export async function vaeArtifacts(model: VAEModel, generatedBy = 'kexue'): Promise<tf.io.ModelArtifacts> {
  const named = [...model.namedParameters()].map(([name, tensor]) => ({ name, tensor }));
  const { data, specs } = await tf.io.encodeWeights(named);
  const topology: Topology = { format: VAE_FORMAT, formatVersion: 1, config: model.config };
  return {
    modelTopology: topology as unknown as tf.io.ModelJSON['modelTopology'],
    format: VAE_FORMAT,
    generatedBy,
    weightSpecs: specs,
    weightData: data,
  };
}

/**
 * Saves through any TF.js IOHandler that can save.
 *
 * @example
 * await saveVAE(vae, directoryHandler('vae-dir/')); // Node: model.json + weights.bin
 * const back = await loadVAE(directoryHandler('vae-dir/'));
 */
export async function saveVAE(model: VAEModel, handler: tf.io.IOHandler): Promise<tf.io.SaveResult> {
  if (!handler.save) throw new Error('this IOHandler cannot save');
  return handler.save(await vaeArtifacts(model));
}

/**
 * Rebuilds a model from artifacts (from `vaeArtifacts` or an IOHandler's load); throws an Error naming
 * what does not match.
 *
 * @example
 * const copy = vaeFromArtifacts(await vaeArtifacts(vae));
 */
export function vaeFromArtifacts(a: tf.io.ModelArtifacts): VAEModel {
  const topo = a.modelTopology as unknown as Topology | undefined;
  if (!topo || topo.format !== VAE_FORMAT)
    throw new Error(`not a ${VAE_FORMAT} model (modelTopology.format)`);
  const config = checkConfig(topo.config);
  if (!a.weightSpecs || !a.weightData) throw new Error('the model has no weights');
  const buffer = Array.isArray(a.weightData) ? tf.io.concatenateArrayBuffers(a.weightData) : a.weightData;
  const expected = a.weightSpecs.reduce((s, w) => s + w.shape.reduce((x, y) => x * y, 1) * 4, 0);
  if (buffer.byteLength !== expected)
    throw new Error(`weights are ${buffer.byteLength} bytes, the manifest needs ${expected}`);
  const tensors = tf.io.decodeWeights(buffer, a.weightSpecs);
  const model = VAEModel.build(config);
  try {
    model.loadNamedTensors(tensors);
  } catch (e) {
    model.dispose();
    throw e;
  } finally {
    tf.dispose(Object.values(tensors));
  }
  return model;
}

/**
 * Loads through any TF.js IOHandler that can load (see `loadVAEDir` of kexue/node for a directory).
 *
 * @example
 * const v = await loadVAE(directoryHandler('vae-dir/'));
 * const r = await logLikelihood(v, binarizeFixed(images), { k: 5000 });
 */
export async function loadVAE(handler: tf.io.IOHandler): Promise<VAEModel> {
  if (!handler.load) throw new Error('this IOHandler cannot load');
  return vaeFromArtifacts(await handler.load());
}
