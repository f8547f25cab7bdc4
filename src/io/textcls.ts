/**
 * Text-classification files for `kexue finetune`: CLUE-style JSONL (`{"text", "label"}` a line, label
 * an integer index or a class name) or TSV (`text <tab> label` a line, same labels), and saving /
 * loading fine-tuned classifiers (an encoder directory plus head weights and classifier.json).
 */
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { InputError } from './errors.js';
import { writeJsonAtomic } from './atomic.js';
import { readNpy, writeNpy } from './npy.js';
import { POOLINGS, type Pooling } from '../encoder/index.js';
import { loadEncoder, saveEncoder } from './encoder-files.js';
import { TextClassifier } from '../childtuning/classifier.js';

/** A label as written in a file: an index or a class name. */
export interface RawExample {
  text: string;
  label: number | string;
  line: number;
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
  } catch (e) {
    throw new InputError(`cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, file);
  }
}

function jsonlRow(raw: string, file: string, line: number): RawExample {
  let obj: unknown;
  try {
    obj = JSON.parse(raw);
  } catch (e) {
    throw new InputError(`not valid JSON (${(e as Error).message})`, file, line);
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj))
    throw new InputError('expected a JSON object {"text", "label"}', file, line);
  const { text, label } = obj as Record<string, unknown>;
  if (typeof text !== 'string') throw new InputError('missing or non-string text', file, line, 'text');
  if (!(typeof label === 'string' || (typeof label === 'number' && Number.isInteger(label) && label >= 0)))
    throw new InputError(
      `label must be a non-negative integer or a class name, got ${JSON.stringify(label)}`,
      file,
      line,
      'label',
    );
  return { text, label, line };
}

function tsvRow(raw: string, file: string, line: number): RawExample {
  const cols = raw.split('\t');
  if (cols.length !== 2)
    throw new InputError(`expected 'text<TAB>label' (2 columns), got ${cols.length}`, file, line);
  const [text, lab] = cols.map((c) => c.trim());
  if (lab === '') throw new InputError('empty label', file, line, 'label');
  return { text, label: /^\d+$/.test(lab) ? Number(lab) : lab, line };
}

/** Reads a .jsonl (JSON lines) or any other extension as TSV; blank lines are skipped. */
export function readRawExamples(file: string): RawExample[] {
  const lines = readText(file).split(/\r?\n/);
  const jsonl = file.endsWith('.jsonl') || file.endsWith('.json');
  const out: RawExample[] = [];
  lines.forEach((l, i) => {
    if (l.trim() === '') return;
    out.push(jsonl ? jsonlRow(l, file, i + 1) : tsvRow(l, file, i + 1));
  });
  if (out.length === 0) throw new InputError('no examples', file);
  return out;
}

/**
 * Resolves labels to indices. With `names` (e.g. CLUE's labels.json) names and indices are checked
 * against it; without, integer labels must be 0…K−1 and string labels are numbered in sorted order
 * of the training file's names. A file may not mix the two kinds.
 */
export function labelSpace(train: RawExample[], names?: string[]): string[] {
  if (names) return names;
  const strings = train.filter((e) => typeof e.label === 'string');
  if (strings.length === 0) {
    const k = Math.max(...train.map((e) => e.label as number)) + 1;
    if (k < 2) throw new InputError('the training file needs at least two classes');
    return Array.from({ length: k }, (_, i) => String(i));
  }
  if (strings.length !== train.length)
    throw new InputError(
      `mixes integer and named labels (line ${train.find((e) => typeof e.label === 'number')!.line})`,
    );
  const set = [...new Set(strings.map((e) => e.label as string))].sort();
  if (set.length < 2) throw new InputError('the training file needs at least two classes');
  return set;
}

/** Maps a file's labels into `labels` (by index or name); unknown ones are input errors. */
export function resolveLabels(
  rows: RawExample[],
  labels: string[],
  file: string,
): { text: string; label: number }[] {
  const named = labels.some((l, i) => l !== String(i));
  return rows.map((r) => {
    let idx: number;
    if (typeof r.label === 'number') idx = r.label;
    else idx = labels.indexOf(r.label);
    if (idx < 0 || idx >= labels.length)
      throw new InputError(
        `unknown label ${JSON.stringify(r.label)} (${named ? `classes: ${labels.slice(0, 8).join(', ')}${labels.length > 8 ? ', …' : ''}` : `allowed 0…${labels.length - 1}`})`,
        file,
        r.line,
        'label',
      );
    return { text: r.text, label: idx };
  });
}

/** Reads labels.json: a JSON array of at least two class names. */
export function readLabelNames(file: string): string[] {
  let v: unknown;
  try {
    v = JSON.parse(readText(file));
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`not valid JSON (${(e as Error).message})`, file);
  }
  if (!Array.isArray(v) || v.length < 2 || !v.every((x) => typeof x === 'string'))
    throw new InputError('expected a JSON array of at least two class names', file);
  return v as string[];
}

const META = 'classifier.json';

export interface ClassifierMeta {
  labels: string[];
  pooling: Pooling;
  maxLen: number;
  [extra: string]: unknown;
}

/** Saves a fine-tuned classifier: its encoder directory plus head-kernel.npy, head-bias.npy and classifier.json. */
export async function saveClassifier(
  dir: string,
  model: TextClassifier,
  labels: string[],
  extra: Record<string, unknown> = {},
): Promise<void> {
  await saveEncoder(dir, model.encoder, model.tokenizer);
  writeNpy(
    path.join(dir, 'head-kernel.npy'),
    model.head.kernel.dataSync() as Float32Array,
    model.head.kernel.shape,
  );
  writeNpy(
    path.join(dir, 'head-bias.npy'),
    model.head.bias!.dataSync() as Float32Array,
    model.head.bias!.shape,
  );
  const meta: ClassifierMeta = { ...extra, labels, pooling: model.pooling, maxLen: model.maxLen };
  writeJsonAtomic(path.join(dir, META), meta);
}

/** Loads a directory written by `saveClassifier`. */
export function loadClassifier(dir: string): { model: TextClassifier; meta: ClassifierMeta } {
  const file = path.join(dir, META);
  if (!fs.existsSync(file)) throw new InputError('not a classifier directory (no classifier.json)', dir);
  let meta: ClassifierMeta;
  try {
    meta = JSON.parse(fs.readFileSync(file, 'utf8')) as ClassifierMeta;
  } catch (e) {
    throw new InputError(`not valid JSON (${(e as Error).message})`, file);
  }
  if (!Array.isArray(meta.labels) || !POOLINGS.includes(meta.pooling))
    throw new InputError('needs labels and a pooling', file);
  const { model: encoder, tokenizer } = loadEncoder(dir);
  if (!tokenizer) {
    encoder.dispose();
    throw new InputError('the classifier directory has no tokenizer (vocab.txt)', dir);
  }
  const model = new TextClassifier(encoder, tokenizer, {
    classes: meta.labels.length,
    pooling: meta.pooling,
    maxLen: meta.maxLen,
  });
  const kernel = readNpy(path.join(dir, 'head-kernel.npy'));
  const bias = readNpy(path.join(dir, 'head-bias.npy'));
  tf.tidy(() => {
    model.head.kernel.assign(tf.tensor(kernel.data as Float32Array, kernel.shape));
    model.head.bias!.assign(tf.tensor(bias.data as Float32Array, bias.shape));
  });
  return { model, meta };
}
