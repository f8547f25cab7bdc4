/**
 * VAE models on disk in the TF.js layout: `model.json` (modelTopology = the kexue-vae config,
 * weightsManifest) + `weights.bin` (float32), via a tf.io.IOHandler for a directory. A training
 * checkpoint is a directory with the model, `optimizer.json`/`optimizer.bin` (Adam moments) and
 * `state.json` (epoch and the settings it was trained with); it is written beside the old one and
 * renamed into place, so an interrupted save never leaves a half-written checkpoint.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { readJsonFile } from './text.js';
import { InputError } from './errors.js';
import { findFolder, writeFileAtomic, writeFolderAtomic, writeJsonAtomic } from './atomic.js';
import { packageVersion } from '../util/env.js';
import { saveVAE, vaeFromArtifacts, type VAEModel, type VAETrainer } from '../density/index.js';
import type { NamedTensor, StatefulOptimizer } from '../nn/optim.js';
import { firstNonFinite } from '../encoder/io.js';

interface ModelJson {
  format?: string;
  generatedBy?: string;
  modelTopology?: unknown;
  weightsManifest?: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
}

/**
 * A tf.io.IOHandler that saves to / loads from `dir` (model.json + weights.bin; with another `base`,
 * `<base>.json` + `<base>.bin`).
 *
 * @example
 * await saveVAE(vae, directoryHandler('vae-dir/'));
 * await model.save(directoryHandler('classifier/')); // any tf.LayersModel too
 */
export function directoryHandler(
  dir: string,
  base = 'model',
): Required<Pick<tf.io.IOHandler, 'save' | 'load'>> {
  const bin = `${base === 'model' ? 'weights' : base}.bin`;
  return {
    async save(a: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      fs.mkdirSync(dir, { recursive: true });
      const data = a.weightData
        ? Array.isArray(a.weightData)
          ? tf.io.concatenateArrayBuffers(a.weightData)
          : a.weightData
        : new ArrayBuffer(0);
      writeFileAtomic(path.join(dir, bin), new Uint8Array(data));
      const json: ModelJson = {
        format: a.format,
        generatedBy: `kexue ${packageVersion()}`,
        modelTopology: a.modelTopology,
        weightsManifest: [{ paths: [bin], weights: a.weightSpecs ?? [] }],
      };
      writeJsonAtomic(path.join(dir, `${base}.json`), json);
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: 'JSON',
          weightDataBytes: data.byteLength,
        },
      };
    },
    async load(): Promise<tf.io.ModelArtifacts> {
      const file = path.join(dir, `${base}.json`);
      const m = readJsonFile<ModelJson | null>(file);
      if (typeof m !== 'object' || m === null || !Array.isArray(m.weightsManifest))
        throw new InputError('no weightsManifest', file, undefined, 'weightsManifest');
      m.weightsManifest.forEach((g, i) => {
        if (!Array.isArray(g?.paths) || !Array.isArray(g.weights))
          throw new InputError(
            'needs a list of paths and of weights',
            file,
            undefined,
            `weightsManifest[${i}]`,
          );
      });
      const weightSpecs = m.weightsManifest.flatMap((g) => g.weights);
      const parts = m.weightsManifest.flatMap((g) =>
        g.paths.map((p) => {
          const f = path.join(dir, p);
          if (!fs.existsSync(f)) throw new InputError('weights file not found', f);
          return fs.readFileSync(f);
        }),
      );
      const joined = Buffer.concat(parts);
      const weightData = joined.buffer.slice(
        joined.byteOffset,
        joined.byteOffset + joined.byteLength,
      ) as ArrayBuffer;
      return {
        modelTopology: m.modelTopology as tf.io.ModelArtifacts['modelTopology'],
        format: m.format,
        generatedBy: m.generatedBy,
        weightSpecs,
        weightData,
      };
    },
  };
}

/**
 * Loads a VAE saved by `kexue density train` (or `saveVAE` with `directoryHandler`); a model with
 * non-finite weights is refused.
 *
 * @example
 * const loaded = await loadVAEDir('vae-dir/');
 */
export async function loadVAEDir(dir: string): Promise<VAEModel> {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory())
    throw new InputError('model directory not found', dir);
  const artifacts = await directoryHandler(dir).load();
  // A model that trained into NaN (or a damaged file) would score every input as NaN: refuse it here.
  const bad =
    artifacts.weightData && artifacts.weightSpecs
      ? firstNonFinite(artifacts.weightData as ArrayBuffer, artifacts.weightSpecs)
      : undefined;
  if (bad)
    throw new InputError(`weight ${bad} is not finite: the model is damaged`, path.join(dir, 'weights.bin'));
  try {
    return vaeFromArtifacts(artifacts);
  } catch (e) {
    throw new InputError((e as Error).message, path.join(dir, 'model.json'));
  }
}

