/**
 * Masked-LM data and loss. Masking follows BERT's create_pretraining_data: in each sequence choose
 * max(1, round(p·n)) of the n maskable tokens (p = 0.15; [CLS]/[SEP]/[PAD] and other special tokens are
 * never chosen); replace 80% of the chosen by [MASK], 10% by a random non-special token, leave 10%.
 * All randomness comes from the given `Rng`, so batches are reproducible from a seed.
 */
import * as tf from '@tensorflow/tfjs-core';
import { sparseSoftmaxCrossEntropy } from '../nn/fused-cross-entropy.js';
import type { Rng } from '../util/rng.js';
import type { Encoder } from './model.js';

/** Settings of `MlmMasker`: vocabulary size, the [MASK] id, the ids never chosen, BERT's 15% and 80/10/10. */
export interface MaskingOptions {
  vocabSize: number;
  maskId: number;
  /** Ids never chosen and never drawn as replacements. */
  specialIds: ReadonlySet<number>;
  maskProb?: number;
  /** Shares of [MASK] / random / unchanged among chosen tokens (default 0.8 / 0.1 / 0.1). */
  maskShare?: number;
  randomShare?: number;
}

export type MaskAction = 'mask' | 'random' | 'keep';

export interface MaskedSequence {
  input: number[];
  /** Chosen positions (ascending), their original ids, and what was done to each. */
  positions: number[];
  targets: number[];
  actions: MaskAction[];
}

/**
 * Chooses the tokens to predict in a sequence and corrupts them as BERT does (see the file header); use
 * it through `makeMlmBatch`, or call `mask(ids, rng)` for one sequence.
 *
 * @example
 * const masker = new MlmMasker({
 *   vocabSize: tokenizer.vocab.size,
 *   maskId: tokenizer.vocab.special.mask,
 *   specialIds: tokenizer.vocab.specialIdSet(),
 * });
 * const m = masker.mask(tokenizer.encode('the cat sat on the mat'), new Rng(1));
 * // m.input: ids with ~15% corrupted; m.positions / m.targets: what to predict
 */
export class MlmMasker {
  private readonly replacements: Int32Array;

  constructor(readonly opts: MaskingOptions) {
    const ids: number[] = [];
    for (let i = 0; i < opts.vocabSize; i++) if (!opts.specialIds.has(i)) ids.push(i);
    if (!ids.length) throw new Error('no non-special token to draw replacements from');
    this.replacements = Int32Array.from(ids);
  }

  mask(ids: readonly number[], rng: Rng): MaskedSequence {
    const p = this.opts.maskProb ?? 0.15;
    const maskShare = this.opts.maskShare ?? 0.8;
    const randomShare = this.opts.randomShare ?? 0.1;
    const candidates: number[] = [];
    ids.forEach((id, i) => {
      if (!this.opts.specialIds.has(id)) candidates.push(i);
    });
    const k = candidates.length
      ? Math.min(candidates.length, Math.max(1, Math.round(p * candidates.length)))
      : 0;
    // Partial Fisher–Yates: the first k entries become a uniform random k-subset.
    for (let i = 0; i < k; i++) {
      const j = i + rng.int(candidates.length - i);
      [candidates[i], candidates[j]] = [candidates[j], candidates[i]];
    }
    const positions = candidates.slice(0, k).sort((a, b) => a - b);
    const input = [...ids];
    const actions: MaskAction[] = [];
    for (const pos of positions) {
      const r = rng.next();
      if (r < maskShare) {
        input[pos] = this.opts.maskId;
        actions.push('mask');
      } else if (r < maskShare + randomShare) {
        input[pos] = this.replacements[rng.int(this.replacements.length)];
        actions.push('random');
      } else actions.push('keep');
    }
    return { input, positions, targets: positions.map((i) => ids[i]), actions };
  }
}

/** A masked-LM batch from `makeMlmBatch`, for `mlmLoss`; the caller disposes its tensors. */
export interface MlmBatch {
  /** [B, N] int32 inputs (masked), [B, N] float32 attention mask. */
  ids: tf.Tensor2D;
  mask: tf.Tensor2D;
  /** [M] flat indices b·N + i of the predicted positions, and their original ids. */
  positions: tf.Tensor1D;
  targets: tf.Tensor1D;
}

