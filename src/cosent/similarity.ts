/**
 * The sentence-transformers-shaped half of the sentence encoder API, browser-safe: `encode` options
 * (checked, so a typo is an error rather than a silently ignored option), the cosine similarity matrix,
 * and semantic search (top-k corpus entries per query), on tensors or plain arrays.
 */
import * as tf from '@tensorflow/tfjs-core';
import { readAndDispose, readBackAsync, readBackSync } from '../util/read-back.js';

/** Options of `SentenceEncoder.encode`. */
export interface SentenceEncodeOptions {
  /** Sentences per forward pass (default 64). */
  batchSize?: number;
  /** Scale every vector to unit length (zero vectors stay zero); default false. */
  normalize?: boolean;
  /** Return a tf.Tensor2D (the caller disposes it) instead of number[][]; default false. */
  asTensor?: boolean;
  /** Called after each batch with the number of sentences done and the total. */
  progress?: (done: number, total: number) => void;
}

const ENCODE_KEYS = ['batchSize', 'normalize', 'asTensor', 'progress'] as const;
/** sentence-transformers' (Python) names and other likely spellings → ours, for the error message. */
const HINTS: Record<string, string> = {
  batch_size: 'batchSize',
  normalize_embeddings: 'normalize',
  normalizeEmbeddings: 'normalize',
  convert_to_tensor: 'asTensor',
  convertToTensor: 'asTensor',
  convert_to_numpy: 'asTensor',
  show_progress_bar: 'progress',
  showProgressBar: 'progress',
  onBatch: 'progress',
};

/** Checks `encode`'s options and fills defaults; every problem is an Error naming the option. */
export function checkEncodeOptions(opts: unknown): Required<Omit<SentenceEncodeOptions, 'progress'>> & {
  progress?: SentenceEncodeOptions['progress'];
} {
  if (opts === undefined) return { batchSize: 64, normalize: false, asTensor: false };
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts)) {
    throw new Error(
      `encode options must be an object { ${ENCODE_KEYS.join(', ')} }, got ${JSON.stringify(opts)}` +
        (typeof opts === 'number' ? ` (for a batch size write { batchSize: ${opts} })` : ''),
    );
  }
  const o = opts as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!(ENCODE_KEYS as readonly string[]).includes(k))
      throw new Error(
        `unknown encode option '${k}'${HINTS[k] ? ` (did you mean '${HINTS[k]}'?)` : ''}; ` +
          `allowed: ${ENCODE_KEYS.join(', ')}`,
      );
  }
  const batchSize = o.batchSize ?? 64;
  if (!(typeof batchSize === 'number' && Number.isInteger(batchSize) && batchSize >= 1))
    throw new Error(`encode option batchSize must be an integer ≥ 1, got ${JSON.stringify(o.batchSize)}`);
  for (const k of ['normalize', 'asTensor'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'boolean')
      throw new Error(`encode option ${k} must be true or false, got ${JSON.stringify(o[k])}`);
  }
  if (o.progress !== undefined && typeof o.progress !== 'function')
    throw new Error('encode option progress must be a function (done, total) => void');
  return {
    batchSize,
    normalize: (o.normalize as boolean | undefined) ?? false,
    asTensor: (o.asTensor as boolean | undefined) ?? false,
    progress: o.progress as SentenceEncodeOptions['progress'],
  };
}

/** Checks that `texts` is an array of strings (a common mistake is passing one string or undefined). */
export function checkTexts(texts: unknown): asserts texts is readonly string[] {
  if (!Array.isArray(texts)) throw new Error(`texts must be an array of strings, got ${typeof texts}`);
  const bad = texts.findIndex((t) => typeof t !== 'string');
  if (bad >= 0) throw new Error(`texts[${bad}] must be a string, got ${JSON.stringify(texts[bad])}`);
}

/** Scales each row of a row-major [rows, dim] matrix to unit length in place (zero rows stay zero). */
export function normalizeRowsInPlace(data: Float32Array, dim: number): Float32Array {
  for (let r = 0; r < data.length / dim; r++) {
    let s = 0;
    for (let k = 0; k < dim; k++) s += data[r * dim + k] ** 2;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let k = 0; k < dim; k++) data[r * dim + k] *= inv;
  }
  return data;
}

/** Embeddings as sentence-transformers takes them: a [n, d] tensor or rows of numbers. */
export type Embeddings = tf.Tensor2D | readonly (readonly number[])[];

function asMatrix(x: Embeddings, name: string): tf.Tensor2D {
  if (x instanceof tf.Tensor) {
    if (x.rank !== 2) throw new Error(`${name} must be [n, d], got shape [${x.shape.join(', ')}]`);
    return tf.cast(x, 'float32');
  }
  if (!Array.isArray(x) || x.some((r) => !Array.isArray(r)))
    throw new Error(`${name} must be a tf.Tensor2D or an array of number arrays`);
  const d = x[0]?.length ?? 0;
  const bad = x.findIndex(
    (r) => r.length !== d || r.some((v: unknown) => typeof v !== 'number' || !Number.isFinite(v)),
  );
  if (bad >= 0) throw new Error(`${name}[${bad}] must hold ${d} finite numbers like ${name}[0]`);
  return tf.tensor2d(x as number[][], [x.length, d]);
}

/** Rows scaled to unit length; zero rows stay zero (their cosines are 0, as in sentence-transformers). */
function unitRows(x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.div(x, tf.maximum(tf.norm(x, 'euclidean', 1, true), 1e-12)));
}

