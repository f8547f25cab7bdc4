import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { Rng } from '../util/rng.js';
import { cosentFromCosines, cosentLoss, logCumSumExp, rowCosine, type CosentMethod } from './loss.js';

await initBackend({ quiet: true });

const METHODS: CosentMethod[] = ['pairwise', 'sorted'];

function randomMatrix(rng: Rng, rows: number, cols: number): number[][] {
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => rng.normal()));
}

const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i], 0);
const cosine = (a: number[], b: number[]) => dot(a, b) / Math.sqrt(dot(a, a) * dot(b, b));

/** The definition, as a plain float64 double loop over all pairs with labelᵢ > labelⱼ. */
function referenceLoss(u: number[][], v: number[][], labels: number[], scale = 20): number {
  const s = u.map((ui, i) => scale * cosine(ui, v[i]));
  const terms = [0];
  for (let i = 0; i < s.length; i++) {
    for (let j = 0; j < s.length; j++) if (labels[i] > labels[j]) terms.push(s[j] - s[i]);
  }
  const m = Math.max(...terms);
  return m + Math.log(terms.reduce((acc, t) => acc + Math.exp(t - m), 0));
}

function tfLoss(u: number[][], v: number[][], labels: number[], method: CosentMethod, scale = 20): number {
  return tf.tidy(() => cosentLoss(tf.tensor2d(u), tf.tensor2d(v), labels, { method, scale }).dataSync()[0]);
}

const labelKinds: Record<string, (rng: Rng) => number> = {
  binary: (rng) => rng.int(2),
  'graded 0-5 (many ties)': (rng) => rng.int(6),
  continuous: (rng) => 5 * rng.next(),
};

test('both forms equal the plain double loop (binary, graded with ties, continuous labels)', () => {
  const rng = new Rng(11);
  for (const [kind, draw] of Object.entries(labelKinds)) {
    for (const b of [2, 7, 24]) {
      const u = randomMatrix(rng, b, 6);
      const v = randomMatrix(rng, b, 6);
      const labels = Array.from({ length: b }, () => draw(rng));
      const want = referenceLoss(u, v, labels);
      for (const method of METHODS) {
        const got = tfLoss(u, v, labels, method);
        // float32 cosines ×20: the loss is good to ~1e-5 relative.
        assert.ok(
          Math.abs(got - want) <= 1e-4 * Math.max(1, want),
          `${kind} B=${b} ${method}: ${got} vs ${want}`,
        );
      }
    }
  }
});

test('a hand-computed case: two pairs, and ties contribute nothing', () => {
  // cos = [1, 0] (u₀ ∥ v₀, u₁ ⟂ v₁). Labels [1, 0]: the one ordered pair gives log(1 + e^{20·(0 − 1)}).
  const u = [
    [1, 0],
    [1, 0],
  ];
  const v = [
    [2, 0],
    [0, 3],
  ];
  for (const method of METHODS) {
    assert.ok(Math.abs(tfLoss(u, v, [1, 0], method) - Math.log1p(Math.exp(-20))) < 1e-7);
    // Reversed labels: log(1 + e^{20}) ≈ 20.
    assert.ok(Math.abs(tfLoss(u, v, [0, 1], method) - (20 + Math.log1p(Math.exp(-20)))) < 1e-5);
    assert.equal(tfLoss(u, v, [3, 3], method), 0);
  }
});

test('stable for large scales: no overflow, still equals the double loop', () => {
  const rng = new Rng(5);
  const u = randomMatrix(rng, 16, 4);
  const v = randomMatrix(rng, 16, 4);
  const labels = Array.from({ length: 16 }, () => rng.int(4));
  for (const scale of [100, 1000]) {
    const want = referenceLoss(u, v, labels, scale);
    for (const method of METHODS) {
      const got = tfLoss(u, v, labels, method, scale);
      assert.ok(
        Number.isFinite(got) && Math.abs(got - want) <= 1e-5 * want,
        `scale ${scale} ${method}: ${got} vs ${want}`,
      );
    }
  }
});

/** Loss and dL/dcos in float64 from the definition (double loop), for cosines c. */
function referenceOnCosines(
  c: ArrayLike<number>,
  labels: number[],
  scale = 20,
): { loss: number; grad: Float64Array } {
  const b = c.length;
  const s = Array.from(c, (x) => scale * x);
  let m = 0;
  for (let i = 0; i < b; i++)
    for (let j = 0; j < b; j++) if (labels[i] > labels[j]) m = Math.max(m, s[j] - s[i]);
  let z = Math.exp(-m);
  const g = new Float64Array(b);
  for (let i = 0; i < b; i++) {
    for (let j = 0; j < b; j++) {
      if (labels[i] <= labels[j]) continue;
      const e = Math.exp(s[j] - s[i] - m);
      z += e;
      g[j] += e;
      g[i] -= e;
    }
  }
  return { loss: m + Math.log(z), grad: g.map((x) => (scale * x) / z) };
}

