import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { AdamW } from '../nn/optim.js';
import { Rng } from '../util/rng.js';
import {
  bernoulliMask,
  fisherMask,
  fisherMaskAsync,
  keptFraction,
  keptFractionAsync,
  maskSeed,
  encoderBlocks,
} from './masks.js';
import { Masker, childTuning, ChildTuningOptimizer, ChildTuningAdamW } from './optimizer.js';

await initBackend({ quiet: true });

const randn = (n: number, seed: number, scale = 1) => {
  const r = new Rng(seed);
  return Float32Array.from({ length: n }, () => scale * r.normal());
};

test('ChildTuning-F is unbiased: mean of g⊗M/p over 3000 draws is g within 4 standard errors per element', () => {
  const n = 400;
  const p = 0.3;
  const g = tf.tensor1d(randn(n, 1));
  const masker = new Masker({ mode: 'F', p, seed: 7 });
  const draws = 3000;
  const sum = new Float64Array(n);
  const gv = g.dataSync();
  let kept = 0;
  for (let t = 0; t < draws; t++) {
    const m = tf.tidy(() => masker.gradient('w', g, t));
    const d = m.dataSync();
    for (let i = 0; i < n; i++) {
      sum[i] += d[i];
      // Every element is either dropped or g/p exactly (to float rounding).
      assert.ok(d[i] === 0 || Math.abs(d[i] - gv[i] / p) <= 1e-6 * Math.abs(gv[i] / p));
      if (d[i] !== 0) kept++;
    }
    m.dispose();
  }
  // Var(g·M/p) = g²(1−p)/p, so the standard error of the mean is |g|·√((1−p)/(p·draws)).
  const se = Math.sqrt((1 - p) / (p * draws));
  let worst = 0;
  for (let i = 0; i < n; i++)
    worst = Math.max(worst, Math.abs(sum[i] / draws - gv[i]) / (Math.abs(gv[i]) * se));
  assert.ok(worst < 4.5, `worst deviation ${worst.toFixed(2)} standard errors`);
  assert.ok(Math.abs(kept / (n * draws) - p) < 0.005, `kept fraction ${kept / (n * draws)}`);
  g.dispose();
});

for (const backend of [...new Set([tf.getBackend(), 'cpu'])]) {
  test(`masks on ${backend} are reproducible: same (seed, step, name) → same mask; another step or name → another`, async () => {
    const before = tf.getBackend();
    await tf.setBackend(backend);
    const a = bernoulliMask([50], 0.5, maskSeed(3, 10, 'x'));
    const b = bernoulliMask([50], 0.5, maskSeed(3, 10, 'x'));
    const c = bernoulliMask([50], 0.5, maskSeed(3, 11, 'x'));
    const d = bernoulliMask([50], 0.5, maskSeed(3, 10, 'y'));
    const e = bernoulliMask([20000], 0.3, 5, 2);
    assert.deepEqual(a.dataSync(), b.dataSync());
    assert.notDeepEqual(a.dataSync(), c.dataSync());
    assert.notDeepEqual(a.dataSync(), d.dataSync());
    // Values 0 or `value`; kept share p within 5 binomial standard errors (√(0.3·0.7/20000) ≈ 0.0032).
    const ev = e.dataSync();
    assert.ok(ev.every((v) => v === 0 || v === 2));
    const kept = ev.filter((v) => v === 2).length / ev.length;
    assert.ok(Math.abs(kept - 0.3) < 5 * 0.0032, `kept ${kept}`);
    tf.dispose([a, b, c, d, e]);
    await tf.setBackend(before);
  });
}

