/**
 * CLUE classification data: one JSON object `{"text": ..., "label": ...}` a line (`train.jsonl`,
 * `dev.jsonl`, `test.jsonl`) plus `labels.json`, the class names by index. Malformed lines are the
 * user's input errors, so they raise `InputError` naming the file and line.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { InputError } from './errors.js';

export interface ClueExample {
  text: string;
  label: number;
}

export interface ClueDataset {
  dir: string;
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

/** Parses CLUE JSONL text; blank lines are skipped, `classes` (if given) bounds the labels. */
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

export async function readClueJsonl(file: string, classes?: number): Promise<ClueExample[]> {
  return parseClueJsonl(await readText(file), file, classes);
}

/** Reads `labels.json`: a JSON array of at least two distinct class-name strings. */
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

/** Reads a CLUE task folder (`labels.json`, `train.jsonl`, `dev.jsonl`, `test.jsonl`). */
export async function readClueDataset(dir: string): Promise<ClueDataset> {
  const labels = await readClueLabels(path.join(dir, 'labels.json'));
  const split = (name: string) => readClueJsonl(path.join(dir, `${name}.jsonl`), labels.length);
  const [train, dev, test] = await Promise.all([split('train'), split('dev'), split('test')]);
  return { dir, labels, train, dev, test };
}
