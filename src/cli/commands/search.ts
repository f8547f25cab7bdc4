/** `kexue search`: the corpus lines most similar (cosine) to a query, with a sentence model. */
import { initBackend } from '../../backend/index.js';
import { loadSentenceModel } from '../../io/sentence-files.js';
import { InputError } from '../../io/errors.js';
import { readNpy } from '../../io/npy.js';
import { readLines } from '../../io/text.js';
import { numberOption, requireString, stringOption, type Command } from '../command.js';
import { sentenceOverride } from './encode.js';
import { lateProgress } from '../progress.js';
import { normalizeRowsInPlace } from '../../cosent/similarity.js';

const usage = `
Usage: kexue search --model DIR --corpus FILE --query TEXT [-k 10] [options]

Encodes the query and every non-blank line of the corpus (UTF-8, one sentence a line) and prints the
k lines with the highest cosine similarity: rank, cosine, line number, text.

  --model DIR          a sentence model written by 'kexue cosent train' (or an encoder with --pooling)
  --corpus FILE        the texts to search
  --query TEXT         what to look for
  -k, --k N            how many results (default 10)
  --vectors FILE       the corpus vectors from 'kexue encode' (.npy, one row per corpus line): skips
                       encoding the corpus; must come from the same model and settings
  --pooling P, --max-len N   override the model's settings
  --json               print the results as JSON
`;

export interface Hit {
  rank: number;
  score: number;
  line: number;
  text: string;
}

/** Top-k rows of unit-normalised `corpus` [rows, dim] by dot product with unit `query`; rows in `keep` only. */
export function topK(
  query: Float32Array,
  corpus: Float32Array,
  dim: number,
  keep: number[],
  k: number,
): { row: number; score: number }[] {
  const scored = keep.map((row) => {
    let s = 0;
    for (let j = 0; j < dim; j++) s += query[j] * corpus[row * dim + j];
    return { row, score: s };
  });
  return scored.sort((a, b) => b.score - a.score || a.row - b.row).slice(0, k);
}

function corpusVectors(file: string, lines: number, dim: number): Float32Array {
  const npy = readNpy(file);
  if (npy.shape.length !== 2 || npy.shape[0] !== lines || npy.shape[1] !== dim) {
    throw new InputError(
      `shape (${npy.shape.join(', ')}) does not match the corpus and model: expected (${lines}, ${dim})`,
      file,
    );
  }
  const bad = npy.data.findIndex((x) => !Number.isFinite(x));
  if (bad >= 0)
    throw new InputError(
      `row ${Math.floor(bad / dim) + 1} (corpus line ${Math.floor(bad / dim) + 1}) holds a non-finite value (${npy.data[bad]}); re-encode the corpus`,
      file,
    );
  return Float32Array.from(npy.data);
}

export const searchCommand: Command = {
  name: 'search',
  summary: 'cosine top-k of a query over an encoded corpus',
  usage,
  options: {
    model: { type: 'string' },
    corpus: { type: 'string' },
    query: { type: 'string' },
    k: { type: 'string', short: 'k' },
    vectors: { type: 'string' },
    pooling: { type: 'string' },
    'max-len': { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(v) {
    const modelDir = requireString(v.model, 'model');
    const corpusFile = requireString(v.corpus, 'corpus');
    const query = requireString(v.query, 'query');
    const k = numberOption(v.k, 'k', 10, { integer: true, min: 1 });
    const override = sentenceOverride(v);
    const lines = readLines(corpusFile);
    const keep = lines.flatMap((t, i) => (t.trim() === '' ? [] : [i]));
    if (keep.length === 0) throw new InputError('no non-blank lines to search', corpusFile);
    await initBackend();
    const model = loadSentenceModel(modelDir, override);
    const dim = model.dim;
    const vectorsFile = stringOption(v.vectors);
    const corpus = normalizeRowsInPlace(
      vectorsFile
        ? corpusVectors(vectorsFile, lines.length, dim)
        : model.encodeFlat(lines, {
            progress: lateProgress('search: encoding --corpus', { silent: Boolean(v.json) }),
          }),
      dim,
    );
    const q = normalizeRowsInPlace(model.encodeFlat([query]), dim);
    model.dispose();
    const hits: Hit[] = topK(q, corpus, dim, keep, k).map((h, i) => ({
      rank: i + 1,
      score: h.score,
      line: h.row + 1,
      text: lines[h.row],
    }));
    if (v.json) process.stdout.write(JSON.stringify({ query, hits }) + '\n');
    else
      for (const h of hits) process.stdout.write(`${h.rank}\t${h.score.toFixed(4)}\t${h.line}\t${h.text}\n`);
    return 0;
  },
};