/** Mean |Δθ| of Adam (lr 1e-4) on ½Σhᵢθᵢ² with gradient noise σ = 0.5, with or without ChildTuning-F. */
function quadraticUpdate(p: number | undefined): number {
  const d = 1000;
  const rng = new Rng(5);
  const h = tf.tensor1d(Float32Array.from({ length: d }, () => 0.5 + rng.next()));
  const theta = tf.variable(tf.tensor1d(randn(d, 6)));
  const adam = tf.train.adam(1e-4);
  const opt = p === undefined ? adam : childTuning(adam, { mode: 'F', p, seed: 3 });
  const noise = new Rng(9);
  let sum = 0;
  const steps = 300;
  for (let t = 0; t < steps; t++) {
    const g = tf.tidy(() => tf.add(tf.mul(h, theta), tf.tensor1d(randn(d, noise.seed(), 0.5))));
    const before = tf.clone(theta);
    opt.applyGradients([{ name: theta.name, tensor: g }]);
    const m = tf.tidy(() => tf.mean(tf.abs(tf.sub(theta, before))));
    if (t >= 100) sum += m.dataSync()[0];
    tf.dispose([g, before, m]);
  }
  tf.dispose([h, theta]);
  opt.dispose();
  return sum / (steps - 100);
}

test('under Adam, ChildTuning-F scales the mean |Δθ| by √p (the note’s lr×√p), within 10%, on a noisy quadratic', () => {
  // The regime of the note's argument: the mean gradient dominates Adam's first moment (a small step
  // keeps θ far from the optimum). Near the optimum, where noise dominates, the ratio tends to 1.
  const plain = quadraticUpdate(undefined);
  for (const p of [0.3, 0.5]) {
    const ratio = quadraticUpdate(p) / plain;
    assert.ok(
      Math.abs(ratio / Math.sqrt(p) - 1) < 0.1,
      `p ${p}: ratio ${ratio.toFixed(3)} vs √p ${Math.sqrt(p).toFixed(3)}`,
    );
  }
});

/** Plain-JS AdamW (bias-corrected, decoupled decay, global clip) with a per-step gradient transform. */
function referenceAdamW(
  w: Float32Array,
  grads: Float32Array[],
  lr: number,
  wd: number,
  clip: number,
  transform: (g: Float32Array, t: number) => Float32Array,
): Float32Array {
  const m = new Float64Array(w.length);
  const v = new Float64Array(w.length);
  const out = Float64Array.from(w);
  grads.forEach((g0, t) => {
    const norm = Math.hypot(...g0);
    const g = transform(
      g0.map((x) => (norm > clip ? (x * clip) / norm : x)),
      t,
    );
    for (let i = 0; i < w.length; i++) {
      m[i] = 0.9 * m[i] + 0.1 * g[i];
      v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i];
      const upd = m[i] / (1 - 0.9 ** (t + 1)) / (Math.sqrt(v[i] / (1 - 0.999 ** (t + 1))) + 1e-6);
      out[i] -= lr * (upd + wd * out[i]);
    }
  });
  return Float32Array.from(out);
}

test('ChildTuning-F on kexue AdamW equals a plain-JS AdamW that masks the clipped gradient (|Δ| < 1e-5)', () => {
  const n = 12;
  const w0 = randn(n, 11);
  const grads = [0, 1, 2, 3].map((s) => randn(n, 20 + s, 2));
  const w = tf.variable(tf.tensor2d(w0, [3, 4]));
  const opt = childTuning(new AdamW(new Map([['w', w]]), { weightDecay: 0.1, clipNorm: 1 }), {
    mode: 'F',
    p: 0.5,
    seed: 4,
  });
  assert.ok(opt instanceof ChildTuningAdamW);
  for (const g of grads) {
    const gt = tf.tensor2d(g, [3, 4]);
    opt.step(new Map([['w', gt]]), 0.05);
    gt.dispose();
  }
  const expected = referenceAdamW(w0, grads, 0.05, 0.1, 1, (g, t) => {
    const m = bernoulliMask([3, 4], 0.5, maskSeed(4, t, 'w'), 2);
    const md = m.dataSync();
    m.dispose();
    return g.map((x, i) => x * md[i]);
  });
  const got = w.dataSync();
  for (let i = 0; i < n; i++)
    assert.ok(Math.abs(got[i] - expected[i]) < 1e-5, `${i}: ${got[i]} vs ${expected[i]}`);
  opt.dispose();
  w.dispose();
});

