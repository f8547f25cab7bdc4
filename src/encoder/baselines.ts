/**
 * Count-model baselines for masked-LM accuracy: what a model that reads no more than the token
 * frequencies (unigram) or the two neighbouring tokens gets on the same held-out text. An encoder's
 * held-out MLM accuracy means little without them: a small BERT sits on the unigram plateau for its
 * first hundreds of steps, and a context of two neighbours already predicts a third of Chinese characters.
 */

/** What `mlmCountBaselines` measured: accuracies (fractions) over `positions` held-out tokens. */
export interface MlmBaselines {
  /** Always the most frequent training token. */
  unigram: number;
  /**
   * The most frequent training token between the same left and right neighbours; backing off to the
   * left neighbour's most frequent successor, then the right's predecessor, then the unigram.
   */
  neighbours: number;
  positions: number;
}

/** The most frequent value per context from (context, value) counts: ties go to the smaller value. */
function bestPerContext(counts: Map<number, number>, vocab: number): Map<number, number> {
  const best = new Map<number, { v: number; c: number }>();
  for (const [key, c] of counts) {
    const ctx = Math.floor(key / vocab);
    const v = key % vocab;
    const b = best.get(ctx);
    if (!b || c > b.c || (c === b.c && v < b.v)) best.set(ctx, { v, c });
  }
  return new Map([...best].map(([k, b]) => [k, b.v]));
}

/**
 * Unigram and two-neighbour count baselines, counted on `train` sequences and scored on every
 * non-special token of `heldOut` (token-id sequences as the encoder sees them, [CLS]/[SEP] included
 * as context). The neighbours are the true ones, as for a single masked token; an MLM batch also
 * corrupts about 15% of them, so this slightly favours the baseline.
 *
 * @example
 * // Token-id sequences, e.g. from tokenizer.encode; here three tiny ones.
 * const trainSeqs = [[2, 7, 8, 9, 3], [2, 7, 8, 10, 3]];
 * const heldOutSeqs = [[2, 7, 8, 9, 3]];
 * const b = mlmCountBaselines(trainSeqs, heldOutSeqs, tokenizer.vocab.specialIdSet());
 * console.log(`unigram ${(100 * b.unigram).toFixed(1)}%, two neighbours ${(100 * b.neighbours).toFixed(1)}%`);
 */
export function mlmCountBaselines(
  train: readonly (readonly number[])[],
  heldOut: readonly (readonly number[])[],
  specialIds: ReadonlySet<number>,
): MlmBaselines {
  let vocab = 1;
  for (const seqs of [train, heldOut])
    for (const s of seqs) for (const t of s) vocab = Math.max(vocab, t + 1);
  const uni = new Map<number, number>();
  const both = new Map<number, number>();
  const left = new Map<number, number>();
  const right = new Map<number, number>();
  const inc = (m: Map<number, number>, k: number) => m.set(k, (m.get(k) ?? 0) + 1);
  // Keys are context·V + token, exact in a double while V³ < 2^53 (V up to ~200,000).
  for (const s of train)
    s.forEach((t, i) => {
      if (specialIds.has(t)) return;
      inc(uni, t);
      const l = i > 0 ? s[i - 1] : -1;
      const r = i + 1 < s.length ? s[i + 1] : -1;
      if (l >= 0) inc(left, l * vocab + t);
      if (r >= 0) inc(right, r * vocab + t);
      if (l >= 0 && r >= 0) inc(both, (l * vocab + r) * vocab + t);
    });
  let mode = -1;
  let modeCount = -1;
  for (const [t, c] of uni) if (c > modeCount || (c === modeCount && t < mode)) [mode, modeCount] = [t, c];
  const bestBoth = bestPerContext(both, vocab);
  const bestLeft = bestPerContext(left, vocab);
  const bestRight = bestPerContext(right, vocab);
  let n = 0;
  let hitUni = 0;
  let hitBoth = 0;
  for (const s of heldOut)
    s.forEach((t, i) => {
      if (specialIds.has(t)) return;
      n++;
      if (t === mode) hitUni++;
      const l = i > 0 ? s[i - 1] : -1;
      const r = i + 1 < s.length ? s[i + 1] : -1;
      const guess =
        (l >= 0 && r >= 0 ? bestBoth.get(l * vocab + r) : undefined) ??
        (l >= 0 ? bestLeft.get(l) : undefined) ??
        (r >= 0 ? bestRight.get(r) : undefined) ??
        mode;
      if (guess === t) hitBoth++;
    });
  return { unigram: n ? hitUni / n : NaN, neighbours: n ? hitBoth / n : NaN, positions: n };
}