/**
 * Masks and pads sequences (already with [CLS]/[SEP]) into a batch; N = the longest sequence. The same
 * `rng` state gives the same batch.
 *
 * @example
 * const v = tokenizer.vocab;
 * const masker = new MlmMasker({ vocabSize: v.size, maskId: v.special.mask, specialIds: v.specialIdSet() });
 * const seqs = texts.map((t) => tokenizer.encode(t, { maxLen: 128 }));
 * const batch = makeMlmBatch(seqs, masker, v.special.pad, new Rng(1));
 * const { loss, accuracy } = mlmLoss(encoder, batch);
 * tf.dispose([batch.ids, batch.mask, batch.positions, batch.targets, loss, accuracy]);
 */
export function makeMlmBatch(
  seqs: readonly (readonly number[])[],
  masker: MlmMasker,
  padId: number,
  rng: Rng,
): MlmBatch {
  const n = Math.max(1, ...seqs.map((s) => s.length));
  const ids = new Int32Array(seqs.length * n).fill(padId);
  const mask = new Float32Array(seqs.length * n);
  const positions: number[] = [];
  const targets: number[] = [];
  seqs.forEach((seq, b) => {
    const m = masker.mask(seq, rng);
    m.input.forEach((id, i) => {
      ids[b * n + i] = id;
      mask[b * n + i] = 1;
    });
    m.positions.forEach((pos, j) => {
      positions.push(b * n + pos);
      targets.push(m.targets[j]);
    });
  });
  return {
    ids: tf.tensor2d(ids, [seqs.length, n], 'int32'),
    mask: tf.tensor2d(mask, [seqs.length, n], 'float32'),
    positions: tf.tensor1d(positions, 'int32'),
    targets: tf.tensor1d(targets, 'int32'),
  };
}

export function disposeBatch(b: MlmBatch): void {
  tf.dispose([b.ids, b.mask, b.positions, b.targets]);
}

/**
 * Cuts a stream of token ids (documents concatenated, with `docSeparator` between documents when given)
 * into training sequences of at most `seqLen` tokens each, [CLS] … [SEP], as BERT-style pretraining
 * packs text.
 */
export function packSequences(
  docs: Iterable<readonly number[]>,
  seqLen: number,
  cls: number,
  sep: number,
  docSeparator?: number,
): number[][] {
  const body = seqLen - 2;
  if (body < 1) throw new Error(`seqLen ${seqLen} is too short`);
  const out: number[][] = [];
  let cur: number[] = [];
  const push = (id: number) => {
    cur.push(id);
    if (cur.length === body) {
      out.push([cls, ...cur, sep]);
      cur = [];
    }
  };
  for (const doc of docs) {
    if (!doc.length) continue;
    // A separator never starts a sequence.
    if (docSeparator !== undefined && cur.length) push(docSeparator);
    for (const id of doc) push(id);
  }
  if (cur.length) out.push([cls, ...cur, sep]);
  return out;
}

/**
 * Mean cross-entropy of the MLM predictions at the chosen positions (only those go through the
 * head), and their accuracy. `training` switches dropout (default off); the model's own mode is restored.
 * Needs an encoder with the MLM head.
 *
 * @example
 * const v = tokenizer.vocab;
 * const masker = new MlmMasker({ vocabSize: v.size, maskId: v.special.mask, specialIds: v.specialIdSet() });
 * const batch = makeMlmBatch(texts.map((t) => tokenizer.encode(t)), masker, v.special.pad, new Rng(1));
 * const opt = tf.train.adam(1e-4);
 * opt.minimize(() => mlmLoss(encoder, batch, true).loss, false, encoder.trainableVariables());
 * const { loss, accuracy } = mlmLoss(encoder, batch); // evaluation: dropout off
 */
export function mlmLoss(
  model: Encoder,
  batch: MlmBatch,
  training = false,
): { loss: tf.Scalar; accuracy: tf.Scalar } {
  return tf.tidy(() => {
    const wasTraining = model.training;
    model.train(training);
    try {
      const out = model.apply({ ids: batch.ids, mask: batch.mask });
      const [b, n, h] = out.last.shape;
      const picked = tf.gather(tf.reshape(out.last, [b * n, h]), batch.positions);
      const logits = model.mlmLogits(picked) as tf.Tensor2D;
      const loss = tf.mean(sparseSoftmaxCrossEntropy(logits, batch.targets)) as tf.Scalar;
      const accuracy = tf.mean(
        tf.cast(tf.equal(tf.argMax(logits, 1), batch.targets), 'float32'),
      ) as tf.Scalar;
      return { loss, accuracy };
    } finally {
      model.train(wasTraining);
    }
  });
}