test('fisherMask (and fisherMaskAsync, the same) keeps exactly round(p·n) candidates, the largest, and only candidate names', async () => {
  const fisher = new Map<string, tf.Tensor>([
    ['embeddings.word.table', tf.tensor2d(randn(30, 1), [10, 3])],
    ['layers.0.attention.query.kernel', tf.abs(tf.tensor2d(randn(40, 2), [8, 5]))],
    ['layers.1.ffn.bias', tf.tensor1d([1, 1, 1, 1, 1, 2, 2])], // ties at the threshold
    ['head.kernel', tf.ones([4, 2])],
  ]);
  for (const p of [0.1, 0.3, 0.5, 1]) {
    const masks = fisherMask(fisher, p);
    assert.deepEqual([...masks.keys()], ['layers.0.attention.query.kernel', 'layers.1.ffn.bias']);
    const kept = [...masks.values()].reduce((s, m) => s + tf.sum(m).dataSync()[0], 0);
    assert.equal(kept, Math.round(p * 47));
    // Everything kept is ≥ everything dropped.
    const keptVals: number[] = [];
    const dropped: number[] = [];
    for (const [n, m] of masks) {
      const f = fisher.get(n)!.dataSync();
      m.dataSync().forEach((x, i) => (x ? keptVals : dropped).push(f[i]));
    }
    if (keptVals.length && dropped.length) assert.ok(Math.min(...keptVals) >= Math.max(...dropped));
    assert.ok(Math.abs(keptFraction(masks) - Math.round(p * 47) / 47) < 1e-9);
    assert.equal(await keptFractionAsync(masks), keptFraction(masks));
    const viaAsync = await fisherMaskAsync(fisher, p);
    for (const [n, m] of masks) assert.deepEqual(viaAsync.get(n)!.dataSync(), m.dataSync(), n);
    tf.dispose([...masks.values(), ...viaAsync.values()]);
  }
  assert.throws(
    () => fisherMask(fisher, 0.3, { candidates: (n) => n.startsWith('nothing') }),
    /no parameter/,
  );
  assert.throws(() => fisherMask(fisher, 0), /keep probability/);
  tf.dispose([...fisher.values()]);
  assert.ok(encoderBlocks('encoder.layers.3.ffn.inner.kernel'));
  assert.ok(encoderBlocks('bert.encoder.layer.11.output.dense.weight'));
  assert.ok(!encoderBlocks('encoder.embeddings.word.table'));
  assert.ok(!encoderBlocks('head.kernel'));
});

for (const kind of ['AdamW', 'tf.train.adam'] as const) {
  test(`ChildTuning-D with ${kind}, weight decay 0: masked elements stay bit-identical, the rest move`, () => {
    const a = tf.variable(tf.tensor2d(randn(20, 3), [4, 5]));
    const b = tf.variable(tf.tensor1d(randn(6, 4)));
    const maskA = tf.tensor2d(
      Float32Array.from({ length: 20 }, (_, i) => (i % 3 === 0 ? 1 : 0)),
      [4, 5],
    );
    const a0 = a.dataSync().slice();
    const b0 = b.dataSync().slice();
    const names = kind === 'AdamW' ? ['a', 'b'] : [a.name, b.name];
    const masks = new Map([[names[0], maskA]]);
    const step = (opt: ChildTuningOptimizer | ChildTuningAdamW, ga: tf.Tensor, gb: tf.Tensor) => {
      if (opt instanceof ChildTuningAdamW)
        opt.step(
          new Map([
            ['a', ga],
            ['b', gb],
          ]),
          0.01,
        );
      else opt.applyGradients({ [names[0]]: ga, [names[1]]: gb });
    };
    const opt =
      kind === 'AdamW'
        ? childTuning(
            new AdamW(
              new Map<string, tf.Variable>([
                ['a', a],
                ['b', b],
              ]),
              { weightDecay: 0 },
            ),
            { mode: 'D', masks },
          )
        : childTuning(tf.train.adam(0.01), { mode: 'D', masks });
    for (let t = 0; t < 5; t++) {
      const ga = tf.tensor2d(randn(20, 30 + t), [4, 5]);
      const gb = tf.tensor1d(randn(6, 40 + t));
      step(opt, ga, gb);
      tf.dispose([ga, gb]);
    }
    const a1 = a.dataSync();
    for (let i = 0; i < 20; i++) {
      if (i % 3 === 0) assert.notEqual(a1[i], a0[i], `kept element ${i} did not move`);
      else assert.equal(a1[i], a0[i], `masked element ${i} changed`);
    }
    b.dataSync().forEach((x, i) => assert.notEqual(x, b0[i], 'a non-candidate parameter did not move'));
    opt.dispose();
    tf.dispose([a, b]);
  });
}

