/**
 * Encoders on disk (Node): a model directory in the layout of encoder/io.ts, and training checkpoints.
 * A checkpoint adds optimizer.json/optimizer.bin (optimizer state) and state.json (step and caller
 * data); it is written to a sibling directory and renamed into place, so a crash mid-write never leaves
 * a half-written checkpoint under the final name.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { readJsonFile } from './text.js';
import { InputError } from './errors.js';
import { findFolder, writeFileAtomic, writeFolderAtomic, writeJsonAtomic } from './atomic.js';
import {
  artifactsFromFiles,
  decodeNamedWeights,
  encoderArtifacts,
  encoderFromArtifacts,
  filesFromArtifacts,
  readWeightFiles,
  weightsManifest,
  type EncoderFiles,
  type LoadEncoderOptions,
  type LoadedEncoder,
} from '../encoder/io.js';
import type { Encoder } from '../encoder/model.js';
import type { Tokenizer } from '../tokenizers/index.js';
import type { NamedTensor, StatefulOptimizer } from '../nn/optim.js';

/** A directory's files for the byte-level loaders of encoder/io.ts. */
export function directoryFiles(dir: string): EncoderFiles {
  return {
    read: (name) => {
      const file = path.join(dir, name);
      return fs.existsSync(file) ? fs.readFileSync(file) : undefined;
    },
    where: (name) => path.join(dir, name),
  };
}

async function writeWeights(dir: string, base: string, tensors: NamedTensor[]): Promise<void> {
  const { data, specs } = await tf.io.encodeWeights(tensors);
  writeFileAtomic(path.join(dir, `${base}.bin`), new Uint8Array(data));
  writeJsonAtomic(path.join(dir, `${base}.json`), weightsManifest(base, specs));
}

/** Reads the tensors a manifest names, checking the files, their size and that every value is finite. */
function readWeights(dir: string, manifestFile: string): NamedTensor[] {
  const { specs, data } = readWeightFiles(directoryFiles(dir), manifestFile);
  return decodeNamedWeights(specs, data);
}

async function writeModelFiles(dir: string, model: Encoder, tokenizer?: Tokenizer): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  const files = filesFromArtifacts(await encoderArtifacts(model, tokenizer));
  // Weights before the manifest that names them, config last: a reader never sees a manifest without its data.
  for (const name of ['weights.bin', 'model.json', 'vocab.txt', 'tokenizer.json', 'config.json']) {
    const content = files.get(name);
    if (content !== undefined) writeFileAtomic(path.join(dir, name), content);
  }
}

/**
 * Saves model (and tokenizer) to the directory `dir` (created if needed): config.json, model.json,
 * weights.bin, and vocab.txt and tokenizer.json with a tokenizer.
 *
 * @example
 * await saveEncoder('model-dir/', encoder, tokenizer);
 * const { model, tokenizer: tok } = loadEncoder('model-dir/');
 */
export async function saveEncoder(dir: string, model: Encoder, tokenizer?: Tokenizer): Promise<void> {
  await writeModelFiles(dir, model, tokenizer);
}

/**
 * Loads a directory written by `saveEncoder` (or a checkpoint's). `scale` supplies the attention logit
 * scale of a model saved with `attentionScale: 'custom'`. `tokenizer` is undefined when the directory has
 * no vocab.txt.
 *
 * @example
 * const { model, tokenizer } = loadEncoder('model-dir/');
 * model.dispose();
 */
export function loadEncoder(dir: string, opts: LoadEncoderOptions = {}): LoadedEncoder {
  const files = directoryFiles(dir);
  const artifacts = artifactsFromFiles(files);
  return encoderFromArtifacts(artifacts, opts, files.where);
}

/** Step and caller data of a training checkpoint. */
export interface CheckpointState {
  step: number;
  /** Anything JSON the trainer needs to resume (data position, seeds, metrics so far). */
  extra?: Record<string, unknown>;
}

