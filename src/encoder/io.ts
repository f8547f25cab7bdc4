/**
 * Encoders as tf.io model artifacts, and the stored layout they map to. A model directory holds
 *   config.json    — the EncoderConfig
 *   model.json     — TF.js-style manifest: { format, generatedBy, weightsManifest: [{ paths, weights }] }
 *   weights.bin    — float32 weights as written by tf.io.encodeWeights (names = parameter paths)
 *   vocab.txt, tokenizer.json — the tokenizer, when given
 * Weights are stored as raw float32, so a loaded model reproduces the saved one's outputs bit for bit.
 *
 * This module is browser-safe: it works on bytes (`EncoderFiles`), on tf.io.ModelArtifacts (any
 * tf.io.IOHandler, e.g. tf.io.fromMemory / tf.io.withSaveHandler) and over HTTP (`encoderHttpHandler`,
 * fetch). Reading and writing a directory on disk, and training checkpoints, are in the Node layer
 * (kexue/node: saveEncoder, loadEncoder, saveCheckpoint, loadCheckpoint).
 */
import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../io/errors.js';
import { VERSION } from '../version.js';
import {
  tokenizerFiles,
  tokenizerFromFiles,
  type Tokenizer,
  type TokenizerFiles,
} from '../tokenizers/index.js';
import type { NamedTensor } from '../nn/optim.js';
import { makeConfig, type EncoderConfig } from './config.js';
import { Encoder } from './model.js';
import type { AttentionScaleFn } from './attention.js';

/** The `format` of an encoder's model.json and artifacts. */
export const ENCODER_FORMAT = 'kexue-encoder';

/** The manifest (`model.json`, `optimizer.json`) of stored weights. */
export interface WeightsManifestFile {
  format: string;
  formatVersion: number;
  generatedBy: string;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
}

/**
 * A stored model directory seen as files: `read(name)` gives a file's bytes (undefined when absent) and
 * `where(name)` the path or URL to name in error messages.
 */
export interface EncoderFiles {
  read(name: string): Uint8Array | undefined;
  where(name: string): string;
}

/** A loaded encoder and, when the model was saved with one, its tokenizer. */
export interface LoadedEncoder {
  model: Encoder;
  tokenizer?: Tokenizer;
}

