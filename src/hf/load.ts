/**
 * Hugging Face BERT checkpoints in and out of kexue, without touching the disk: files come from a map of
 * contents, a base URL (fetch) or any async reader, and exports are returned as a map of file contents.
 * The Node layer (src/io/hf-files.ts) adds directories on disk.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Encoder } from '../encoder/model.js';
import type { Pooling } from '../encoder/model.js';
import { InputError } from '../io/errors.js';
import { INIT_NAMES, type InitName } from '../nn/init.js';
import { WordPieceTokenizer } from '../tokenizers/wordpiece.js';
import type { Tokenizer } from '../tokenizers/types.js';
import { encoderConfigFromHf, hfConfigFromEncoder, hfModelType, type HfModelType } from './config.js';
import { encodeSafetensors, parseSafetensors, type SafeTensor } from './safetensors.js';
import { hfTokenizer, hfTokenizerConfig } from './tokenizer.js';
import { hfAliases, hfDecoderWeight, hfParam, transpose2d } from './weights.js';
import type { EncoderConfig } from '../encoder/config.js';
import { describeEncoder, renderModelCard } from '../util/model-card.js';

/** Reads one file of a checkpoint by its relative name ('config.json', '1_Pooling/config.json'); undefined if absent. */
export type HfFileReader = (name: string) => Promise<Uint8Array | undefined>;
/** File contents by relative name. */
export type HfFiles = Record<string, Uint8Array | ArrayBuffer | string>;
/** A base URL (read with fetch), a map of file contents, or a reader. */
export type HfSource = string | HfFiles | HfFileReader;

/**
 * Reads files under a base URL with `fetch` (a 404 means the file is absent); other HTTP errors are
 * InputErrors naming the URL.
 *
 * @example
 * const read = hfUrlReader('https://huggingface.co/bert-base-uncased/resolve/main');
 * const { model: bert, tokenizer: tok } = await loadHuggingFaceBertFrom(read);
 */
export function hfUrlReader(base: string, fetchFn: typeof fetch = globalThis.fetch): HfFileReader {
  const root = base.endsWith('/') ? base : `${base}/`;
  return async (name) => {
    const res = await fetchFn(root + name);
    if (res.status === 404) return undefined;
    if (!res.ok) throw new InputError(`HTTP ${res.status} ${res.statusText}`, root + name);
    return new Uint8Array(await res.arrayBuffer());
  };
}

function filesReader(files: HfFiles): HfFileReader {
  return async (name) => {
    const v = files[name];
    if (v === undefined) return undefined;
    if (typeof v === 'string') return new TextEncoder().encode(v);
    return v instanceof Uint8Array ? v : new Uint8Array(v);
  };
}

function asReader(source: HfSource): HfFileReader {
  if (typeof source === 'string') return hfUrlReader(source);
  if (typeof source === 'function') return source;
  return filesReader(source);
}

/** What `loadHuggingFaceBertFrom` returns. */
export interface LoadedHfBert {
  model: Encoder;
  /** Absent when the checkpoint has no vocab.txt (e.g. RoBERTa's BPE tokenizer, which kexue does not read). */
  tokenizer?: WordPieceTokenizer;
  modelType: HfModelType;
  /** sentence-transformers settings, when the checkpoint has them (modules.json and its Pooling module). */
  sentence?: { pooling?: Pooling; maxLen?: number; normalize: boolean };
  /** Checkpoint tensors kexue does not use (e.g. the NSP head, the position_ids buffer). */
  ignored: string[];
}

async function readText(read: HfFileReader, name: string): Promise<string | undefined> {
  const b = await read(name);
  return b === undefined ? undefined : new TextDecoder().decode(b);
}

async function readJson(
  read: HfFileReader,
  name: string,
  where: (n: string) => string,
): Promise<Record<string, unknown> | undefined> {
  const text = await readText(read, name);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text.replace(/^\uFEFF/, '')) as Record<string, unknown>;
  } catch (e) {
    throw new InputError(`not valid JSON (${(e as Error).message})`, where(name));
  }
}

