/**
 * CLUE classification data: one JSON object `{"text": ..., "label": ...}` a line (`train.jsonl`,
 * `dev.jsonl`, `test.jsonl`) plus `labels.json`, the class names by index. Malformed lines are the
 * user's input errors, so they raise `InputError` naming the file and line.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { InputError } from './errors.js';

/** One line of a CLUE JSONL file: the text and its class index. */
export interface ClueExample {
  text: string;
  label: number;
}

/** A CLUE task folder as `readClueDataset` reads it. */
export interface ClueDataset {
  dir: string;
  /** Class names; a label is an index into this list. */
  labels: string[];
  train: ClueExample[];
  dev: ClueExample[];
  test: ClueExample[];
}

function parseLine(raw: string, file: string, line: number, classes: number | undefined): ClueExample {
  let obj: unknown;
  try {
    obj = JSON.parse(raw);
  } catch (e) {
    throw new InputError(`not valid JSON (${(e as Error).message})`, file, line);
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    throw new InputError('expected a JSON object {"text", "label"}', file, line);
  }
  const { text, label } = obj as Record<string, unknown>;
  if (typeof text !== 'string') throw new InputError('missing or non-string text', file, line, 'text');
  if (typeof label !== 'number' || !Number.isInteger(label) || label < 0) {
    throw new InputError(
      `label must be a non-negative integer, got ${JSON.stringify(label)}`,
      file,
      line,
      'label',
    );
  }
  if (classes !== undefined && label >= classes) {
    throw new InputError(`label ${label} is out of range for ${classes} classes`, file, line, 'label');
  }
  return { text, label };
}

/**
 * Parses CLUE JSONL text; blank lines are skipped, `classes` (if given) bounds the labels, and `file`
 * names the source in errors.
 *
 * @example
 * parseClueJsonl('{"text": "好看", "label": 1}\n{"text": "无聊", "label": 0}\n', 'dev.jsonl', 2);
 * // → [{ text: '好看', label: 1 }, { text: '无聊', label: 0 }]
 */
export function parseClueJsonl(content: string, file: string, classes?: number): ClueExample[] {
  const lines = content.replace(/^\uFEFF/, '').split(/\r?\n/);
  const out: ClueExample[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() === '') continue;
    out.push(parseLine(lines[i], file, i + 1, classes));
  }
  return out;
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    throw new InputError(`cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, file);
  }
}

/**
 * Reads a CLUE JSONL file (see `parseClueJsonl`).
 *
 * @example
 * const train = await readClueJsonl('tnews/train.jsonl', 15); // ClueExample[]
 */
export async function readClueJsonl(file: string, classes?: number): Promise<ClueExample[]> {
  return parseClueJsonl(await readText(file), file, classes);
}

/**
 * Reads `labels.json`: a JSON array of at least two class-name strings.
 *
 * @example
 * const names = await readClueLabels('tnews/labels.json'); // e.g. ['news_story', 'news_culture', ...]
 */
export async function readClueLabels(file: string): Promise<string[]> {
  let labels: unknown;
  try {
    labels = JSON.parse((await readText(file)).replace(/^\uFEFF/, ''));
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`not valid JSON (${(e as Error).message})`, file);
  }
  if (!Array.isArray(labels) || labels.length < 2 || !labels.every((l) => typeof l === 'string')) {
    throw new InputError('expected a JSON array of at least two class names', file);
  }
  return labels as string[];
}

/**
 * Reads a CLUE task folder (`labels.json`, `train.jsonl`, `dev.jsonl`, `test.jsonl`), checking every label
 * against the class names.
 *
 * @example
 * const { labels, train, dev, test } = await readClueDataset('data/tnews');
 * console.log(labels.length, train.length, train[0]); // e.g. 15 53360 { text: '...', label: 3 }
 */
export async function readClueDataset(dir: string): Promise<ClueDataset> {
  const labels = await readClueLabels(path.join(dir, 'labels.json'));
  const split = (name: string) => readClueJsonl(path.join(dir, `${name}.jsonl`), labels.length);
  const [train, dev, test] = await Promise.all([split('train'), split('dev'), split('test')]);
  return { dir, labels, train, dev, test };
}