test('update dropout moves about p of the elements per step; F with p = 1 equals the plain optimizer', () => {
  const w = tf.variable(tf.tensor1d(randn(2000, 8)));
  const opt = childTuning(tf.train.adam(0.01), { mode: 'update', p: 0.3, seed: 1 });
  const before = w.dataSync().slice();
  const g = tf.tensor1d(randn(2000, 9));
  opt.applyGradients([{ name: w.name, tensor: g }]);
  const moved = Array.from(w.dataSync()).filter((x, i) => x !== before[i]).length;
  assert.ok(Math.abs(moved / 2000 - 0.3) < 0.04, `moved ${moved / 2000}`);
  // Kept elements moved by the full Adam step (0.01 at step 1) divided by p.
  const d = w.dataSync();
  for (let i = 0; i < 2000; i++)
    if (d[i] !== before[i]) assert.ok(Math.abs(Math.abs(d[i] - before[i]) - 0.01 / 0.3) < 1e-4);
  opt.dispose();

  const u = tf.variable(tf.tensor1d(before));
  const v = tf.variable(tf.tensor1d(before));
  const plain = tf.train.adam(0.01);
  const wrapped = childTuning(tf.train.adam(0.01), { mode: 'F', p: 1 });
  for (let t = 0; t < 3; t++) {
    plain.applyGradients([{ name: u.name, tensor: g }]);
    wrapped.applyGradients({ [v.name]: g });
  }
  assert.deepEqual(u.dataSync(), v.dataSync());
  assert.equal(wrapped.iterations, 3);
  tf.dispose([w, g, u, v]);
  plain.dispose();
  wrapped.dispose();
});

test('bad options fail with clear errors', () => {
  assert.throws(() => childTuning(tf.train.adam(), { mode: 'D' }), /needs 'masks'/);
  assert.throws(() => childTuning(tf.train.adam(), { mode: 'F', p: 1.5 }), /\(0, 1\]/);
  assert.throws(() => childTuning(tf.train.adam(), { mode: 'X' as 'F' }), /mode must be one of/);
  const m = new Map([['nope', tf.ones([2])]]);
  assert.throws(() => childTuning(tf.train.adam(), { mode: 'F', masks: m }), /for ChildTuning-D/);
  const w = tf.variable(tf.ones([2]));
  const opt = childTuning(tf.train.sgd(0.1), { mode: 'D', masks: m });
  assert.throws(
    () => opt.applyGradients([{ name: w.name, tensor: tf.ones([2]) }]),
    /none of the masks' names/,
  );
  assert.throws(() => childTuning({} as AdamW, { mode: 'F' }), /wraps a tf.train optimizer/);
  opt.dispose();
  w.dispose();
});

test('keptFraction counts non-zero entries over all masks, sync and async alike, and frees its count', async () => {
  const masks = new Map<string, tf.Tensor>([
    ['a', tf.tensor1d([1, 0, 0, 1])],
    [
      'b',
      tf.tensor2d([
        [0, 0.5],
        [0, -2],
      ]),
    ],
  ]);
  const before = tf.memory().numTensors;
  assert.equal(keptFraction(masks), 4 / 8);
  assert.equal(await keptFractionAsync(masks), 4 / 8);
  assert.equal(tf.memory().numTensors, before);
  assert.equal(keptFraction(new Map()), 0);
  assert.equal(await keptFractionAsync(new Map()), 0);
  tf.dispose([...masks.values()]);
});
