/**
 * Attention entropy: the quantity the log-n scale keeps invariant. For a row of attention
 * probabilities p over n keys, H = −Σⱼ pⱼ log pⱼ (nats); uniform attention gives log n. The note's
 * argument is that with the 1/√d scale H grows like log n as sequences get longer (attention spreads
 * out), while with the log-n scale it stays roughly where training left it.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Encoder } from '../encoder/model.js';
import type { Chart } from '../experiments/types.js';
import { readAndDispose, readBackAsync, readBackSync } from '../util/read-back.js';

/** The input of `attentionEntropy`: a padded batch of token ids (an `EncoderInput` without typeIds). */
export interface EntropyBatch {
  /** [B, N] token ids, [B, N] mask (1 = token; default ids ≠ padId). */
  ids: tf.Tensor2D;
  mask?: tf.Tensor2D;
}

/** What `attentionEntropy` returns: mean attention-row entropy (nats) per layer and head. */
export interface AttentionEntropy {
  /** [layer][head]: mean entropy (nats) of the attention rows of unmasked queries. */
  perHead: number[][];
  /** Mean over heads, per layer. */
  perLayer: number[];
  /** Mean number of unmasked keys per row (the n the entropy is compared with, log n = uniform). */
  meanKeys: number;
}

/**
 * Row entropies −Σ p log p over the last axis, [B, heads, N]; 0·log 0 is taken as 0 (masked keys have
 * probability exactly 0).
 *
 * @example
 * const p = tf.tensor2d([[0.5, 0.5, 0, 0], [0.25, 0.25, 0.25, 0.25]]);
 * rowEntropy(p).dataSync(); // → [0.693, 1.386] = [log 2, log 4]
 */
export function rowEntropy(probs: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const safe = tf.where(tf.greater(probs, 0), probs, tf.onesLike(probs));
    return tf.neg(tf.sum(tf.mul(probs, tf.log(safe)), -1));
  });
}

/**
 * Mean attention entropy of each layer and head of `encoder` on `batch` (evaluation mode: no dropout,
 * RoPE scalings and inference-only scales active as at inference). Rows of padding queries are left out.
 *
 * @example
 * const input = encodeTexts(tokenizer, texts, 256);
 * const h = attentionEntropy(encoder, input);
 * h.perLayer; // one mean entropy per layer, to compare with Math.log(h.meanKeys) (uniform attention)
 * disposeInput(input);
 */
export function attentionEntropy(encoder: Encoder, batch: EntropyBatch): AttentionEntropy {
  return readBackSync(entropyWork(encoder, batch));
}

/**
 * As `attentionEntropy`, reading the sums back with `await data()` instead of `dataSync()`.
 *
 * @example
 * const input = encodeTexts(tokenizer, texts, 256);
 * const h = await attentionEntropyAsync(encoder, input);
 * disposeInput(input);
 */
export function attentionEntropyAsync(encoder: Encoder, batch: EntropyBatch): Promise<AttentionEntropy> {
  return readBackAsync(entropyWork(encoder, batch));
}

function* entropyWork(
  encoder: Encoder,
  batch: EntropyBatch,
): Generator<tf.Tensor, AttentionEntropy, ArrayLike<number>> {
  const sums: tf.Tensor[] = [];
  const wasTraining = encoder.training;
  encoder.train(false);
  let all: tf.Tensor;
  try {
    encoder.blocks.forEach((block) => {
      block.attention.probe = (probs, mask) => {
        // Σ over batch and unmasked query rows of each head's row entropy → [heads].
        const h = rowEntropy(probs);
        sums.push(tf.keep(tf.sum(tf.mul(h, tf.expandDims(mask, 1)), [0, 2])));
      };
    });
    // One read-back: [rows, Σ keys per row, then every layer's per-head sums].
    all = tf.tidy(() => {
      const perRow = tf.sum(encoder.apply({ ids: batch.ids, mask: batch.mask }).mask, 1);
      // Every one of a sequence's k unmasked rows sees k keys.
      const counts = tf.stack([tf.sum(perRow), tf.sum(tf.square(perRow))]);
      return tf.concat([counts, ...sums]);
    });
  } finally {
    encoder.blocks.forEach((block) => (block.attention.probe = undefined));
    encoder.train(wasTraining);
    tf.dispose(sums);
  }
  const v = yield* readAndDispose(all);
  const [rows, keys] = [v[0], v[1]];
  const heads = encoder.config.heads;
  const perHead = encoder.blocks.map((_, l) =>
    Array.from({ length: heads }, (_, h) => v[2 + l * heads + h] / rows),
  );
  return {
    perHead,
    perLayer: perHead.map((h) => h.reduce((a, b) => a + b, 0) / h.length),
    meanKeys: keys / rows,
  };
}

/** Entropy of each layer at each length, e.g. from `attentionEntropy` run on batches of growing length. */
export interface EntropyCurve {
  name: string;
  lengths: number[];
  /** [length index][layer] mean entropy. */
  perLayer: number[][];
  /** Optional std over seeds, same shape. */
  std?: number[][];
}

/**
 * A line chart of entropy against sequence length, one series per (curve, layer), plus the entropy of
 * uniform attention (log n) for reference.
 */
export function entropyChart(
  curves: readonly EntropyCurve[],
  title = 'Attention entropy by sequence length',
): Chart {
  const series: Chart['series'] = [];
  for (const c of curves) {
    const layers = c.perLayer[0]?.length ?? 0;
    for (let l = 0; l < layers; l++) {
      series.push({
        name: `${c.name} layer ${l + 1}`,
        x: c.lengths,
        y: c.perLayer.map((row) => row[l]),
        ...(c.std && { err: c.std.map((row) => row[l]) }),
      });
    }
  }
  const lengths = [...new Set(curves.flatMap((c) => c.lengths))].sort((a, b) => a - b);
  series.push({ name: 'uniform attention (log n)', x: lengths, y: lengths.map((n) => Math.log(n)) });
  return { title, kind: 'line', xLabel: 'sequence length n (tokens)', yLabel: 'entropy (nats)', series };
}