test('the O(B log B) form agrees with the O(B²) form within 1e-5 (B = 1000, graded labels)', () => {
  const rng = new Rng(3);
  const b = 1000;
  const cos = tf.tensor1d(Array.from({ length: b }, () => 2 * rng.next() - 1));
  const labels = Array.from({ length: b }, () => rng.int(6));
  const ref = referenceOnCosines(cos.dataSync(), labels);
  const largest = Math.max(...ref.grad.map(Math.abs));
  const [p, s] = METHODS.map((method) => cosentFromCosines(cos, labels, { method }).dataSync()[0]);
  assert.ok(Math.abs(p - s) <= 1e-5 * Math.max(1, Math.abs(p)), `${p} vs ${s}`);
  for (const method of METHODS) {
    const got = tf
      .grad((c: tf.Tensor) => cosentFromCosines(c as tf.Tensor1D, labels, { method }))(cos)
      .dataSync();
    let diff = 0;
    for (let i = 0; i < b; i++) diff = Math.max(diff, Math.abs(got[i] - ref.grad[i]));
    // float32 sums over ~4·10⁵ ordered pairs; measured ≤ 2.5e-6 of max |g| on aten and wasm.
    assert.ok(diff <= 2e-5 * largest, `${method}: max |Δg| ${diff} vs float64 (largest |g| ${largest})`);
  }
  cos.dispose();
});

test('gradients with respect to u and v match central finite differences of the float64 loop', () => {
  const rng = new Rng(8);
  const b = 6;
  const d = 4;
  const u = randomMatrix(rng, b, d);
  const v = randomMatrix(rng, b, d);
  const labels = [0, 2, 2, 1, 0.5, 3];
  const h = 1e-6;
  const fd = (m: number[][], i: number, j: number, isU: boolean): number => {
    const plus = m.map((r) => [...r]);
    const minus = m.map((r) => [...r]);
    plus[i][j] += h;
    minus[i][j] -= h;
    const f = (x: number[][]) => (isU ? referenceLoss(x, v, labels, 5) : referenceLoss(u, x, labels, 5));
    return (f(plus) - f(minus)) / (2 * h);
  };
  for (const method of METHODS) {
    const [gu, gv] = tf.grads((a: tf.Tensor, c: tf.Tensor) =>
      cosentLoss(a as tf.Tensor2D, c as tf.Tensor2D, labels, { method, scale: 5 }),
    )([tf.tensor2d(u), tf.tensor2d(v)]);
    const [du, dv] = [gu.arraySync() as number[][], gv.arraySync() as number[][]];
    let worst = 0;
    let largest = 0;
    for (let i = 0; i < b; i++) {
      for (let j = 0; j < d; j++) {
        worst = Math.max(
          worst,
          Math.abs(du[i][j] - fd(u, i, j, true)),
          Math.abs(dv[i][j] - fd(v, i, j, false)),
        );
        largest = Math.max(largest, Math.abs(du[i][j]), Math.abs(dv[i][j]));
      }
    }
    assert.ok(largest > 0.01, 'the check must see non-trivial gradients');
    assert.ok(worst <= 1e-4 * Math.max(1, largest), `${method}: max |Δ| ${worst} (largest |g| ${largest})`);
    tf.dispose([gu, gv]);
  }
});

test('all labels tied: loss 0 and zero gradient', () => {
  const u = tf.tensor2d([
    [1, 2],
    [3, -1],
  ]);
  for (const method of METHODS) {
    const g = tf.grad((a: tf.Tensor) => cosentLoss(a as tf.Tensor2D, u, [1, 1], { method }))(u);
    assert.deepEqual(Array.from(g.dataSync()), [0, 0, 0, 0]);
  }
});

test('logCumSumExp equals a running float64 log-sum-exp, also for values far apart', () => {
  const rng = new Rng(2);
  for (const n of [1, 2, 5, 64, 100]) {
    const x = Array.from({ length: n }, () => 300 * rng.normal());
    const got = logCumSumExp(tf.tensor1d(x)).dataSync();
    let acc = -Infinity;
    x.forEach((xi, i) => {
      const m = Math.max(acc, xi);
      acc = m + Math.log(Math.exp(acc - m) + Math.exp(xi - m));
      assert.ok(
        Math.abs(got[i] - acc) <= 1e-5 * Math.max(1, Math.abs(acc)),
        `n=${n} i=${i}: ${got[i]} vs ${acc}`,
      );
    });
  }
});

test('rowCosine: zero vectors give 0, shapes are checked', () => {
  const c = rowCosine(
    tf.tensor2d([
      [0, 0],
      [1, 1],
    ]),
    tf.tensor2d([
      [1, 0],
      [2, 2],
    ]),
  ).dataSync();
  assert.equal(c[0], 0);
  assert.ok(Math.abs(c[1] - 1) < 1e-6);
  assert.throws(
    () => cosentLoss(tf.zeros([2, 3]) as tf.Tensor2D, tf.zeros([2, 4]) as tf.Tensor2D, [0, 1]),
    /one shape/,
  );
  assert.throws(
    () => cosentLoss(tf.zeros([2, 3]) as tf.Tensor2D, tf.zeros([2, 3]) as tf.Tensor2D, [0, 1, 2]),
    /3 entries/,
  );
});

