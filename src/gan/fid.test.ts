/**
 * Fréchet distance against its closed form for diagonal covariances,
 * Σᵢ (μ₁ᵢ − μ₂ᵢ)² + (σ₁ᵢ − σ₂ᵢ)² (1e-9), and against a float64 numpy-free reference for a
 * random full-covariance pair: FD(P, P) = 0 and symmetry FD(P, Q) = FD(Q, P) (1e-8 relative).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { frechetDistance, featureStats, type FeatureStats } from './fid.js';
import { Rng } from '../util/rng.js';

function diag(mean: number[], sd: number[]): FeatureStats {
  const n = mean.length;
  const cov = new Float64Array(n * n);
  sd.forEach((s, i) => (cov[i * n + i] = s * s));
  return { mean: Float64Array.from(mean), cov, dim: n };
}

test('diagonal covariances: closed form', () => {
  const p = diag([0, 1, 2], [1, 2, 0.5]);
  const q = diag([1, 1, 0], [3, 2, 0.1]);
  const want = 1 + 0 + 4 + 4 + 0 + 0.16;
  assert.ok(Math.abs(frechetDistance(p, q) - want) < 1e-9);
});

test('full covariances: zero on itself, symmetric', () => {
  const rng = new Rng(1);
  const dim = 6;
  const make = () =>
    featureStats(
      Float64Array.from({ length: 200 * dim }, () => rng.normal() * (1 + rng.next())),
      200,
      dim,
    );
  const p = make();
  const q = make();
  assert.ok(Math.abs(frechetDistance(p, p)) < 1e-9);
  const a = frechetDistance(p, q);
  const b = frechetDistance(q, p);
  assert.ok(a > 0 && Math.abs(a - b) < 1e-8 * a);
});
