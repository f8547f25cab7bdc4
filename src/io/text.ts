/** Plain-text input: whole files and their lines, with a clear error when a file cannot be read. */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { InputError } from './errors.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The 1-based line of the first byte sequence that is not UTF-8 (there is one: decoding failed). */
function firstBadLine(bytes: Uint8Array): number {
  let line = 1;
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i < bytes.length && bytes[i] !== 0x0a) continue;
    try {
      utf8.decode(bytes.subarray(start, i));
    } catch {
      return line;
    }
    line++;
    start = i + 1;
  }
  return line;
}

/**
 * A whole UTF-8 file, without a leading byte-order mark. Bytes that are not UTF-8 (e.g. GBK text) are an
 * error naming the line, never silently replaced by U+FFFD.
 */
export function readText(file: string): string {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new InputError(`cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, file);
  }
  try {
    return utf8.decode(bytes).replace(/^\uFEFF/, '');
  } catch {
    throw new InputError(
      'is not UTF-8 text; convert it first (e.g. iconv -f GBK -t UTF-8)',
      file,
      firstBadLine(bytes),
    );
  }
}

/** A JSON file (UTF-8, a BOM is fine); a missing file or bad JSON is an InputError naming it. */
export function readJsonFile<T>(file: string): T {
  if (!fs.existsSync(file)) throw new InputError('file not found', file);
  const text = readText(file);
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new InputError(`not valid JSON (${(e as Error).message})`, file);
  }
}

/** File content echoed in an error message: quoted, control characters escaped, at most 40 characters. */
export function quoted(s: string): string {
  return JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);
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

/** A file's SHA-256 (hex): what runs record to notice that an input changed since they started. */
export function fileSha256(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}
