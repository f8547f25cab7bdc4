/**
 * Saving and loading encoders in the TF.js weights format. A model directory holds
 *   config.json    — the EncoderConfig
 *   model.json     — TF.js-style manifest: { format, generatedBy, weightsManifest: [{ paths, weights }] }
 *   weights.bin    — float32 weights as written by tf.io.encodeWeights (names = parameter paths)
 *   vocab.txt, tokenizer.json — the tokenizer, when given
 * Weights are stored as raw float32, so a loaded model reproduces the saved one's outputs bit for bit.
 * A training checkpoint adds optimizer.json/optimizer.bin (optimizer state) and state.json (step and
 * caller data); it is written to a sibling directory and renamed into place, so a crash mid-write
 * never leaves a half-written checkpoint under the final name.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { readJsonFile } from '../io/text.js';
import { InputError } from '../io/errors.js';
import { findFolder, writeFileAtomic, writeFolderAtomic, writeJsonAtomic } from '../io/atomic.js';
import { packageVersion } from '../util/env.js';
import { loadTokenizer, saveTokenizer, type Tokenizer } from '../tokenizers/index.js';
import type { NamedTensor, StatefulOptimizer } from '../nn/optim.js';
import { makeConfig, type EncoderConfig } from './config.js';
import { Encoder } from './model.js';
import type { AttentionScaleFn } from './attention.js';

const FORMAT = 'kexue-encoder';

interface Manifest {
  format: string;
  formatVersion: number;
  generatedBy: string;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
}

async function writeWeights(dir: string, base: string, tensors: NamedTensor[]): Promise<void> {
  const { data, specs } = await tf.io.encodeWeights(tensors);
  writeFileAtomic(path.join(dir, `${base}.bin`), new Uint8Array(data));
  const manifest: Manifest = {
    format: FORMAT,
    formatVersion: 1,
    generatedBy: `kexue ${packageVersion()}`,
    weightsManifest: [{ paths: [`${base}.bin`], weights: specs }],
  };
  writeJsonAtomic(path.join(dir, `${base === 'weights' ? 'model' : base}.json`), manifest);
}

/** The first non-finite value among float32 weights (int32 entries are skipped), as "name[index] = value", or undefined. */
export function firstNonFinite(ab: ArrayBuffer, specs: tf.io.WeightsManifestEntry[]): string | undefined {
  let offset = 0;
  for (const w of specs) {
    const n = w.shape.reduce((a, b) => a * b, 1);
    if (offset + n * 4 > ab.byteLength) break; // a short file: the size check names it
    if (w.dtype === 'float32') {
      const values = new Float32Array(ab, offset, n);
      for (let i = 0; i < n; i++) if (!Number.isFinite(values[i])) return `${w.name}[${i}] = ${values[i]}`;
    }
    offset += n * 4;
  }
  return undefined;
}

/** Reads the tensors a manifest names, checking the files, their size and that every value is finite. */
function readWeights(dir: string, manifestFile: string): NamedTensor[] {
  const file = path.join(dir, manifestFile);
  const m = readJsonFile<Manifest>(file);
  const groups = m?.weightsManifest;
  if (m?.format !== FORMAT || !Array.isArray(groups)) {
    throw new InputError(`not a ${FORMAT} manifest`, file, undefined, 'format');
  }
  const out: NamedTensor[] = [];
  groups.forEach((group, g) => {
    if (!Array.isArray(group?.paths) || !group.paths.length || !Array.isArray(group.weights))
      throw new InputError('needs a list of paths and of weights', file, undefined, `weightsManifest[${g}]`);
    const buffers = group.paths.map((p) => {
      const bin = path.join(dir, p);
      if (!fs.existsSync(bin)) throw new InputError(`weights file named in ${manifestFile} is missing`, bin);
      return fs.readFileSync(bin);
    });
    const joined = Buffer.concat(buffers);
    const expected = group.weights.reduce((s, w) => s + w.shape.reduce((a, b) => a * b, 1) * 4, 0);
    // kexue writes float32 weights and int32 counters only: 4 bytes a value.
    if (
      joined.byteLength !== expected ||
      group.weights.some((w) => !['float32', 'int32'].includes(w.dtype))
    ) {
      throw new InputError(
        `weights are ${joined.byteLength} bytes of float32/int32, the manifest needs ${expected}`,
        path.join(dir, group.paths[0]),
      );
    }
    const ab = joined.buffer.slice(joined.byteOffset, joined.byteOffset + joined.byteLength) as ArrayBuffer;
    // A diverged or damaged model would otherwise load silently and give NaN outputs everywhere.
    const bad = firstNonFinite(ab, group.weights);
    if (bad)
      throw new InputError(
        `holds a non-finite weight (${bad}): the model is damaged`,
        path.join(dir, group.paths[0]),
      );
    const map = tf.io.decodeWeights(ab, group.weights);
    for (const w of group.weights) out.push({ name: w.name, tensor: map[w.name] });
  });
  return out;
}

