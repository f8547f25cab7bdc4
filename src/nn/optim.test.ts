import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { AdamW, globalNorm, readLossAndNorm } from './optim.js';
import { ADAMW_UPDATE, GLOBAL_NORM } from './fused-update.js';

await initBackend();

/** Plain-JS AdamW, for one scalar-per-element parameter vector. */
function referenceAdamW(w: number[], grads: number[][], lrs: number[], wd: number, clip?: number): number[] {
  const m = w.map(() => 0);
  const v = w.map(() => 0);
  const [b1, b2, eps] = [0.9, 0.999, 1e-6];
  w = [...w];
  grads.forEach((g0, t) => {
    const norm = Math.hypot(...g0);
    const g = clip !== undefined && norm > clip ? g0.map((x) => (x * clip) / norm) : g0;
    for (let i = 0; i < w.length; i++) {
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      const mh = m[i] / (1 - b1 ** (t + 1));
      const vh = v[i] / (1 - b2 ** (t + 1));
      w[i] -= lrs[t] * (mh / (Math.sqrt(vh) + eps) + wd * w[i]);
    }
  });
  return w;
}

test('AdamW matches a plain-JS reference over 5 steps with clipping (|Δ| < 1e-6); rank-1 params skip decay', async () => {
  const w0 = [0.5, -1, 2, 0.25];
  const grads = [
    [1, 2, -3, 0.5],
    [0.1, -0.2, 0.3, 0],
    [2, 2, 2, 2],
    [-1, 0, 1, 0],
    [0.5, 0.5, -0.5, 3],
  ];
  const lrs = [0.1, 0.05, 0.05, 0.02, 0.01];
  const matrix = tf.variable(tf.tensor2d(w0, [2, 2]));
  const vector = tf.variable(tf.tensor1d(w0));
  const opt = new AdamW(
    new Map<string, tf.Variable>([
      ['m', matrix],
      ['v', vector],
    ]),
    { weightDecay: 0.1, clipNorm: 3 },
  );
  for (let t = 0; t < 5; t++) {
    const g = new Map<string, tf.Tensor>([
      ['m', tf.tensor2d(grads[t], [2, 2])],
      ['v', tf.zeros([4])],
    ]);
    opt.step(g, lrs[t]);
    tf.dispose([...g.values()]);
  }
  const want = referenceAdamW(w0, grads, lrs, 0.1, 3);
  const got = Array.from(matrix.dataSync());
  got.forEach((x, i) => assert.ok(Math.abs(x - want[i]) < 1e-6, `${x} vs ${want[i]}`));
  // Zero gradients and no decay on the rank-1 parameter: unchanged.
  assert.deepEqual(Array.from(vector.dataSync()), w0);
  // State round trip: a fresh optimizer given the saved state continues identically.
  const saved = await opt.getWeights();
  const copy = tf.variable(matrix.clone());
  const opt2 = new AdamW(
    new Map<string, tf.Variable>([
      ['m', copy],
      ['v', tf.variable(tf.tensor1d(w0))],
    ]),
    { weightDecay: 0.1, clipNorm: 3 },
  );
  await opt2.setWeights(saved);
  assert.equal(opt2.iterations, 5);
  for (const o of [opt, opt2]) {
    const g = new Map<string, tf.Tensor>([['m', tf.tensor2d([0.3, -0.7, 0.2, 1], [2, 2])]]);
    o.step(g, 0.01);
    tf.dispose([...g.values()]);
  }
  assert.deepEqual(Array.from(copy.dataSync()), Array.from(matrix.dataSync()));
});

test('AdamW refuses a non-finite gradient before touching the weights or its step count', () => {
  const w = tf.variable(tf.tensor1d([1, 2]), true, 'w');
  const opt = new AdamW(new Map([['w', w]]));
  const bad = tf.tensor1d([NaN, 1]);
  assert.throws(
    () => opt.step(new Map([['w', bad]]), 0.1),
    /training diverged: the gradient norm is not finite at step 1/,
  );
  assert.deepEqual(Array.from(w.dataSync()), [1, 2]);
  assert.equal(opt.iterations, 0);
  tf.dispose([w, bad]);
  opt.dispose();
});

