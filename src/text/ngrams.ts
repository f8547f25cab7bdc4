/**
 * Chinese character n-gram features for bag-of-n-gram classifiers. Chinese has no spaces, so
 * overlapping character unigrams, bigrams (and optionally trigrams) stand in for words, as in
 * fastText's Chinese baselines. The vocabulary is built from the training split only, so dev and
 * test n-grams unseen in training are dropped rather than leaking into the model.
 */

export interface NgramOptions {
  /** N-gram lengths to extract; default [1, 2]. */
  orders?: number[];
  /** Keep n-grams seen in at least this many training texts; default 1. */
  minCount?: number;
  /** Keep at most this many n-grams (most frequent first); default unlimited. */
  maxSize?: number;
}

/**
 * Texts as sparse count vectors in compressed-row form: the n-grams of text `i` are
 * `ids[offsets[i] .. offsets[i+1])` with multiplicities `counts[...]`, ids distinct within a row.
 */
export interface Bags {
  rows: number;
  offsets: Int32Array;
  ids: Int32Array;
  counts: Float32Array;
}

/** NFKC folds full-width Latin letters and digits to ASCII; lower-casing merges 'App' and 'app'. */
export function normalizeText(text: string): string {
  return text.normalize('NFKC').toLowerCase();
}

/** All character n-grams of the given orders (code points, not UTF-16 units), in text order. */
export function charNgrams(text: string, orders: readonly number[] = [1, 2]): string[] {
  const chars = Array.from(normalizeText(text)).filter((c) => c.trim() !== '');
  const out: string[] = [];
  for (const n of orders) {
    if (!Number.isInteger(n) || n < 1)
      throw new RangeError(`n-gram order must be a positive integer, got ${n}`);
    for (let i = 0; i + n <= chars.length; i++) {
      let g = chars[i];
      for (let j = 1; j < n; j++) g += chars[i + j];
      out.push(g);
    }
  }
  return out;
}

export class NgramVocab {
  private constructor(
    private readonly index: Map<string, number>,
    readonly orders: readonly number[],
  ) {}

  /** Builds the vocabulary from training texts; order is by document frequency, ties by string. */
  static build(texts: readonly string[], opts: NgramOptions = {}): NgramVocab {
    const orders = opts.orders ?? [1, 2];
    const df = new Map<string, number>();
    for (const t of texts) {
      for (const g of new Set(charNgrams(t, orders))) df.set(g, (df.get(g) ?? 0) + 1);
    }
    const minCount = opts.minCount ?? 1;
    const kept = [...df].filter(([, c]) => c >= minCount);
    kept.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const size = Math.min(kept.length, opts.maxSize ?? Infinity);
    return new NgramVocab(new Map(kept.slice(0, size).map(([g], i) => [g, i])), orders);
  }

  get size(): number {
    return this.index.size;
  }

  id(ngram: string): number | undefined {
    return this.index.get(ngram);
  }

  /** Encodes texts as count bags; n-grams outside the vocabulary are dropped. */
  encode(texts: readonly string[]): Bags {
    const offsets = new Int32Array(texts.length + 1);
    const ids: number[] = [];
    const counts: number[] = [];
    texts.forEach((t, i) => {
      const row = new Map<number, number>();
      for (const g of charNgrams(t, this.orders)) {
        const id = this.index.get(g);
        if (id !== undefined) row.set(id, (row.get(id) ?? 0) + 1);
      }
      for (const [id, c] of [...row].sort((a, b) => a[0] - b[0])) {
        ids.push(id);
        counts.push(c);
      }
      offsets[i + 1] = ids.length;
    });
    return { rows: texts.length, offsets, ids: Int32Array.from(ids), counts: Float32Array.from(counts) };
  }
}