/**
 * Writes a resumable checkpoint (model, tokenizer, optimizer state, step, and any other named tensor
 * groups as `<group>.bin`/`<group>.json`) to `dir`, replacing any old one only once the new one is complete.
 *
 * @example
 * const opt = new AdamW(encoder.namedParameters(), { weightDecay: 0.01 });
 * await saveCheckpoint('ckpt', { model: encoder, tokenizer, optimizer: opt, state: { step: 1000 } });
 */
export async function saveCheckpoint(
  dir: string,
  parts: {
    model: Encoder;
    tokenizer?: Tokenizer;
    optimizer?: StatefulOptimizer;
    tensors?: Record<string, NamedTensor[]>;
    state: CheckpointState;
  },
): Promise<void> {
  await writeFolderAtomic(dir, async (tmp) => {
    await writeModelFiles(tmp, parts.model, parts.tokenizer);
    if (parts.optimizer) await writeWeights(tmp, 'optimizer', await parts.optimizer.getWeights());
    for (const [group, tensors] of Object.entries(parts.tensors ?? {}))
      if (tensors.length) await writeWeights(tmp, group, tensors);
    writeJsonAtomic(path.join(tmp, 'state.json'), parts.state);
  });
}

/**
 * The folder holding the checkpoint saved to `dir`: `dir` itself, or `<dir>.old` when a save was
 * interrupted; undefined when there is none.
 *
 * @example
 * const found = findCheckpoint('ckpt'); // 'ckpt', 'ckpt.old' or undefined
 */
export function findCheckpoint(dir: string): string | undefined {
  return findFolder(dir, 'state.json');
}

/**
 * A tensor group saved with the checkpoint in `dir` (`saveCheckpoint`'s `tensors`, or 'optimizer'),
 * checked like weights; an empty list when the checkpoint has none.
 *
 * @example
 * const state = readCheckpointTensors('ckpt', 'optimizer'); // [{ name: 'iterations', tensor }, ...]
 */
export function readCheckpointTensors(dir: string, group: string): NamedTensor[] {
  const found = findCheckpoint(dir);
  if (!found) throw new InputError('no checkpoint (state.json) here', dir);
  return fs.existsSync(path.join(found, `${group}.json`)) ? readWeights(found, `${group}.json`) : [];
}

/**
 * Loads a checkpoint: the model (and tokenizer), the step, and — if `makeOptimizer` is given — an
 * optimizer built for the loaded model with its saved state restored.
 *
 * @example
 * if (findCheckpoint('ckpt')) {
 *   const makeOptimizer = (m: Encoder) => new AdamW(m.namedParameters());
 *   const { model, tokenizer, optimizer: opt, state } = await loadCheckpoint('ckpt', makeOptimizer);
 *   console.log(`resuming at step ${state.step}`);
 * }
 */
export async function loadCheckpoint<O extends StatefulOptimizer>(
  dir: string,
  makeOptimizer?: (model: Encoder) => O,
  opts: LoadEncoderOptions = {},
): Promise<LoadedEncoder & { optimizer?: O; state: CheckpointState }> {
  const found = findCheckpoint(dir);
  if (!found) throw new InputError('no checkpoint (state.json) here', dir);
  const state = readJsonFile<CheckpointState>(path.join(found, 'state.json'));
  if (!Number.isInteger(state.step) || state.step < 0) {
    throw new InputError(
      'step must be a non-negative integer',
      path.join(found, 'state.json'),
      undefined,
      'step',
    );
  }
  const loaded = loadEncoder(found, opts);
  let optimizer: O | undefined;
  if (makeOptimizer) {
    optimizer = makeOptimizer(loaded.model);
    if (fs.existsSync(path.join(found, 'optimizer.json'))) {
      const weights = readWeights(found, 'optimizer.json');
      try {
        await optimizer.setWeights(weights);
      } finally {
        // tf.train optimizers keep the tensors they are given (as variables' initial values are copied).
        tf.dispose(weights.filter((w) => !w.tensor.isDisposed).map((w) => w.tensor));
      }
    }
  }
  return { ...loaded, optimizer, state };
}
