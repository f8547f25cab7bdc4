/** Tokenized text → padded encoder inputs. */
import * as tf from '@tensorflow/tfjs-core';
import type { Tokenizer } from '../tokenizers/types.js';
import type { EncoderInput } from './model.js';

/**
 * Pads id lists to the longest one: ids [B, N] int32, mask [B, N] float32, optional typeIds [B, N] int32
 * (only when `typeIds` is given). The caller owns the tensors (`disposeInput`).
 *
 * @example
 * const input = padBatch([[2, 7, 9, 3], [2, 5, 3]], 0);
 * input.ids.shape; // → [2, 4]; the second row ends with padId 0 and mask 0
 * disposeInput(input);
 */
export function padBatch(
  seqs: readonly (readonly number[])[],
  padId: number,
  typeIds?: readonly (readonly number[])[],
): EncoderInput {
  const b = seqs.length;
  const n = Math.max(1, ...seqs.map((s) => s.length));
  const ids = new Int32Array(b * n).fill(padId);
  const mask = new Float32Array(b * n);
  const types = new Int32Array(b * n);
  seqs.forEach((s, i) =>
    s.forEach((id, j) => {
      ids[i * n + j] = id;
      mask[i * n + j] = 1;
      types[i * n + j] = typeIds?.[i][j] ?? 0;
    }),
  );
  return {
    ids: tf.tensor2d(ids, [b, n], 'int32'),
    mask: tf.tensor2d(mask, [b, n]),
    typeIds: typeIds ? tf.tensor2d(types, [b, n], 'int32') : undefined,
  };
}

/**
 * Encodes texts ([CLS] … [SEP], truncated to maxLen tokens, default 512) into one padded batch.
 *
 * @example
 * const input = encodeTexts(tokenizer, ['a short sentence', 'another one'], 64);
 * const vectors = tf.tidy(() => pool(encoder.apply(input), 'mean')); // [2, hidden]
 * disposeInput(input);
 */
export function encodeTexts(tok: Tokenizer, texts: readonly string[], maxLen = 512): EncoderInput {
  return padBatch(
    texts.map((t) => tok.encode(t, { maxLen })),
    tok.vocab.special.pad,
  );
}

/**
 * Encodes sentence pairs ([CLS] a [SEP] b [SEP], segment ids 0/1, truncated to maxLen tokens, default 512)
 * into one padded batch, for cross-encoders and pair classifiers.
 *
 * @example
 * const input = encodePairs(tokenizer, [['how old are you', 'what is your age']], 128);
 * input.typeIds; // [1, N] int32: 0 for the first sentence, 1 for the second
 * disposeInput(input);
 */
export function encodePairs(tok: Tokenizer, pairs: readonly [string, string][], maxLen = 512): EncoderInput {
  const enc = pairs.map(([a, b]) => tok.encodePair(a, b, maxLen));
  return padBatch(
    enc.map((e) => e.ids),
    tok.vocab.special.pad,
    enc.map((e) => e.typeIds),
  );
}

/**
 * Disposes the tensors of an `EncoderInput` (ids, mask and typeIds when present).
 *
 * @example
 * const input = encodeTexts(tokenizer, texts);
 * const out = tf.tidy(() => pool(encoder.apply(input), 'cls'));
 * disposeInput(input);
 */
export function disposeInput(x: EncoderInput): void {
  tf.dispose([x.ids, x.mask, x.typeIds].filter((t): t is tf.Tensor2D => t !== undefined));
}