/** All tensors of model.safetensors, or of the shards a model.safetensors.index.json lists. */
async function readTensors(
  read: HfFileReader,
  where: (n: string) => string,
): Promise<{ tensors: Map<string, SafeTensor>; file: string }> {
  const single = await read('model.safetensors');
  if (single) {
    try {
      return {
        tensors: parseSafetensors(single, where('model.safetensors')).tensors,
        file: where('model.safetensors'),
      };
    } catch (e) {
      throw new InputError((e as Error).message, where('model.safetensors'));
    }
  }
  const index = await readJson(read, 'model.safetensors.index.json', where);
  if (!index)
    throw new InputError(
      'no model.safetensors or model.safetensors.index.json (PyTorch pickles such as pytorch_model.bin are not read; ' +
        'convert them with safetensors first)',
      where(''),
    );
  const map = index.weight_map as Record<string, string> | undefined;
  if (typeof map !== 'object' || map === null)
    throw new InputError(
      'needs a weight_map object',
      where('model.safetensors.index.json'),
      undefined,
      'weight_map',
    );
  const tensors = new Map<string, SafeTensor>();
  for (const shard of new Set(Object.values(map))) {
    const b = await read(shard);
    if (!b) throw new InputError('shard named in model.safetensors.index.json is missing', where(shard));
    try {
      for (const [n, t] of parseSafetensors(b, where(shard)).tensors) tensors.set(n, t);
    } catch (e) {
      throw new InputError((e as Error).message, where(shard));
    }
  }
  return { tensors, file: where('model.safetensors.index.json') };
}

/** sentence-transformers' pooling and length, from modules.json, the Pooling module's config and sentence_bert_config.json. */
async function readSentenceConfig(
  read: HfFileReader,
  where: (n: string) => string,
): Promise<LoadedHfBert['sentence']> {
  const text = await readText(read, 'modules.json');
  if (text === undefined) return undefined;
  let modules: { type?: unknown; path?: unknown }[];
  try {
    modules = JSON.parse(text) as typeof modules;
  } catch (e) {
    throw new InputError(`not valid JSON (${(e as Error).message})`, where('modules.json'));
  }
  if (!Array.isArray(modules)) throw new InputError('must be a list of modules', where('modules.json'));
  const out: NonNullable<LoadedHfBert['sentence']> = { normalize: false };
  for (const m of modules) {
    const type = String(m?.type ?? '');
    if (type.endsWith('Normalize')) out.normalize = true;
    if (type.endsWith('Pooling') && typeof m.path === 'string') {
      const cfg = (await readJson(read, `${m.path}/config.json`, where)) ?? {};
      const modes = Object.keys(cfg).filter((k) => k.startsWith('pooling_mode_') && cfg[k] === true);
      // Only single-mode CLS or mean pooling has a kexue equivalent; other settings leave the choice to the caller.
      if (modes.length === 1 && modes[0] === 'pooling_mode_cls_token') out.pooling = 'cls';
      if (modes.length === 1 && modes[0] === 'pooling_mode_mean_tokens') out.pooling = 'mean';
    }
  }
  const sb = await readJson(read, 'sentence_bert_config.json', where);
  if (Number.isInteger(sb?.max_seq_length)) out.maxLen = sb!.max_seq_length as number;
  return out;
}

function sameValues(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && a.every((x, i) => Object.is(x, b[i]));
}

/**
 * Loads a Hugging Face BERT (or RoBERTa-layout) checkpoint: config.json, model.safetensors (or its
 * sharded index), vocab.txt with tokenizer_config.json when present, and sentence-transformers' pooling
 * files when present. `where` turns a file name into what error messages show (default: the name).
 * Unsupported configs and missing or misshapen tensors are InputErrors naming the file and field.
 * `source` is a base URL, a map of file contents, or a reader; on disk use `loadHuggingFaceBert(dir)` of
 * kexue/node.
 *
 * @example
 * const hf = await loadHuggingFaceBertFrom('https://huggingface.co/bert-base-uncased/resolve/main');
 * const input = encodeTexts(hf.tokenizer!, ['Hello world']);
 * const vec = tf.tidy(() => pool(hf.model.apply(input), hf.sentence?.pooling ?? 'cls')); // [1, 768]
 * disposeInput(input);
 */