test('readLossAndNorm reads the loss and the global norm at once; a known norm gives the same step', async () => {
  const make = () =>
    new Map([
      [
        'w',
        tf.variable(
          tf.tensor2d([
            [1, -2],
            [3, 0.5],
          ]),
        ),
      ],
    ]);
  const grads = new Map([
    [
      'w',
      tf.tensor2d([
        [3, 0],
        [0, 4],
      ]),
    ],
  ]);
  const loss = tf.scalar(2.5);
  const [l, n] = await readLossAndNorm(loss, grads.values());
  assert.equal(l, 2.5);
  assert.ok(Math.abs(n - 5) < 1e-6);
  const [a, b] = [make(), make()];
  const [oa, ob] = [new AdamW(a, { clipNorm: 1 }), new AdamW(b, { clipNorm: 1 })];
  assert.equal(oa.step(grads, 0.1), ob.step(grads, 0.1, undefined, n));
  assert.deepEqual(a.get('w')!.dataSync(), b.get('w')!.dataSync());
  const before = tf.memory().numTensors;
  await readLossAndNorm(loss, grads.values());
  assert.equal(tf.memory().numTensors, before, 'no tensors left behind');
  tf.dispose([loss, ...grads.values(), ...a.values(), ...b.values()]);
  oa.dispose();
  ob.dispose();
});

test('the fused AdamW kernel (aten) equals the op-by-op update within 1e-6 relative, and leaves views and copies of old weights alone', async () => {
  if (tf.getBackend() !== 'aten') return; // other backends have only the op-by-op path
  assert.ok(tf.getKernel(ADAMW_UPDATE, 'aten'), 'aten registers the fused update');
  // Each variable holds its data alone (the initial tensor disposed), so the fused update may write in place.
  const own = (shape: number[], seed: number) =>
    tf.tidy(() => tf.variable(tf.randomNormal(shape, 0, 1, 'float32', seed)));
  const make = () =>
    new Map([
      ['w', own([6, 5], 1)],
      ['b', own([5], 2)],
      ['u', own([4, 3], 3)],
    ]);
  const [fusedP, plainP] = [make(), make()];
  const opts = { weightDecay: 0.1, clipNorm: 2, epsilon: 1e-6 };
  const [fused, plain] = [new AdamW(fusedP, opts), new AdamW(plainP, opts)];
  // What holds the old values must keep them: an ATen view of w's storage (not read before the update: a
  // read makes it a copy); tfjs tensors sharing b's and u's data (Identity and Reshape share the data id).
  const old = tf.transpose(fusedP.get('w')!);
  const w0 = fusedP.get('w')!.arraySync() as number[][];
  const oldValues = w0[0].map((_, j) => w0.map((row) => row[j]));
  const [copy, flat] = [tf.clone(fusedP.get('b')!), tf.reshape(fusedP.get('u')!, [-1])];
  const [copyValues, flatValues] = [copy.arraySync(), flat.arraySync()];
  for (let t = 0; t < 20; t++) {
    const grads = (p: Map<string, tf.Variable>) =>
      new Map([...p].map(([n, v], i) => [n, tf.randomNormal(v.shape, 0, 1 + t, 'float32', 1 + 10 * t + i)]));
    const [gf, gp] = [grads(fusedP), grads(plainP)];
    fused.step(gf, 0.01);
    plain.step(gp, 0.01, {}); // hooks (even empty) take the op-by-op path
    tf.dispose([...gf.values(), ...gp.values()]);
  }
  for (const n of ['w', 'b', 'u']) {
    const [a, b] = [fusedP.get(n)!.dataSync(), plainP.get(n)!.dataSync()];
    a.forEach((x, i) =>
      assert.ok(Math.abs(x - b[i]) <= 1e-6 * Math.max(1, Math.abs(b[i])), `${n}[${i}] ${x} vs ${b[i]}`),
    );
  }
  assert.deepEqual(old.arraySync(), oldValues);
  assert.deepEqual(copy.arraySync(), copyValues);
  assert.deepEqual(flat.arraySync(), flatValues);
  // applyGradients (tensor clip scale, as model.fit uses it) agrees with step too.
  const x = tf.variable(
    tf.tensor2d([
      [1, -2],
      [3, 0.5],
    ]),
  );
  const y = tf.variable(
    tf.tensor2d([
      [1, -2],
      [3, 0.5],
    ]),
  );
  const [o1, o2] = [
    new AdamW({ learningRate: 0.1, clipNorm: 1 }),
    new AdamW(new Map([['y', y]]), { clipNorm: 1 }),
  ];
  const g = tf.tensor2d([
    [3, 4],
    [0, 12],
  ]);
  o1.applyGradients([{ name: x.name, tensor: g }]);
  o2.step(new Map([['y', g]]), 0.1, {});
  x.dataSync().forEach((v, i) => assert.ok(Math.abs(v - y.dataSync()[i]) < 1e-6));
  tf.dispose([old, copy, flat, g, x, y, ...fusedP.values(), ...plainP.values()]);
  [fused, plain, o1, o2].forEach((o) => o.dispose());
});

