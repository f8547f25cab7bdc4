import { test } from 'node:test';
import assert from 'node:assert/strict';
import { documentedStd, erf, initArray, truncatedStd, type InitSpec } from './init.js';
import { Rng } from '../util/rng.js';

function stats(a: Float32Array): { mean: number; std: number; maxAbs: number } {
  let s = 0;
  let s2 = 0;
  let maxAbs = 0;
  for (const x of a) {
    s += x;
    s2 += x * x;
    maxAbs = Math.max(maxAbs, Math.abs(x));
  }
  const mean = s / a.length;
  return { mean, std: Math.sqrt(s2 / a.length - mean * mean), maxAbs };
}

test('erf matches tabulated values (|Δ| < 2e-7)', () => {
  for (const [x, v] of [
    [0, 0],
    [0.5, 0.5204998778],
    [1, 0.8427007929],
    [2, 0.995322265],
    [-1.5, -0.9661051465],
  ]) {
    assert.ok(Math.abs(erf(x) - v) < 2e-7, `erf(${x})`);
  }
});

test('truncated normal at 2σ has std σ·0.87962 = σ/1.1368', () => {
  assert.ok(Math.abs(truncatedStd(1) - 0.8796256) < 1e-6, String(truncatedStd(1)));
  assert.ok(Math.abs(1 / truncatedStd(1) - 1.1368) < 1e-4);
  assert.ok(Math.abs(truncatedStd(0.02) - 0.02 / 1.1368) < 1e-6);
});

const shape = [300, 400]; // 120,000 draws; fans 300 / 400
const specs: InitSpec[] = [
  { name: 'truncated-normal', std: 0.02 },
  { name: 'truncated-normal', std: 1 },
  { name: 'glorot-uniform' },
  { name: 'glorot-normal' },
  { name: 'he-normal' },
  { name: 'lecun-normal' },
];

for (const spec of specs) {
  test(`${spec.name}${spec.std ? ` σ=${spec.std}` : ''}: empirical std of 120k draws within 2% of the documented value`, () => {
    const a = initArray(spec, shape, new Rng(42));
    const want = documentedStd(spec, { fanIn: 300, fanOut: 400 });
    const { mean, std, maxAbs } = stats(a);
    assert.ok(Math.abs(std / want - 1) < 0.02, `std ${std} vs documented ${want}`);
    assert.ok(Math.abs(mean) < 0.02 * want, `mean ${mean}`);
    if (spec.name === 'truncated-normal') {
      assert.ok(maxAbs <= 2 * spec.std! * (1 + 1e-6), `max |x| ${maxAbs} beyond 2σ`);
      // The untruncated σ would be 13.7% off: the documentation matters.
      assert.ok(Math.abs(std / spec.std! - 1) > 0.1);
    }
    if (spec.name === 'glorot-uniform') assert.ok(maxAbs <= Math.sqrt(6 / 700));
  });
}

test('initializers are reproducible from the seed', () => {
  const a = initArray({ name: 'he-normal' }, [10, 10], new Rng(1));
  const b = initArray({ name: 'he-normal' }, [10, 10], new Rng(1));
  const c = initArray({ name: 'he-normal' }, [10, 10], new Rng(2));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});
