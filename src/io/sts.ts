/**
 * Sentence-pair files: TSV `s1 \t s2 \t label`, the ATEC layout `id \t s1 \t s2 \t label`, and the
 * English STS benchmark with a header row naming `sentence1`, `sentence2` and `score` columns.
 */
import { InputError } from './errors.js';
import { readLines } from './text.js';

/** Two sentences and their label: 0/1 (similar or not) or a graded similarity score (STS-B: 0–5). */
export interface SentencePair {
  s1: string;
  s2: string;
  label: number;
}

function headerColumns(cells: string[]): { s1: number; s2: number; label: number } | null {
  const lower = cells.map((c) => c.trim().toLowerCase());
  const s1 = lower.indexOf('sentence1');
  const s2 = lower.indexOf('sentence2');
  const label = ['score', 'label', 'similarity'].map((n) => lower.indexOf(n)).find((i) => i >= 0) ?? -1;
  return s1 >= 0 && s2 >= 0 && label >= 0 ? { s1, s2, label } : null;
}

/**
 * Reads a sentence-pair file in any of the three layouts of the file header (told apart by the header
 * row and the column count); blank lines are skipped and malformed lines raise an `InputError`.
 *
 * @example
 * const dev = readSentencePairs('atec/dev.tsv'); // [{ s1, s2, label }, ...]
 */
export function readSentencePairs(file: string): SentencePair[] {
  const lines = readLines(file);
  const out: SentencePair[] = [];
  let cols: { s1: number; s2: number; label: number } | null = null;
  lines.forEach((text, i) => {
    if (text.trim() === '') return;
    const cells = text.split('\t');
    if (i === 0) {
      cols = headerColumns(cells);
      if (cols) return;
    }
    const layout = cols ?? (cells.length === 4 ? { s1: 1, s2: 2, label: 3 } : { s1: 0, s2: 1, label: 2 });
    if (!cols && cells.length !== 3 && cells.length !== 4) {
      throw new InputError(
        `expected 3 tab-separated fields (s1, s2, label), got ${cells.length}`,
        file,
        i + 1,
      );
    }
    const raw = cells[layout.label]?.trim() ?? '';
    const label = Number(raw);
    if (raw === '' || !Number.isFinite(label))
      throw new InputError(`'${raw}' is not a number`, file, i + 1, 'label');
    out.push({ s1: cells[layout.s1] ?? '', s2: cells[layout.s2] ?? '', label });
  });
  if (out.length === 0) throw new InputError('no sentence pairs', file);
  return out;
}