test('cosentLoss takes number[][] and tensors alike, spearman and auroc take tensors; bad input is named', async () => {
  const { spearman } = await import('./spearman.js');
  const { auroc } = await import('../density/ood.js');
  const u = [
    [1, 0.2],
    [0.3, 1],
    [0.5, 0.5],
  ];
  const v = [
    [0.9, 0.1],
    [1, 0.2],
    [0.4, 0.6],
  ];
  const labels = [1, 0, 1];
  const before = tf.memory().numTensors;
  const a = cosentLoss(u, v, labels);
  const [ut, vt, lt] = [tf.tensor2d(u), tf.tensor2d(v), tf.tensor1d(labels)];
  const b = cosentLoss(ut, vt, lt);
  assert.equal(a.dataSync()[0], b.dataSync()[0]);
  assert.throws(() => cosentLoss(u, v, labels, { scale: 0 }), /options: scale must be a finite number > 0/);
  assert.throws(
    () => cosentLoss(u, v, labels, { method: 'fast' as never }),
    /method must be 'pairwise', 'sorted' or 'auto'/,
  );
  assert.throws(() => cosentLoss(u, v, [1, 0]), /labels: has 2 entries, the batch has 3/);
  assert.throws(() => cosentLoss(u, [[1, 2]], labels), /cosentLoss: u and v must be \[B, d\] of one shape/);
  const s1 = tf.tensor1d([0.1, 0.4, 0.3, 0.9]);
  const s2 = tf.tensor1d([1, 3, 2, 4]);
  assert.equal(spearman(s1, s2), spearman([0.1, 0.4, 0.3, 0.9], [1, 3, 2, 4]));
  const out = tf.tensor1d([0, 0.2]);
  assert.equal(auroc(s1, out), auroc([0.1, 0.4, 0.3, 0.9], [0, 0.2]));
  tf.dispose([a, b, ut, vt, lt, s1, s2, out]);
  assert.equal(tf.memory().numTensors, before);
});

test('label tensors are never read back: both forms equal the array path, gradients too; a NaN label gives NaN', () => {
  const rng = new Rng(21);
  /** A label tensor whose host reads throw, so any read-back fails the test. */
  const onDevice = (labels: number[]) => {
    const t = tf.tensor1d(labels);
    for (const read of ['dataSync', 'data', 'arraySync', 'array'] as const)
      (t as unknown as Record<string, () => never>)[read] = () => assert.fail(`labels.${read}() was called`);
    return t;
  };
  for (const [b, draw] of [
    [9, (r: Rng) => r.int(3)],
    [9, () => 1],
    [300, (r: Rng) => r.int(6)],
    [300, (r: Rng) => r.next()],
  ] as const) {
    const cos = tf.tensor1d(Array.from({ length: b }, () => 2 * rng.next() - 1));
    const labels = Array.from({ length: b }, () => draw(rng));
    const lt = onDevice(labels);
    for (const method of METHODS) {
      const f = (l: number[] | tf.Tensor1D) => (c: tf.Tensor) =>
        cosentFromCosines(c as tf.Tensor1D, l, { method });
      const [want, got] = [f(labels)(cos), f(lt)(cos)].map((x) => x.dataSync()[0]);
      assert.ok(
        Math.abs(got - want) <= 1e-5 * Math.max(1, Math.abs(want)),
        `B=${b} ${method}: ${got} vs ${want}`,
      );
      const [gw, gg] = [tf.grad(f(labels))(cos).dataSync(), tf.grad(f(lt))(cos).dataSync()];
      const largest = Math.max(1e-6, ...Array.from(gw, Math.abs));
      const worst = Math.max(...Array.from(gw, (g, i) => Math.abs(g - gg[i])));
      // Same terms, summed in another order when labels tie: measured ≤ 1e-7 of max |g|.
      assert.ok(worst <= 1e-5 * largest, `B=${b} ${method}: max |Δg| ${worst} (largest |g| ${largest})`);
    }
    tf.dispose([cos, lt]);
  }
  const cos = tf.tensor1d([0.1, 0.5, 0.2]);
  for (const method of METHODS) {
    const bad = cosentFromCosines(cos, tf.tensor1d([0, NaN, 1]), { method });
    assert.ok(Number.isNaN(bad.dataSync()[0]), method);
  }
  assert.throws(() => cosentFromCosines(cos, tf.tensor1d([0, 1])), /labels: has 2 entries, the batch has 3/);
  assert.throws(
    () => cosentFromCosines(cos, tf.tensor2d([[0, 1, 2]]) as never),
    /labels: must be a 1-D tensor/,
  );
});
