/** Plain-text input: whole files and their lines, with a clear error when a file cannot be read. */
import fs from 'node:fs';
import { InputError } from './errors.js';

export function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
  } catch (e) {
    throw new InputError(`cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, file);
  }
}

/** Lines without their line ends; a final empty line (trailing newline) is dropped. */
export function readLines(file: string): string[] {
  const lines = readText(file).split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Each non-blank line parsed as JSON, with 1-based line numbers kept for error messages. */
export function readJsonl(file: string): { line: number; value: unknown }[] {
  const out: { line: number; value: unknown }[] = [];
  readLines(file).forEach((text, i) => {
    if (text.trim() === '') return;
    try {
      out.push({ line: i + 1, value: JSON.parse(text) });
    } catch {
      throw new InputError('invalid JSON', file, i + 1);
    }
  });
  return out;
}
