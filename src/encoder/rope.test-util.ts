/**
 * RoPE in its textbook form for tests: tables for positions offset..offset+N−1 built independently of
 * the encoder's (`scaledRopeTables`), and the rotation through the encoder's `rotatePairs` from plain
 * cos/sin tables.
 */
import * as tf from '@tensorflow/tfjs-core';
import { rotatePairs, signedSinTable } from '../nn/fused-rope.js';

/** cos/sin tables [N, d] for positions offset..offset+N−1, each angle repeated for its pair. */
export function ropeTables(
  n: number,
  d: number,
  base = 10000,
  offset = 0,
): { cos: tf.Tensor2D; sin: tf.Tensor2D } {
  const cos = new Float32Array(n * d);
  const sin = new Float32Array(n * d);
  for (let p = 0; p < n; p++) {
    for (let i = 0; i < d / 2; i++) {
      const angle = (p + offset) * Math.pow(base, (-2 * i) / d);
      cos[p * d + 2 * i] = cos[p * d + 2 * i + 1] = Math.cos(angle);
      sin[p * d + 2 * i] = sin[p * d + 2 * i + 1] = Math.sin(angle);
    }
  }
  return { cos: tf.tensor2d(cos, [n, d]), sin: tf.tensor2d(sin, [n, d]) };
}

/**
 * Rotates x [..., N, d] by tables [N, d] as `ropeTables` makes them (each angle repeated for its pair):
 * each pair (x₂ᵢ, x₂ᵢ₊₁) ↦ (x₂ᵢ·c − x₂ᵢ₊₁·s, x₂ᵢ₊₁·c + x₂ᵢ·s). One kernel on aten (`rotatePairs`), which
 * gives the tables no gradient.
 */
export function applyRope(x: tf.Tensor, cos: tf.Tensor2D, sin: tf.Tensor2D): tf.Tensor {
  const d = x.shape[x.rank - 1];
  if (d % 2) throw new Error(`RoPE needs an even last dimension, got ${d}`);
  // The signs ride on the [N, d] table, not on the full-size tensor.
  return tf.tidy(() => rotatePairs(x, cos, signedSinTable(sin)));
}
