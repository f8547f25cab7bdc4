/**
 * Numeric matrices, vectors and label lists from user files: .npy, .csv/.tsv, .jsonl, .txt, .json.
 * Every error names the file, and the line and field where there is one.
 */
import path from 'node:path';
import { InputError } from './errors.js';
import { readNpy } from './npy.js';
import { quoted, readJsonl, readLines, readText } from './text.js';

/** A row-major float64 matrix, as `readMatrix` returns it; usable wherever kexue takes a matrix. */
export interface Matrix {
  data: Float64Array;
  rows: number;
  cols: number;
}

function ext(file: string): string {
  return path.extname(file).toLowerCase();
}

function toNumber(s: string, file: string, line: number, field: string): number {
  const v = Number(s.trim());
  if (s.trim() === '') throw new InputError('is empty; expected a finite number', file, line, field);
  if (!Number.isFinite(v))
    throw new InputError(`${quoted(s.trim())} is not a finite number`, file, line, field);
  return v;
}

/** A header names columns: every cell is non-empty text that no one would read as a number (not even 'nan'). */
function isHeader(cells: string[]): boolean {
  return cells.every((c) => {
    const t = c.trim();
    return t !== '' && Number.isNaN(Number(t)) && !/^[+-]?(nan|inf(inity)?)$/i.test(t);
  });
}

function fromRows(rows: number[][], file: string, lines: number[]): Matrix {
  if (rows.length === 0) throw new InputError('no rows', file);
  const cols = rows[0].length;
  const data = new Float64Array(rows.length * cols);
  rows.forEach((r, i) => {
    if (r.length !== cols)
      throw new InputError(`has ${r.length} values, the first row has ${cols}`, file, lines[i]);
    data.set(r, i * cols);
  });
  return { data, rows: rows.length, cols };
}

function readCsvMatrix(file: string): Matrix {
  const sep = ext(file) === '.tsv' ? '\t' : ',';
  const rows: number[][] = [];
  const lines: number[] = [];
  let blank = 0;
  readLines(file).forEach((text, i) => {
    // Blank lines at the end are fine; one between rows would silently shift every later row.
    if (text.trim() === '') {
      if (lines.length && !blank) blank = i + 1;
      return;
    }
    if (blank) throw new InputError('is empty between rows: fill in the row or remove the line', file, blank);
    const cells = text.split(sep);
    // Only a first line of text in every cell is a header; anything else is data, checked cell by cell.
    if (rows.length === 0 && lines.length === 0 && isHeader(cells)) {
      lines.push(-1);
      return;
    }
    rows.push(cells.map((c, j) => toNumber(c, file, i + 1, `column ${j + 1}`)));
    lines.push(i + 1);
  });
  return fromRows(
    rows,
    file,
    lines.filter((l) => l > 0),
  );
}

const ROW_FIELDS = ['probs', 'probabilities', 'logits', 'scores'];

function jsonRow(value: unknown, file: string, line: number): number[] {
  let arr = value;
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const key = ROW_FIELDS.find((k) => k in value);
    if (!key)
      throw new InputError(`expected an array or an object with one of ${ROW_FIELDS.join(', ')}`, file, line);
    arr = (value as Record<string, unknown>)[key];
  }
  if (!Array.isArray(arr)) throw new InputError('expected an array of numbers', file, line);
  return arr.map((v, j) => {
    if (typeof v !== 'number')
      throw new InputError(
        `${quoted(JSON.stringify(v) ?? String(v))} is not a number`,
        file,
        line,
        `index ${j}`,
      );
    return v;
  });
}

/**
 * A 2-D numeric matrix (e.g. class probabilities, one row per example) from .npy, .csv/.tsv or .jsonl
 * (one JSON array a line).
 *
 * @example
 * const dev = readMatrix('dev-probs.npy'); // { data: Float64Array, rows, cols }
 * accuracy(dev, readLabels('dev-labels.txt'));
 */
export function readMatrix(file: string): Matrix {
  switch (ext(file)) {
    case '.npy': {
      const a = readNpy(file);
      if (a.shape.length !== 2)
        throw new InputError(`expected a 2-D array, got shape (${a.shape.join(', ')})`, file);
      return { data: Float64Array.from(a.data), rows: a.shape[0], cols: a.shape[1] };
    }
    case '.csv':
    case '.tsv':
      return readCsvMatrix(file);
    case '.jsonl': {
      const entries = readJsonl(file);
      return fromRows(
        entries.map((e) => jsonRow(e.value, file, e.line)),
        file,
        entries.map((e) => e.line),
      );
    }
    default:
      throw new InputError('unsupported format: use .npy, .csv, .tsv or .jsonl', file);
  }
}

/**
 * Integer class labels, one per example, from .npy, .txt or .csv (one integer a line) or .jsonl.
 *
 * @example
 * const trainLabels = readLabels('train-labels.txt'); // Int32Array
 * const trainPrior = priorFromLabels(trainLabels, 10);
 */
export function readLabels(file: string): Int32Array {
  const check = (v: unknown, line?: number): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
      throw new InputError(
        `${typeof v === 'string' ? quoted(v) : String(JSON.stringify(v))} is not a class index (a non-negative integer)`,
        file,
        line,
        'label',
      );
    }
    return v;
  };
  switch (ext(file)) {
    case '.npy': {
      const a = readNpy(file);
      if (a.shape.length !== 1)
        throw new InputError(`expected a 1-D array, got shape (${a.shape.join(', ')})`, file);
      return Int32Array.from(a.data, (v, i) => check(v, i + 1));
    }
    case '.jsonl':
      return Int32Array.from(
        readJsonl(file).map(({ value, line }) =>
          check(
            value !== null && typeof value === 'object' ? (value as Record<string, unknown>).label : value,
            line,
          ),
        ),
      );
    case '.txt':
    case '.csv': {
      const out: number[] = [];
      readLines(file).forEach((s, i) => {
        const t = s.trim();
        if (t !== '') out.push(check(/^[+-]?\d+(\.0*)?$/.test(t) ? Number(t) : t, i + 1));
      });
      return Int32Array.from(out);
    }
    default:
      throw new InputError('unsupported label format: use .npy, .txt (one integer a line) or .jsonl', file);
  }
}

/**
 * A numeric vector: .npy (1-D), .json (an array), or text with numbers separated by commas or white space.
 *
 * @example
 * const prior = readVector('prior.json'); // e.g. [0.2, 0.5, 0.3] as a Float64Array
 * const r = can(readMatrix('probs.npy'), prior);
 */
export function readVector(file: string): Float64Array {
  switch (ext(file)) {
    case '.npy': {
      const a = readNpy(file);
      if (a.shape.length !== 1)
        throw new InputError(`expected a 1-D array, got shape (${a.shape.join(', ')})`, file);
      return Float64Array.from(a.data);
    }
    case '.json': {
      let v: unknown;
      try {
        v = JSON.parse(readText(file));
      } catch {
        throw new InputError('invalid JSON', file);
      }
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'number'))
        throw new InputError('expected an array of numbers', file);
      return Float64Array.from(v as number[]);
    }
    default: {
      const out: number[] = [];
      readLines(file).forEach((s, i) =>
        s
          .split(/[\s,]+/)
          .filter((t) => t !== '')
          .forEach((t, j) => out.push(toNumber(t, file, i + 1, `value ${j + 1}`))),
      );
      return Float64Array.from(out);
    }
  }
}
