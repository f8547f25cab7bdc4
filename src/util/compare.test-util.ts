/** Error measures and finite differences shared by the numeric tests. */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';

/** Asserts every |actual − expected| ≤ tol × the largest |expected| (floored at 1), naming `what`[i]. */
export function assertClose(actual: ArrayLike<number>, expected: number[], tol: number, what: string): void {
  assert.equal(actual.length, expected.length, what);
  const scale = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 1);
  for (let i = 0; i < actual.length; i++)
    assert.ok(
      Math.abs(actual[i] - expected[i]) <= tol * scale,
      `${what}[${i}]: ${actual[i]} vs ${expected[i]}`,
    );
}

/** ‖a − b‖ / ‖b‖ (Euclidean), with ‖b‖ floored at 1e-15 so an all-zero reference is not a division by zero. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

/**
 * Central differences (f(w + h·eₖ) − f(w − h·eₖ)) / 2h of a scalar loss with respect to every entry of
 * `variable`, which is restored afterwards.
 */
export function centralDifferences(loss: () => tf.Scalar, variable: tf.Variable, h: number): Float64Array {
  const base = Float32Array.from(variable.dataSync());
  const at = (k: number, step: number) => {
    const p = Float32Array.from(base);
    p[k] += step;
    variable.assign(tf.tensor(p, variable.shape));
    return tf.tidy(() => loss().dataSync()[0]);
  };
  const out = new Float64Array(base.length);
  for (let k = 0; k < base.length; k++) out[k] = (at(k, h) - at(k, -h)) / (2 * h);
  variable.assign(tf.tensor(base, variable.shape));
  return out;
}

/**
 * Asserts that `second(backend)` (a second-order gradient, flattened) is the same on 'aten' as on 'cpu'
 * within 1e-5 and not all zero, then makes `restore` the backend again.
 */
export async function assertSecondOrderAsCpu(
  second: (backend: string) => number[],
  restore: string,
  what = 'second order',
): Promise<void> {
  const [onAten, onCpu] = [second('aten'), second('cpu')];
  await tf.setBackend(restore);
  assertClose(onAten, onCpu, 1e-5, what);
  assert.ok(
    onAten.some((v) => Math.abs(v) > 1e-3),
    `${what}: the second-order gradient is not all zero`,
  );
}