/** A VAE training checkpoint's state.json. */
export interface TrainState {
  /** Epochs completed. */
  epoch: number;
  /** The settings it was trained with (a resumed run must match them). */
  settings: Record<string, unknown>;
  /** Per-epoch mean training bound (nats) and wall-clock seconds. */
  history: { epoch: number; bound: number; seconds: number }[];
}

/**
 * Writes model + optimizer + state to `dir` (replacing an older checkpoint atomically).
 *
 * @example
 * const state: TrainState = { epoch: 5, settings: { k: 5 }, history: [] };
 * await saveTrainCheckpoint('ckpt', vae, optimizer, state);
 */
export async function saveTrainCheckpoint(
  dir: string,
  model: VAEModel,
  optimizer: StatefulOptimizer,
  state: TrainState,
): Promise<void> {
  await writeFolderAtomic(dir, async (tmp) => {
    await saveVAE(model, directoryHandler(tmp));
    const { data, specs } = await tf.io.encodeWeights(await optimizer.getWeights());
    await directoryHandler(tmp, 'optimizer').save({
      weightSpecs: specs,
      weightData: data,
      format: 'kexue-optimizer',
    });
    writeJsonAtomic(path.join(tmp, 'state.json'), state);
  });
}

/**
 * The checkpoint directory to resume from: `dir`, or the `<dir>.old` an interrupted save left; undefined
 * when there is none.
 *
 * @example
 * const found = findTrainCheckpoint('ckpt');
 * if (found) console.log(`resuming after epoch ${readTrainState(found).epoch}`);
 */
export function findTrainCheckpoint(dir: string): string | undefined {
  return findFolder(dir, 'state.json');
}

/**
 * Reads a checkpoint's state.json (see `TrainState`); the epoch must be a non-negative integer.
 *
 * @example
 * const { epoch, history } = readTrainState('ckpt');
 */
export function readTrainState(dir: string): TrainState {
  const file = path.join(dir, 'state.json');
  const s = readJsonFile<TrainState>(file);
  if (!Number.isInteger(s.epoch) || s.epoch < 0)
    throw new InputError('epoch must be a non-negative integer', file, undefined, 'epoch');
  return s;
}

/**
 * Restores the optimizer state (Adam's moments) saved by `saveTrainCheckpoint` into `optimizer`, which
 * must be built for the same parameters.
 *
 * @example
 * const found = findTrainCheckpoint('ckpt');
 * if (found) {
 *   const resumed = await loadVAEDir(found);
 *   await loadOptimizerState(found, optimizer);
 * }
 */
export async function loadOptimizerState(dir: string, optimizer: StatefulOptimizer): Promise<void> {
  const a = await directoryHandler(dir, 'optimizer').load();
  const map = tf.io.decodeWeights(a.weightData as ArrayBuffer, a.weightSpecs ?? []);
  const named: NamedTensor[] = Object.entries(map).map(([name, tensor]) => ({ name, tensor }));
  try {
    await optimizer.setWeights(named);
  } catch (e) {
    throw new InputError((e as Error).message, path.join(dir, 'optimizer.json'));
  } finally {
    tf.dispose(named.map((n) => n.tensor));
  }
}

/**
 * Trains on from where `state` says (restoring Adam's moments from `resumeFrom`, a found checkpoint) up
 * to `epochs`, recording each epoch in `state` and, with `dir`, saving a checkpoint there after every
 * epoch — the loop `kexue density train` and the density experiment share.
 *
 * @example
 * const trainer = new VAETrainer(vae, images, { objective: 'iwae', k: 5, epochs: 10 });
 * const state: TrainState = { epoch: 0, settings: {}, history: [] };
 * await trainEpochsWithCheckpoints(trainer, vae, state, { epochs: 10, dir: 'ckpt' });
 */
export async function trainEpochsWithCheckpoints(
  trainer: VAETrainer,
  model: VAEModel,
  state: TrainState,
  o: { epochs: number; dir?: string; resumeFrom?: string; onBatch?: (bound: number) => void },
): Promise<void> {
  if (o.resumeFrom) {
    await loadOptimizerState(o.resumeFrom, trainer.optimizer);
    trainer.epoch = state.epoch;
  }
  while (trainer.epoch < o.epochs) {
    const e = trainer.trainEpoch((b) => o.onBatch?.(b));
    state.epoch = trainer.epoch;
    state.history.push(e);
    if (o.dir) await saveTrainCheckpoint(o.dir, model, trainer.optimizer, state);
  }
}