test('the fused AdamW kernel over many variables (split over the threads, several calls, transposed gradients): within 1e-6 relative after one step, 1e-5 after 20', async () => {
  if (tf.getBackend() !== 'aten') return;
  // One call takes the first four (170,022 elements laid end to end: the threads' halves meet inside the
  // third); the fifth, over 2^22 elements, gets a call of its own, and the last one another. Matrices are
  // decayed and vectors not, so the per-variable decays differ. The gradients are ATen views
  // (transposes), not contiguous. Fused and op-by-op round differently, so over many steps they drift
  // apart by a few float32 ulps per step.
  const shapes = [[100, 500], [7], [400, 300], [3, 5], [2050, 2048], [5]];
  const make = () =>
    new Map(shapes.map((s, i) => [`p${i}`, tf.variable(tf.randomNormal(s, 0, 1, 'float32', 3 + i))]));
  const [fusedP, plainP] = [make(), make()];
  const opts = { weightDecay: 0.1, clipNorm: 2, epsilon: 1e-6 };
  const [fused, plain] = [new AdamW(fusedP, opts), new AdamW(plainP, opts)];
  const close = (tol: number) => {
    for (const [n, v] of fusedP) {
      const [a, b] = [v.dataSync(), plainP.get(n)!.dataSync()];
      a.forEach((x, i) =>
        assert.ok(Math.abs(x - b[i]) <= tol * Math.max(1, Math.abs(b[i])), `${n}[${i}] ${x} vs ${b[i]}`),
      );
    }
  };
  const grads = (t: number) =>
    new Map(
      shapes.map((s, i) => {
        const seed = 7 + 10 * t + i;
        const g = tf.tidy(() =>
          s.length === 2
            ? tf.transpose(tf.randomNormal([s[1], s[0]], 0, 1 + t, 'float32', seed))
            : tf.randomNormal(s, 0, 1 + t, 'float32', seed),
        );
        return [`p${i}`, g];
      }),
    );
  for (let t = 0; t < 20; t++) {
    const [gf, gp] = [grads(t), grads(t)];
    const calls = (await tf.profile(() => fused.step(gf, 0.01))).kernels.filter(
      (k) => k.name === ADAMW_UPDATE,
    );
    assert.equal(calls.length, 3, 'one call per 2^22 elements');
    plain.step(gp, 0.01, {});
    tf.dispose([...gf.values(), ...gp.values()]);
    if (t === 0) close(1e-6);
  }
  close(1e-5);
  tf.dispose([...fusedP.values(), ...plainP.values()]);
  [fused, plain].forEach((o) => o.dispose());
});

test('globalNorm: the fused kernel (aten) equals the op-by-op sum of squares within 1e-6 relative', () => {
  const gs = [
    tf.randomNormal([30, 7], 0, 3, 'float32', 11),
    tf.randomNormal([5], 0, 1, 'float32', 12),
    tf.ones([2, 2, 2]),
  ];
  const fused = globalNorm(gs);
  const plain = tf.tidy(() => tf.sqrt(tf.addN(gs.map((g) => tf.sum(tf.square(g))))));
  const [a, b] = [fused.dataSync()[0], plain.dataSync()[0]];
  assert.ok(Math.abs(a - b) <= 1e-6 * b, `${a} vs ${b}`);
  if (tf.getBackend() === 'aten') assert.ok(tf.getKernel(GLOBAL_NORM, 'aten'));
  tf.dispose([...gs, fused, plain]);
});
