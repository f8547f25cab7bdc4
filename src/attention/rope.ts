/**
 * RoPE extensions for running a model past its training length, applied at inference only (the model is
 * trained with plain RoPE). They are what the log-n scale is usually combined with (Su's NTK-aware
 * scaling and ReRoPE notes; Qwen uses dynamic NTK + logn together):
 *
 * - 'ntk' (fixed NTK-aware scaling): base' = base · α^{d/(d−2)}. θᵢ = base^{−2i/d}, so the highest
 *   frequency (i = 0) is unchanged while the lowest (i = d/2 − 1) is divided by exactly α: high
 *   frequencies extrapolate, low ones interpolate.
 * - 'dynamic-ntk' (Qwen's `use_dynamic_ntk`): α chosen from the length, α = max(1, 2^⌈log₂(n/L) + 1⌉ − 1)
 *   for n tokens and training length L; α = 1 (plain RoPE) up to L.
 * - 'interpolation' (position interpolation, Chen et al. 2023): positions multiplied by 1/s, with
 *   s = `factor`, or s = max(1, n/L) when no factor is given, so n positions span the trained range.
 */
import * as tf from '@tensorflow/tfjs-core';

/** A RoPE extension for inference past the training length (file header); `EncoderConfig.ropeScaling`. */
export type RopeScaling =
  | { kind: 'ntk'; factor: number }
  | { kind: 'dynamic-ntk'; trainLength: number }
  | { kind: 'interpolation'; trainLength: number; factor?: number };

/** Every `RopeScaling` kind, for validation and command-line choices. */
export const ROPE_SCALINGS = ['ntk', 'dynamic-ntk', 'interpolation'] as const;

/** Checks a scaling from a config file or a caller; throws a clear Error. */
export function validateRopeScaling(s: RopeScaling): void {
  const bad = (msg: string) => new Error(`ropeScaling: ${msg}`);
  if (!s || typeof s !== 'object' || !ROPE_SCALINGS.includes(s.kind))
    throw bad(`kind must be one of ${ROPE_SCALINGS.join(', ')}`);
  if (s.kind === 'ntk' && !(Number.isFinite(s.factor) && s.factor >= 1))
    throw bad(`ntk factor must be a number ≥ 1 (got ${String(s.factor)})`);
  if (s.kind !== 'ntk' && !(Number.isInteger(s.trainLength) && s.trainLength >= 1))
    throw bad(`${s.kind} needs trainLength, a positive integer (got ${String(s.trainLength)})`);
  if (s.kind === 'interpolation' && s.factor !== undefined && !(Number.isFinite(s.factor) && s.factor >= 1))
    throw bad(`interpolation factor must be a number ≥ 1 (got ${String(s.factor)})`);
}

/**
 * NTK-aware base for head size d and scale α: base · α^{d/(d−2)}, so that the lowest frequency is
 * divided by exactly α and the highest is unchanged.
 *
 * @example
 * ntkBase(10000, 4, 64); // → 41829.4 (4× the context of a model trained with base 10000, head size 64)
 */
export function ntkBase(base: number, alpha: number, d: number): number {
  return base * Math.pow(alpha, d / (d - 2));
}

/**
 * Qwen's dynamic α for n tokens after training at L: 2^⌈log₂(n/L) + 1⌉ − 1, at least 1 (exactly 1
 * for n ≤ L).
 *
 * @example
 * dynamicNtkAlpha(64, 64); // → 1 (plain RoPE within the training length)
 * dynamicNtkAlpha(256, 64); // → 7
 */
export function dynamicNtkAlpha(n: number, trainLength: number): number {
  if (n <= trainLength) return 1;
  return Math.max(1, Math.pow(2, Math.ceil(Math.log2(n / trainLength) + 1)) - 1);
}

/**
 * The RoPE base and position multiplier to use for n tokens of head size d (identity without a scaling).
 *
 * @example
 * scaledRope(256, 64, 10000, { kind: 'interpolation', trainLength: 64 });
 * // → { base: 10000, positionScale: 0.25 }
 * scaledRope(256, 64, 10000, { kind: 'ntk', factor: 4 }); // → { base: 41829.4, positionScale: 1 }
 */
export function scaledRope(
  n: number,
  d: number,
  base: number,
  s?: RopeScaling,
): { base: number; positionScale: number } {
  if (!s) return { base, positionScale: 1 };
  switch (s.kind) {
    case 'ntk':
      return { base: ntkBase(base, s.factor, d), positionScale: 1 };
    case 'dynamic-ntk':
      return { base: ntkBase(base, dynamicNtkAlpha(n, s.trainLength), d), positionScale: 1 };
    case 'interpolation':
      return { base, positionScale: 1 / (s.factor ?? Math.max(1, n / s.trainLength)) };
  }
}

/**
 * cos/sin tables [N, d] for positions p·positionScale, interleaved pairs as the encoder's RoPE
 * (angle of pair i at position p: p·positionScale·base^{−2i/d}). The caller disposes them.
 *
 * @example
 * const { base, positionScale } = scaledRope(256, 64, 10000, { kind: 'dynamic-ntk', trainLength: 64 });
 * const { cos, sin } = scaledRopeTables(256, 64, base, positionScale); // each [256, 64]
 * tf.dispose([cos, sin]);
 */
export function scaledRopeTables(
  n: number,
  d: number,
  base: number,
  positionScale = 1,
): { cos: tf.Tensor2D; sin: tf.Tensor2D } {
  const cos = new Float32Array(n * d);
  const sin = new Float32Array(n * d);
  for (let i = 0; i < d / 2; i++) {
    const theta = Math.pow(base, (-2 * i) / d) * positionScale;
    for (let p = 0; p < n; p++) {
      const a = p * theta;
      cos[p * d + 2 * i] = cos[p * d + 2 * i + 1] = Math.cos(a);
      sin[p * d + 2 * i] = sin[p * d + 2 * i + 1] = Math.sin(a);
    }
  }
  return { cos: tf.tensor2d(cos, [n, d]), sin: tf.tensor2d(sin, [n, d]) };
}