export async function loadHuggingFaceBertFrom(
  source: HfSource,
  opts: { where?: (name: string) => string } = {},
): Promise<LoadedHfBert> {
  const read = asReader(source);
  const where =
    opts.where ??
    (typeof source === 'string'
      ? (n: string) => `${source.replace(/\/$/, '')}/${n}`
      : (n: string) => n || '(files)');
  const hf = await readJson(read, 'config.json', where);
  if (!hf) throw new InputError('no config.json (not a Hugging Face model directory)', where(''));
  const type = hfModelType(hf, where('config.json'));
  // Checked before the (possibly large) weights are read: an unsupported config fails fast.
  encoderConfigFromHf(hf, { pooler: false, mlmHead: false }, where('config.json'));
  const { tensors, file } = await readTensors(read, where);
  const prefix = [...tensors.keys()].some((n) => n.startsWith(`${type}.`)) ? `${type}.` : '';
  const fullName = (kexueName: string) => {
    const p = hfParam(kexueName, type)!;
    return (p.body ? prefix : '') + p.name;
  };
  const has = (kexueName: string) => tensors.has(fullName(kexueName));
  const config = encoderConfigFromHf(
    hf,
    { pooler: has('pooler.dense.kernel'), mlmHead: has('mlm.dense.kernel') },
    where('config.json'),
  );
  // Settings only kexue has, written by exportHuggingFaceBert; a model without token types gets a zero row.
  const kx = (hf.kexue ?? {}) as { seed?: unknown; init?: unknown; typeVocabSize?: unknown };
  if (Number.isInteger(kx.seed)) config.seed = kx.seed as number;
  if (INIT_NAMES.includes(kx.init as InitName)) config.init = kx.init as InitName;
  const typeTable = tensors.get(fullName('embeddings.type.table'));
  const dropTypes =
    kx.typeVocabSize === 0 && config.typeVocabSize === 1 && !!typeTable?.data?.every((x) => x === 0);
  if (dropTypes) config.typeVocabSize = 0;

  const used = new Set<string>();
  const values: Record<string, tf.Tensor> = {};
  const model = new Encoder(config);
  try {
    for (const [name, v] of model.namedParameters()) {
      const p = hfParam(name, type);
      if (!p) throw new Error(`kexue parameter ${name} has no Hugging Face name`);
      const candidates = [p.name, ...hfAliases(p)].map((n) => (p.body ? prefix : '') + n);
      const found = candidates.find((n) => tensors.has(n));
      if (!found) throw new InputError(`has no tensor ${candidates[0]}`, file);
      const t = tensors.get(found)!;
      candidates.forEach((n) => used.add(n));
      const want = p.transpose ? [v.shape[1], v.shape[0]] : v.shape;
      if (!t.data || t.shape.join() !== want.join())
        throw new InputError(
          `tensor ${found} is ${t.dtype} [${t.shape.join(', ')}], config.json implies a float [${want.join(', ')}]`,
          file,
        );
      const bad = t.data.findIndex((x) => !Number.isFinite(x));
      if (bad >= 0) throw new InputError(`tensor ${found} holds a non-finite value at index ${bad}`, file);
      const data = p.transpose ? transpose2d(t.data, t.shape[0], t.shape[1]) : t.data;
      values[name] = tf.tensor(data, v.shape, 'float32');
    }
    if (dropTypes) used.add(fullName('embeddings.type.table'));
    const decoder = tensors.get(hfDecoderWeight(type));
    if (decoder && config.mlmHead) {
      used.add(hfDecoderWeight(type));
      const word = tensors.get(fullName('embeddings.word.table'))!;
      if (!decoder.data || !sameValues(decoder.data, word.data!))
        throw new InputError(
          `${hfDecoderWeight(type)} differs from the word embeddings: an untied MLM decoder is not supported`,
          file,
        );
    }
    model.loadNamedTensors(values);
  } catch (e) {
    model.dispose();
    throw e;
  } finally {
    tf.dispose(Object.values(values));
  }
  const ignored = [...tensors.keys()].filter((n) => !used.has(n)).sort();
  let tokenizer: WordPieceTokenizer | undefined;
  try {
    tokenizer = await readTokenizer(read, where);
    if (tokenizer && tokenizer.vocab.size > config.vocabSize)
      throw new InputError(
        `the vocabulary has ${tokenizer.vocab.size} tokens, config.json's vocab_size is only ${config.vocabSize}`,
        where('vocab.txt'),
      );
    const sentence = await readSentenceConfig(read, where);
    return { model, tokenizer, modelType: type, sentence, ignored };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

async function readTokenizer(
  read: HfFileReader,
  where: (n: string) => string,
): Promise<WordPieceTokenizer | undefined> {
  const vocab = await readText(read, 'vocab.txt');
  if (vocab === undefined) return undefined;
  const tokenizerConfig = await readJson(read, 'tokenizer_config.json', where);
  const specialTokensMap = await readJson(read, 'special_tokens_map.json', where);
  // The fast tokenizer's file only matters when tokenizer_config.json does not say how to normalize.
  const fastTokenizer =
    tokenizerConfig && 'do_lower_case' in tokenizerConfig
      ? undefined
      : await readJson(read, 'tokenizer.json', where);
  return hfTokenizer(vocab, { tokenizerConfig, specialTokensMap, fastTokenizer }, where('vocab.txt'));
}

/** What `huggingFaceBertFiles` exports: an encoder, its tokenizer, and (optionally) the sentence settings. */
export interface HfExportable {
  encoder: Encoder;
  tokenizer: Tokenizer;
  /** A SentenceEncoder's config: pooling and maxLen go to the sentence-transformers files. */
  config?: { pooling?: Pooling; maxLen?: number };
}

/** Options of `huggingFaceBertFiles`. */
export interface HfExportOptions {
  /** Write modules.json, 1_Pooling/config.json and sentence_bert_config.json (default true). */
  sentenceTransformers?: boolean;
  /** Pooling for sentence-transformers when `source.config` has none: 'cls' or 'mean' (default 'cls'). */
  pooling?: Pooling;
  /** sentence-transformers' max_seq_length (default: `source.config.maxLen`, else the position table size). */
  maxLen?: number;
}

const json = (o: unknown) => `${JSON.stringify(o, null, 2)}\n`;

/**
 * The files of a Hugging Face checkpoint for a kexue encoder: config.json, model.safetensors (float32,
 * Hugging Face names; the MLM decoder left tied), vocab.txt, tokenizer_config.json and, unless turned
 * off, sentence-transformers' modules.json, 1_Pooling/config.json and sentence_bert_config.json.
 * Throws naming what has no Hugging Face equivalent (Pre-LN, RoPE, another attention scale, a character
 * tokenizer, first-last-avg pooling for sentence-transformers).
 *
 * @example
 * const hf = await loadHuggingFaceBertFrom('https://huggingface.co/bert-base-uncased/resolve/main');
 * const source = { encoder: hf.model, tokenizer: hf.tokenizer! };
 * const files = await huggingFaceBertFiles(source, { pooling: 'mean' });
 * [...files.keys()]; // → ['config.json', 'model.safetensors', 'vocab.txt', 'tokenizer_config.json', …]
 * const copy = await loadHuggingFaceBertFrom(Object.fromEntries(files)); // the round trip
 */
export async function huggingFaceBertFiles(
  source: HfExportable,
  opts: HfExportOptions = {},
): Promise<Map<string, Uint8Array | string>> {
  const { encoder, tokenizer } = source;
  if (!(tokenizer instanceof WordPieceTokenizer))
    throw new Error(
      `tokenizer: kind '${tokenizer.kind}' has no Hugging Face BertTokenizer equivalent (only wordpiece)`,
    );
  const cfg = encoder.config;
  const hf = hfConfigFromEncoder(cfg);
  const type = hf.model_type;
  const prefix = (cfg.mlmHead ?? true) ? `${type}.` : '';
  const out: { name: string; shape: number[]; data: Float32Array }[] = [];
  for (const [name, v] of encoder.namedParameters()) {
    const p = hfParam(name, type);
    if (!p) throw new Error(`cannot export parameter ${name}: it has no Hugging Face equivalent`);
    const data = (await v.data()) as Float32Array;
    const [r, c] = v.shape;
    out.push({
      name: (p.body ? prefix : '') + p.name,
      shape: p.transpose ? [c, r] : v.shape,
      data: p.transpose ? transpose2d(data, r, c) : data.slice(),
    });
  }
  if (cfg.typeVocabSize === 0)
    out.push({
      name: `${prefix}embeddings.token_type_embeddings.weight`,
      shape: [1, cfg.hidden],
      data: new Float32Array(cfg.hidden),
    });
  out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const maxPositions = cfg.maxPositions - (cfg.positionOffset ?? 0);
  const maxLen = opts.maxLen ?? source.config?.maxLen ?? maxPositions;
  const files = new Map<string, Uint8Array | string>([
    ['config.json', json(hf)],
    // transformers refuses safetensors files whose metadata lacks format 'pt'.
    ['model.safetensors', encodeSafetensors(out, { format: 'pt' })],
    ['vocab.txt', tokenizer.vocab.toText()],
    ['tokenizer_config.json', json(hfTokenizerConfig(tokenizer, maxPositions))],
  ]);
  if (opts.sentenceTransformers ?? true) {
    const pooling = source.config?.pooling ?? opts.pooling ?? 'cls';
    if (pooling !== 'cls' && pooling !== 'mean')
      throw new Error(
        `pooling '${pooling}' has no sentence-transformers equivalent (cls or mean); export with sentenceTransformers: false`,
      );
    files.set(
      'modules.json',
      json([
        { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
        { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
      ]),
    );
    files.set(
      '1_Pooling/config.json',
      json({
        word_embedding_dimension: cfg.hidden,
        pooling_mode_cls_token: pooling === 'cls',
        pooling_mode_mean_tokens: pooling === 'mean',
        pooling_mode_max_tokens: false,
        pooling_mode_mean_sqrt_len_tokens: false,
      }),
    );
    files.set('sentence_bert_config.json', json({ max_seq_length: maxLen, do_lower_case: false }));
  }
  files.set('README.md', exportCard(hf.model_type, cfg, opts.sentenceTransformers ?? true));
  return files;
}

/** The model card of an export: what it is and how to load it in Python and in transformers.js. */
function exportCard(type: string, cfg: EncoderConfig, sentence: boolean): string {
  const arch = (cfg.mlmHead ?? true) ? 'ForMaskedLM' : 'Model';
  const cls = `${type === 'roberta' ? 'Roberta' : 'Bert'}${arch}`;
  return renderModelCard({
    frontMatter: {
      library_name: sentence ? 'sentence-transformers' : 'transformers',
      tags: ['kexue', type, ...(sentence ? ['sentence-transformers', 'feature-extraction'] : [])],
    },
    title: `${cls} exported from kexue`,
    summary: `A kexue encoder in Hugging Face's ${type} layout (model.safetensors, config.json, vocab.txt)${sentence ? ', with the sentence-transformers pooling configuration' : ''}.`,
    architecture: describeEncoder(cfg),
    usage: [
      {
        lang: 'python',
        lines: sentence
          ? [
              'from sentence_transformers import SentenceTransformer',
              "model = SentenceTransformer('path/to/this/folder')",
              "vectors = model.encode(['第一句', '第二句'])",
            ]
          : [
              'from transformers import AutoModel, AutoTokenizer',
              "model = AutoModel.from_pretrained('path/to/this/folder')",
            ],
      },
    ],
  });
}