/** Options for loading: `scale` supplies a custom attention logit scale (config `attentionScale: 'custom'`). */
export interface LoadEncoderOptions {
  scale?: AttentionScaleFn;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

function toBuffer(data: tf.io.WeightData | undefined): ArrayBuffer {
  if (!data) return new ArrayBuffer(0);
  if (!Array.isArray(data)) return data;
  const out = new Uint8Array(data.reduce((s, b) => s + b.byteLength, 0));
  let offset = 0;
  for (const b of data) {
    out.set(new Uint8Array(b), offset);
    offset += b.byteLength;
  }
  return out.buffer;
}

function parseJson<T>(bytes: Uint8Array, where: string): T {
  try {
    return JSON.parse(utf8.decode(bytes).replace(/^\uFEFF/, '')) as T;
  } catch (e) {
    throw new InputError(`not valid JSON (${(e as Error).message})`, where);
  }
}

/** A JSON file of `files`, or undefined when absent. */
export function readJsonOf<T>(files: EncoderFiles, name: string): T | undefined {
  const bytes = files.read(name);
  return bytes === undefined ? undefined : parseJson<T>(bytes, files.where(name));
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

/** Throws unless `data` holds exactly the float32/int32 values `specs` describe, all finite. */
function checkWeights(data: ArrayBuffer, specs: tf.io.WeightsManifestEntry[], where: string): void {
  const expected = specs.reduce((s, w) => s + w.shape.reduce((a, b) => a * b, 1) * 4, 0);
  // kexue writes float32 weights and int32 counters only: 4 bytes a value.
  if (data.byteLength !== expected || specs.some((w) => !['float32', 'int32'].includes(w.dtype))) {
    throw new InputError(
      `weights are ${data.byteLength} bytes of float32/int32, the manifest needs ${expected}`,
      where,
    );
  }
  // A diverged or damaged model would otherwise load silently and give NaN outputs everywhere.
  const bad = firstNonFinite(data, specs);
  if (bad) throw new InputError(`holds a non-finite weight (${bad}): the model is damaged`, where);
}

/** The weight files a manifest names, each group checked (files present, size, finite values). */
export function readWeightFiles(
  files: EncoderFiles,
  manifestName: string,
): { specs: tf.io.WeightsManifestEntry[]; data: ArrayBuffer } {
  const where = files.where(manifestName);
  const m = readJsonOf<WeightsManifestFile>(files, manifestName);
  if (m === undefined) throw new InputError('file not found', where);
  const groups = m?.weightsManifest;
  if (m?.format !== ENCODER_FORMAT || !Array.isArray(groups)) {
    throw new InputError(`not a ${ENCODER_FORMAT} manifest`, where, undefined, 'format');
  }
  const specs: tf.io.WeightsManifestEntry[] = [];
  const parts: ArrayBuffer[] = [];
  groups.forEach((group, g) => {
    if (!Array.isArray(group?.paths) || !group.paths.length || !Array.isArray(group.weights))
      throw new InputError('needs a list of paths and of weights', where, undefined, `weightsManifest[${g}]`);
    const data = toBuffer(
      group.paths.map((p) => {
        const bytes = files.read(p);
        if (!bytes) throw new InputError(`weights file named in ${manifestName} is missing`, files.where(p));
        // A copy: a small file read by Node may be a view into a larger shared pool.
        return new Uint8Array(bytes).buffer as ArrayBuffer;
      }),
    );
    checkWeights(data, group.weights, files.where(group.paths[0]));
    specs.push(...group.weights);
    parts.push(data);
  });
  return { specs, data: toBuffer(parts) };
}

/** Decodes checked weight data into named tensors (the caller owns them). */
export function decodeNamedWeights(specs: tf.io.WeightsManifestEntry[], data: ArrayBuffer): NamedTensor[] {
  const map = tf.io.decodeWeights(data, specs);
  return specs.map((w) => ({ name: w.name, tensor: map[w.name] }));
}

/** The manifest for weights stored as `<base>.bin`. */
export function weightsManifest(base: string, specs: tf.io.WeightsManifestEntry[]): WeightsManifestFile {
  return {
    format: ENCODER_FORMAT,
    formatVersion: 1,
    generatedBy: `kexue ${VERSION}`,
    weightsManifest: [{ paths: [`${base}.bin`], weights: specs }],
  };
}

/**
 * A saved encoder as tf.io.ModelArtifacts: modelTopology = its EncoderConfig, the weights as float32,
 * and the tokenizer (vocab text and options) in userDefinedMetadata.tokenizer. Pass to any
 * tf.io.IOHandler's save, or keep in memory and load with `encoderFromArtifacts`.
 *
 * @example
 * const artifacts = await encoderArtifacts(encoder, tokenizer);
 * const copy = encoderFromArtifacts(artifacts); // { model: Encoder, tokenizer?: Tokenizer }
 */
export async function encoderArtifacts(model: Encoder, tokenizer?: Tokenizer): Promise<tf.io.ModelArtifacts> {
  const named = [...model.namedParameters()].map(([name, tensor]) => ({ name, tensor }));
  const { data, specs } = await tf.io.encodeWeights(named);
  const artifacts: tf.io.ModelArtifacts = {
    format: ENCODER_FORMAT,
    generatedBy: `kexue ${VERSION}`,
    modelTopology: { ...model.config },
    weightSpecs: specs,
    weightData: data,
  };
  if (tokenizer) artifacts.userDefinedMetadata = { tokenizer: tokenizerFiles(tokenizer) };
  return artifacts;
}

/** Where each stored file of an artifact is named in errors (file paths, URLs, or artifact fields). */
export type ArtifactsWhere = (
  file: 'config.json' | 'model.json' | 'weights.bin' | 'vocab.txt' | 'tokenizer.json',
) => string;

const IN_MEMORY: ArtifactsWhere = (f) =>
  ({
    'config.json': 'artifacts.modelTopology',
    'model.json': 'artifacts',
    'weights.bin': 'artifacts.weightData',
    'vocab.txt': 'artifacts.userDefinedMetadata.tokenizer',
    'tokenizer.json': 'artifacts.userDefinedMetadata.tokenizer',
  })[f];

/**
 * Rebuilds an encoder (and its tokenizer) from artifacts made by `encoderArtifacts` or loaded from a
 * model directory. Checks the format, the config, the weights' size and finiteness, and that the
 * tokenizer fits the model; every problem is an InputError naming the file or field.
 *
 * @example
 * const artifacts = await encoderArtifacts(encoder, tokenizer);
 * const { model: copy, tokenizer: tok } = encoderFromArtifacts(artifacts);
 * copy.config.hidden === encoder.config.hidden; // → true; the weights are equal bit for bit
 */
export function encoderFromArtifacts(
  a: tf.io.ModelArtifacts,
  opts: LoadEncoderOptions = {},
  where: ArtifactsWhere = IN_MEMORY,
): LoadedEncoder {
  if (a?.format !== ENCODER_FORMAT)
    throw new InputError(
      `not a ${ENCODER_FORMAT} model (format ${JSON.stringify(a?.format)})`,
      where('model.json'),
    );
  let config: EncoderConfig;
  try {
    config = makeConfig(a.modelTopology as EncoderConfig);
  } catch (e) {
    throw new InputError((e as Error).message, where('config.json'));
  }
  const specs = a.weightSpecs ?? [];
  const data = toBuffer(a.weightData);
  checkWeights(data, specs, where('weights.bin'));
  const stored = a.userDefinedMetadata?.tokenizer as
    TokenizerFiles | { vocab: string; meta?: unknown } | undefined;
  const tokenizer = stored
    ? tokenizerFromFiles(stored.vocab, stored.meta, {
        vocab: where('vocab.txt'),
        meta: where('tokenizer.json'),
      })
    : undefined;
  if (tokenizer && tokenizer.vocab.size > config.vocabSize) {
    throw new InputError(
      `the vocabulary has ${tokenizer.vocab.size} tokens, the model's config.json only ${config.vocabSize}`,
      where('vocab.txt'),
    );
  }
  const weights = decodeNamedWeights(specs, data);
  const model = new Encoder(config, opts);
  try {
    model.loadNamedTensors(Object.fromEntries(weights.map((w) => [w.name, w.tensor])));
  } catch (e) {
    model.dispose();
    throw new InputError((e as Error).message, where('model.json'));
  } finally {
    tf.dispose(weights.map((w) => w.tensor));
  }
  return { model, tokenizer };
}

/** Reads a model directory's files (config, manifest, weights, tokenizer) into artifacts. */
export function artifactsFromFiles(files: EncoderFiles): tf.io.ModelArtifacts {
  const config = readJsonOf<EncoderConfig>(files, 'config.json');
  if (config === undefined) throw new InputError('file not found', files.where('config.json'));
  const { specs, data } = readWeightFiles(files, 'model.json');
  const artifacts: tf.io.ModelArtifacts = {
    format: ENCODER_FORMAT,
    modelTopology: config as unknown as object,
    weightSpecs: specs,
    weightData: data,
  };
  const vocab = files.read('vocab.txt');
  if (vocab) {
    const meta = readJsonOf<unknown>(files, 'tokenizer.json');
    artifacts.userDefinedMetadata = { tokenizer: { vocab: utf8.decode(vocab), meta } as object };
  }
  return artifacts;
}

/** The files of a model directory for artifacts (what `saveEncoder` writes), by file name. */
export function filesFromArtifacts(a: tf.io.ModelArtifacts): Map<string, string | Uint8Array> {
  const files = new Map<string, string | Uint8Array>();
  files.set('config.json', JSON.stringify(a.modelTopology, null, 2) + '\n');
  files.set('weights.bin', new Uint8Array(toBuffer(a.weightData)));
  files.set('model.json', JSON.stringify(weightsManifest('weights', a.weightSpecs ?? []), null, 2) + '\n');
  const tok = a.userDefinedMetadata?.tokenizer as TokenizerFiles | undefined;
  if (tok) {
    files.set('vocab.txt', tok.vocab);
    files.set('tokenizer.json', JSON.stringify(tok.meta, null, 2) + '\n');
  }
  return files;
}

/**
 * A tf.io.IOHandler that loads an encoder from a model directory served over HTTP (`url` is the
 * directory, e.g. 'https://example.com/models/tiny/'): config.json, model.json, the weight files it
 * names, and vocab.txt/tokenizer.json when present (a 404 means absent). `fetchFunc` defaults to the
 * global fetch (browsers, Node ≥ 18).
 *
 * @example
 * const handler = encoderHttpHandler('https://example.com/models/tiny/');
 * const { model: enc, tokenizer: tok } = encoderFromArtifacts(await handler.load());
 */
export function encoderHttpHandler(
  url: string,
  opts: { fetchFunc?: typeof fetch; requestInit?: RequestInit } = {},
): tf.io.IOHandler & { load(): Promise<tf.io.ModelArtifacts> } {
  const base = url.endsWith('/') ? url : `${url}/`;
  const doFetch = opts.fetchFunc ?? globalThis.fetch?.bind(globalThis);
  if (!doFetch) throw new Error('encoderHttpHandler: no fetch in this environment; pass opts.fetchFunc');
  const where = (name: string) => new URL(name, base).href;
  const got = new Map<string, Uint8Array | undefined>();
  const get = async (name: string): Promise<void> => {
    let res: Response;
    try {
      res = await doFetch(where(name), opts.requestInit);
    } catch (e) {
      throw new InputError(`cannot fetch: ${(e as Error).message}`, where(name));
    }
    if (res.status === 404) got.set(name, undefined);
    else if (!res.ok) throw new InputError(`HTTP ${res.status} ${res.statusText}`, where(name));
    else got.set(name, new Uint8Array(await res.arrayBuffer()));
  };
  const files: EncoderFiles = { read: (name) => got.get(name), where };
  return {
    async load() {
      await Promise.all(['config.json', 'model.json', 'vocab.txt', 'tokenizer.json'].map(get));
      const manifest = readJsonOf<WeightsManifestFile>(files, 'model.json');
      const paths = (manifest?.weightsManifest ?? []).flatMap((g) =>
        Array.isArray(g?.paths) ? g.paths : [],
      );
      await Promise.all(paths.map(get));
      return artifactsFromFiles(files);
    },
  };
}

/** Where an IOHandler's artifacts are named in errors: an HTTP handler's URLs, else artifact fields. */
function whereFor(url: string | undefined): ArtifactsWhere {
  if (url === undefined) return IN_MEMORY;
  const base = url.endsWith('/') ? url : `${url}/`;
  return (f) => new URL(f, base).href;
}

/**
 * Loads an encoder (and tokenizer) from a URL of a model directory (fetched over HTTP; works in the
 * browser and in Node) or from any tf.io.IOHandler whose artifacts came from `encoderArtifacts`.
 * On disk in Node, use `loadEncoder(dir)` from kexue/node.
 *
 * @example
 * const { model: enc, tokenizer: tok } = await loadEncoderFrom('https://example.com/models/tiny/');
 * const input = encodeTexts(tok!, ['a sentence to embed']);
 * const vec = tf.tidy(() => pool(enc.apply(input), 'mean')); // [1, hidden]
 */
export async function loadEncoderFrom(
  source: string | tf.io.IOHandler,
  opts: LoadEncoderOptions = {},
): Promise<LoadedEncoder> {
  if (typeof source === 'string') {
    return encoderFromArtifacts(await encoderHttpHandler(source).load(), opts, whereFor(source));
  }
  if (!source?.load)
    throw new Error('loadEncoderFrom: source must be a URL or a tf.io.IOHandler with load()');
  return encoderFromArtifacts(await source.load(), opts);
}

/**
 * Saves an encoder (and tokenizer) through a tf.io.IOHandler, e.g. tf.io.withSaveHandler; the handler
 * receives the artifacts of `encoderArtifacts`. On disk in Node, use `saveEncoder(dir, …)` from kexue/node.
 *
 * @example
 * let stored: tf.io.ModelArtifacts | undefined;
 * const handler = tf.io.withSaveHandler(async (a) => {
 *   stored = a;
 *   return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(a) };
 * });
 * await saveEncoderTo(handler, encoder, tokenizer);
 * const { model: copy } = await loadEncoderFrom(tf.io.fromMemory(stored!));
 */
export async function saveEncoderTo(
  handler: tf.io.IOHandler,
  model: Encoder,
  tokenizer?: Tokenizer,
): Promise<tf.io.SaveResult> {
  if (!handler?.save) throw new Error('saveEncoderTo: handler must be a tf.io.IOHandler with save()');
  return handler.save(await encoderArtifacts(model, tokenizer));
}