function cosineMatrix(a: Embeddings, b: Embeddings): tf.Tensor2D {
  return tf.tidy(() => {
    const x = asMatrix(a, 'a');
    const y = asMatrix(b, 'b');
    if (x.shape[1] !== y.shape[1])
      throw new Error(`a and b must have the same dimension, got ${x.shape[1]} and ${y.shape[1]}`);
    return tf.matMul(unitRows(x), unitRows(y), false, true);
  });
}

/**
 * Cosine similarity of every row of `a` with every row of `b`: [n, m]. Tensors in → a tf.Tensor2D out
 * (the caller disposes it); arrays in → number[][]. Zero rows have cosine 0 with everything.
 *
 * @example
 * cosineSimilarity([[1, 0], [1, 1]], [[1, 0]]); // → [[1], [0.7071]]
 * const sims = cosineSimilarity(x, y); // tf.Tensor2D [x rows, y rows]
 */
export function cosineSimilarity(a: tf.Tensor2D, b: Embeddings): tf.Tensor2D;
export function cosineSimilarity(a: Embeddings, b: tf.Tensor2D): tf.Tensor2D;
export function cosineSimilarity(a: Embeddings, b: Embeddings): number[][];
export function cosineSimilarity(a: Embeddings, b: Embeddings): tf.Tensor2D | number[][] {
  const m = cosineMatrix(a, b);
  if (a instanceof tf.Tensor || b instanceof tf.Tensor) return m;
  const out = m.arraySync();
  m.dispose();
  return out;
}

/** Settings of `semanticSearch`: hits per query (default 10), queries scored at a time (default 100). */
export interface SearchOptions {
  topK?: number;
  queryChunkSize?: number;
}

/** One semantic-search result: the corpus row and its cosine with the query. */
export interface SearchHit {
  corpusId: number;
  score: number;
}

/**
 * For each query, the `topK` corpus rows with the highest cosine similarity, best first (ties: lower
 * corpusId first), like sentence-transformers' `util.semantic_search`. Queries are scored in chunks of
 * `queryChunkSize` rows to bound memory (defaults: topK 10, queryChunkSize 100).
 *
 * @example
 * const st = new SentenceEncoder(encoder, tokenizer, { pooling: 'cls', maxLen: 64 });
 * const hits = semanticSearch(st.encode(['cheap flights to Paris']), st.encode(texts), { topK: 3 });
 * hits[0]; // → e.g. [{ corpusId: 4, score: 0.83 }, …], best first
 * texts[hits[0][0].corpusId]; // the best match
 */
export function semanticSearch(
  queries: Embeddings,
  corpus: Embeddings,
  opts: SearchOptions = {},
): SearchHit[][] {
  return readBackSync(searchWork(queries, corpus, opts));
}

/**
 * As `semanticSearch`, reading each chunk's similarities with `await data()` instead of `dataSync()`
 * (a browser page on webgl keeps responding while a large corpus is searched).
 *
 * @example
 * const st = new SentenceEncoder(encoder, tokenizer, { pooling: 'cls', maxLen: 64 });
 * const hits = await semanticSearchAsync(await st.encodeAsync(['cheap flights']), await st.encodeAsync(texts));
 */
export function semanticSearchAsync(
  queries: Embeddings,
  corpus: Embeddings,
  opts: SearchOptions = {},
): Promise<SearchHit[][]> {
  return readBackAsync(searchWork(queries, corpus, opts));
}

function* searchWork(
  queries: Embeddings,
  corpus: Embeddings,
  opts: SearchOptions,
): Generator<tf.Tensor, SearchHit[][], ArrayLike<number>> {
  const topK = opts.topK ?? 10;
  if (!(Number.isInteger(topK) && topK >= 1))
    throw new Error(`topK must be an integer ≥ 1, got ${opts.topK}`);
  const chunk = opts.queryChunkSize ?? 100;
  if (!(Number.isInteger(chunk) && chunk >= 1))
    throw new Error(`queryChunkSize must be an integer ≥ 1, got ${opts.queryChunkSize}`);
  const rows = (x: Embeddings) => (x instanceof tf.Tensor ? x.shape[0] : x.length);
  // Nothing to search, or nothing to search for: no dimensions to compare.
  if (rows(queries) === 0) return [];
  if (rows(corpus) === 0) return Array.from({ length: rows(queries) }, () => []);
  const [q, c] = tf.tidy(() => {
    const a = asMatrix(queries, 'queries');
    const b = asMatrix(corpus, 'corpus');
    if (a.shape[1] !== b.shape[1])
      throw new Error(`queries and corpus must have the same dimension, got ${a.shape[1]} and ${b.shape[1]}`);
    return [unitRows(a), unitRows(b)];
  });
  try {
    const n = c.shape[0];
    const out: SearchHit[][] = [];
    for (let start = 0; start < q.shape[0]; start += chunk) {
      const sims = tf.tidy(() =>
        tf.matMul(tf.slice(q, [start, 0], [Math.min(chunk, q.shape[0] - start), -1]), c, false, true),
      );
      const values = yield* readAndDispose(sims);
      for (let r = 0; r < values.length / n; r++) {
        const row = Array.from({ length: n }, (_, j) => ({ corpusId: j, score: values[r * n + j] }));
        out.push(row.sort((x, y) => y.score - x.score || x.corpusId - y.corpusId).slice(0, topK));
      }
    }
    return out;
  } finally {
    tf.dispose([q, c]);
  }
}