async function writeModelFiles(dir: string, model: Encoder, tokenizer?: Tokenizer): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  writeJsonAtomic(path.join(dir, 'config.json'), model.config);
  const named = [...model.namedParameters()].map(([name, tensor]) => ({ name, tensor }));
  await writeWeights(dir, 'weights', named);
  if (tokenizer) saveTokenizer(dir, tokenizer);
}

/** Saves model (and tokenizer) to `dir`. */
export async function saveEncoder(dir: string, model: Encoder, tokenizer?: Tokenizer): Promise<void> {
  await writeModelFiles(dir, model, tokenizer);
}

export interface LoadedEncoder {
  model: Encoder;
  tokenizer?: Tokenizer;
}

/** Loads a directory written by `saveEncoder` (or a checkpoint's). `scale` overrides the named logit scale. */
export function loadEncoder(dir: string, opts: { scale?: AttentionScaleFn } = {}): LoadedEncoder {
  const raw = readJsonFile<EncoderConfig>(path.join(dir, 'config.json'));
  let config: EncoderConfig;
  try {
    config = makeConfig(raw);
  } catch (e) {
    throw new InputError((e as Error).message, path.join(dir, 'config.json'));
  }
  const weights = readWeights(dir, 'model.json');
  const model = new Encoder(config, opts);
  try {
    model.loadNamedTensors(Object.fromEntries(weights.map((w) => [w.name, w.tensor])));
  } catch (e) {
    model.dispose();
    throw new InputError((e as Error).message, path.join(dir, 'model.json'));
  } finally {
    tf.dispose(weights.map((w) => w.tensor));
  }
  const tokenizer = fs.existsSync(path.join(dir, 'vocab.txt')) ? loadTokenizer(dir) : undefined;
  if (tokenizer && tokenizer.vocab.size > config.vocabSize) {
    model.dispose();
    throw new InputError(
      `the vocabulary has ${tokenizer.vocab.size} tokens, the model's config.json only ${config.vocabSize}`,
      path.join(dir, 'vocab.txt'),
    );
  }
  return { model, tokenizer };
}

export interface CheckpointState {
  step: number;
  /** Anything JSON the trainer needs to resume (data position, seeds, metrics so far). */
  extra?: Record<string, unknown>;
}

/** Writes a resumable checkpoint (model, tokenizer, optimizer state, step) to `dir`, replacing any old one. */
export async function saveCheckpoint(
  dir: string,
  parts: { model: Encoder; tokenizer?: Tokenizer; optimizer?: StatefulOptimizer; state: CheckpointState },
): Promise<void> {
  await writeFolderAtomic(dir, async (tmp) => {
    await writeModelFiles(tmp, parts.model, parts.tokenizer);
    if (parts.optimizer) await writeWeights(tmp, 'optimizer', await parts.optimizer.getWeights());
    writeJsonAtomic(path.join(tmp, 'state.json'), parts.state);
  });
}

/** Whether `dir` (or the previous checkpoint left by an interrupted save) holds a checkpoint. */
export function findCheckpoint(dir: string): string | undefined {
  return findFolder(dir, 'state.json');
}

/**
 * Loads a checkpoint: the model (and tokenizer), the step, and — if `makeOptimizer` is given — an
 * optimizer built for the loaded model with its saved state restored.
 */
export async function loadCheckpoint<O extends StatefulOptimizer>(
  dir: string,
  makeOptimizer?: (model: Encoder) => O,
  opts: { scale?: AttentionScaleFn } = {},
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
