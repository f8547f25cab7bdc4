import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { Encoder, activationFn, geluTanh, pool, type EncoderOutput } from './model.js';
import { MlmMasker, makeMlmBatch, mlmLoss, disposeBatch } from './mlm.js';
import { namedGradients } from '../nn/module.js';
import { AdamW } from '../nn/optim.js';
import { Rng } from '../util/rng.js';
import { referenceForward } from './reference.test-util.js';
import type { EncoderConfig } from './config.js';

await initBackend();

const tiny = (o: Partial<EncoderConfig> = {}) =>
  new Encoder({
    vocabSize: 40,
    hidden: 16,
    layers: 2,
    heads: 2,
    dropout: 0,
    attentionDropout: 0,
    seed: 7,
    ...o,
  });

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

/** Gives LayerNorm gains/biases and all biases non-trivial values, so wiring mistakes cannot hide. */
function perturb(model: Encoder, seed: number): void {
  const rng = new Rng(seed);
  for (const [n, v] of model.namedParameters()) {
    if (v.rank !== 1) continue;
    const base = n.endsWith('gamma') ? 1 : 0;
    v.assign(tf.tensor1d(Array.from({ length: v.size }, () => base + 0.3 * rng.normal())));
  }
}

test('output shapes, hidden states and pooling', () => {
  const m = tiny({ layers: 3 });
  tf.tidy(() => {
    const ids = tf.tensor2d(
      [
        [2, 5, 6, 7, 3],
        [2, 8, 3, 0, 0],
      ],
      [2, 5],
      'int32',
    );
    const out = m.apply({ ids });
    assert.deepEqual(out.last.shape, [2, 5, 16]);
    assert.equal(out.hiddenStates.length, 4);
    for (const h of out.hiddenStates) assert.deepEqual(h.shape, [2, 5, 16]);
    assert.deepEqual(Array.from(out.mask.dataSync()), [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]);
    assert.deepEqual(m.mlmLogits(out.last).shape, [2, 5, 40]);
    for (const how of ['cls', 'mean', 'first-last-avg'] as const)
      assert.deepEqual(pool(out, how).shape, [2, 16]);
  });
  m.dispose();
});

test('pooling: CLS is position 0, mean and first-last-avg ignore padding (reference, 1e-6)', () => {
  const m = tiny({ layers: 3 });
  tf.tidy(() => {
    const out = m.apply({ ids: tf.tensor2d([[2, 8, 9, 3, 0, 0]], [1, 6], 'int32') });
    const last = out.last.arraySync()[0];
    const first = out.hiddenStates[1].arraySync()[0];
    const cls = pool(out, 'cls').dataSync();
    assert.ok(maxAbsDiff(cls, last[0]) === 0);
    const mean = last[0].map((_, j) => (last[0][j] + last[1][j] + last[2][j] + last[3][j]) / 4);
    assert.ok(maxAbsDiff(pool(out, 'mean').dataSync(), mean) < 1e-6);
    const fla = last[0].map(
      (_, j) => [0, 1, 2, 3].reduce((s, i) => s + (first[i][j] + last[i][j]) / 2, 0) / 4,
    );
    assert.ok(maxAbsDiff(pool(out, 'first-last-avg').dataSync(), fla) < 1e-6);
  });
  m.dispose();
});

for (const norm of ['post', 'pre'] as const) {
  for (const position of ['learned', 'rope'] as const) {
    test(`matches a plain-JS float64 reference (${norm}-LN, ${position} positions; |Δ| < 2e-4)`, () => {
      const m = tiny({ norm, position });
      perturb(m, 11);
      const ids = [2, 9, 14, 21, 3, 0, 0];
      const mask = [1, 1, 1, 1, 1, 0, 0];
      const ref = referenceForward(m, ids, mask);
      tf.tidy(() => {
        const out = m.apply({ ids: tf.tensor2d([ids], [1, 7], 'int32') });
        const last = out.last.arraySync()[0];
        const logits = (m.mlmLogits(out.last) as tf.Tensor3D).arraySync()[0];
        for (let i = 0; i < 5; i++) {
          assert.ok(
            maxAbsDiff(last[i], ref.last[i]) < 2e-4,
            `hidden row ${i}: ${maxAbsDiff(last[i], ref.last[i])}`,
          );
          assert.ok(maxAbsDiff(logits[i], ref.logits[i]) < 2e-4, `logits row ${i}`);
        }
      });
      m.dispose();
    });
  }
}

test('padding never leaks: changing padded ids (and padded mask rows) changes no non-padded output', () => {
  for (const position of ['learned', 'rope'] as const) {
    for (const norm of ['post', 'pre'] as const) {
      const m = tiny({ norm, position });
      perturb(m, 3);
      tf.tidy(() => {
        const mask = tf.tensor2d(
          [
            [1, 1, 1, 0, 0, 0],
            [1, 1, 1, 1, 1, 0],
          ],
          [2, 6],
        );
        const a = m.apply({
          ids: tf.tensor2d(
            [
              [2, 5, 3, 0, 0, 0],
              [2, 6, 7, 8, 3, 0],
            ],
            [2, 6],
            'int32',
          ),
          mask,
        });
        const b = m.apply({
          ids: tf.tensor2d(
            [
              [2, 5, 3, 17, 33, 9],
              [2, 6, 7, 8, 3, 21],
            ],
            [2, 6],
            'int32',
          ),
          mask,
        });
        const same = (x: EncoderOutput, y: EncoderOutput) => {
          const xa = x.last.arraySync();
          const ya = y.last.arraySync();
          for (const [row, n] of [
            [0, 3],
            [1, 5],
          ]) {
            for (let i = 0; i < n; i++)
              assert.equal(maxAbsDiff(xa[row][i], ya[row][i]), 0, `${norm}/${position} [${row},${i}]`);
          }
        };
        same(a, b);
        for (const how of ['mean', 'first-last-avg', 'cls'] as const) {
          assert.equal(maxAbsDiff(pool(a, how).dataSync(), pool(b, how).dataSync()), 0, how);
        }
        // The test can fail: the padded positions' own outputs do change.
        const pa = a.last.arraySync()[0][4];
        const pb = b.last.arraySync()[0][4];
        assert.ok(maxAbsDiff(pa, pb) > 1e-3);
      });
      m.dispose();
    }
  }
});

test('Post-LN wiring: every block output is layer-normalised (γ=1, β=0 → mean 0, var 1 per token)', () => {
  const m = tiny({ norm: 'post', layers: 3 });
  tf.tidy(() => {
    const out = m.apply({ ids: tf.tensor2d([[2, 5, 6, 7, 3]], [1, 5], 'int32') });
    for (const h of out.hiddenStates) {
      const { mean, variance } = tf.moments(h, -1);
      assert.ok(tf.max(tf.abs(mean)).dataSync()[0] < 1e-5);
      assert.ok(tf.max(tf.abs(tf.sub(variance, 1))).dataSync()[0] < 1e-3);
    }
  });
  m.dispose();
});

test('Pre-LN wiring: zeroing the branch output projections makes blocks the identity; Post-LN then normalises', () => {
  for (const norm of ['pre', 'post'] as const) {
    const m = tiny({ norm, layers: 2 });
    perturb(m, 5);
    for (const [n, v] of m.namedParameters()) {
      if (/layers\.\d+\.(attention\.output|ffn\.outer)\./.test(n)) v.assign(tf.zerosLike(v));
    }
    tf.tidy(() => {
      const out = m.apply({ ids: tf.tensor2d([[2, 5, 6, 7, 3]], [1, 5], 'int32') });
      const emb = out.hiddenStates[0];
      const blockOut = out.hiddenStates[2];
      const d = maxAbsDiff(emb.dataSync(), blockOut.dataSync());
      if (norm === 'pre') {
        assert.equal(d, 0);
        // Pre-LN adds a final LayerNorm on top of the residual stream.
        assert.equal(maxAbsDiff(out.last.dataSync(), m.finalNorm!.apply(blockOut).dataSync()), 0);
        assert.ok(maxAbsDiff(out.last.dataSync(), blockOut.dataSync()) > 1e-2);
      } else {
        // Post-LN: LN(x + 0) with perturbed γ/β is not x.
        assert.ok(d > 1e-2);
      }
    });
    m.dispose();
  }
});

test('gradients reach every parameter (key bias excepted: softmax is shift-invariant in it)', () => {
  for (const norm of ['post', 'pre'] as const) {
    const m = tiny({ norm, position: 'learned' });
    const masker = new MlmMasker({
      vocabSize: 40,
      maskId: 4,
      specialIds: new Set([0, 1, 2, 3, 4]),
      maskProb: 0.5,
    });
    const batch = makeMlmBatch(
      [
        [2, 10, 11, 12, 13, 14, 15, 3],
        [2, 20, 21, 22, 3],
      ],
      masker,
      0,
      new Rng(1),
    );
    const { value, grads } = namedGradients(m, () => mlmLoss(m, batch, true).loss);
    assert.ok(Number.isFinite(value.dataSync()[0]));
    for (const [n, g] of grads) {
      const norm2 = tf.tidy(() => tf.norm(g).dataSync()[0]);
      if (/attention\.key\.bias$/.test(n)) assert.ok(norm2 < 1e-6, `${n} ${norm2}`);
      else assert.ok(norm2 > 1e-8 && Number.isFinite(norm2), `${norm}: no gradient for ${n} (${norm2})`);
    }
    assert.equal(grads.size, m.trainableVariables().length);
    tf.dispose([value, ...grads.values()]);
    disposeBatch(batch);
    m.dispose();
  }
});

test('gradients agree with central finite differences (float32; relative error < 2e-2)', () => {
  // Larger weights than BERT's 0.02, so that attention is far from uniform and every term matters.
  const m = tiny({ norm: 'pre', position: 'rope', initStd: 0.3 });
  perturb(m, 9);
  const masker = new MlmMasker({
    vocabSize: 40,
    maskId: 4,
    specialIds: new Set([0, 1, 2, 3, 4]),
    maskProb: 0.5,
  });
  const batch = makeMlmBatch(
    [
      [2, 10, 11, 12, 13, 14, 15, 3],
      [2, 20, 21, 22, 3],
    ],
    masker,
    0,
    new Rng(2),
  );
  const lossOf = () => mlmLoss(m, batch).loss;
  const { value, grads } = namedGradients(m, lossOf);
  const rng = new Rng(4);
  for (const name of [
    'layers.0.attention.query.kernel',
    'layers.1.ffn.inner.kernel',
    'embeddings.word.table',
    'mlm.norm.gamma',
  ]) {
    const v = m.namedParameters().get(name)!;
    const orig = v.clone();
    const dir = tf.tensor(
      Array.from({ length: v.size }, () => rng.normal()),
      v.shape,
    );
    const analytic = tf.tidy(() => tf.sum(tf.mul(grads.get(name)!, dir)).dataSync()[0]);
    const eps = 1e-2;
    const at = (s: number) => {
      v.assign(tf.tidy(() => tf.add(orig, tf.mul(dir, s))));
      return tf.tidy(() => lossOf().dataSync()[0]);
    };
    const numeric = (at(eps) - at(-eps)) / (2 * eps);
    v.assign(orig);
    const rel = Math.abs(numeric - analytic) / Math.max(1e-3, Math.abs(analytic));
    assert.ok(rel < 2e-2, `${name}: analytic ${analytic}, numeric ${numeric}`);
    tf.dispose([orig, dir]);
  }
  tf.dispose([value, ...grads.values()]);
  disposeBatch(batch);
  m.dispose();
});

test('dropout is active only in training mode and is seeded', () => {
  const make = () => tiny({ dropout: 0.3, attentionDropout: 0.3 });
  const [a, b] = [make(), make()];
  tf.tidy(() => {
    const ids = tf.tensor2d([[2, 5, 6, 7, 3]], [1, 5], 'int32');
    const evalA = a.apply({ ids }).last.dataSync();
    assert.equal(maxAbsDiff(evalA, a.apply({ ids }).last.dataSync()), 0);
    a.train(true);
    b.train(true);
    const ta = a.apply({ ids }).last.dataSync();
    assert.ok(maxAbsDiff(ta, evalA) > 1e-3);
    assert.equal(maxAbsDiff(ta, b.apply({ ids }).last.dataSync()), 0);
  });
  a.dispose();
  b.dispose();
});

test('custom logit scale receives per-example lengths and changes the output', () => {
  const seen: number[][] = [];
  const m = tiny({ seed: 3 });
  perturb(m, 8);
  const scaled = new Encoder(m.config, {
    scale: (ctx) => {
      seen.push(Array.from(ctx.lengths.dataSync()));
      return tf.div(tf.log(ctx.lengths), Math.log(512) * Math.sqrt(ctx.headDim));
    },
  });
  scaled.loadNamedTensors(Object.fromEntries(m.namedParameters()));
  tf.tidy(() => {
    const ids = tf.tensor2d(
      [
        [2, 5, 6, 3, 0],
        [2, 5, 6, 7, 3],
      ],
      [2, 5],
      'int32',
    );
    const d = maxAbsDiff(m.apply({ ids }).last.dataSync(), scaled.apply({ ids }).last.dataSync());
    assert.ok(d > 1e-4);
  });
  assert.deepEqual(seen[0], [4, 5]);
  assert.equal(seen.length, 2);
  m.dispose();
  scaled.dispose();
});

test('learned positions refuse sequences longer than maxPositions; RoPE accepts them', () => {
  const learned = tiny({ maxPositions: 4 });
  const rope = tiny({ maxPositions: 4, position: 'rope' });
  const ids = tf.tensor2d([[2, 5, 6, 7, 8, 3]], [1, 6], 'int32');
  assert.throws(() => tf.tidy(() => void learned.apply({ ids })), /exceeds maxPositions/);
  tf.tidy(() => assert.deepEqual(rope.apply({ ids }).last.shape, [1, 6, 16]));
  ids.dispose();
  learned.dispose();
  rope.dispose();
});

test('invalid configs are rejected with the reason', () => {
  assert.throws(() => tiny({ hidden: 18, heads: 4 }), /divisible/);
  assert.throws(() => tiny({ dropout: 1 }), /dropout/);
});

test('a training step (forward, gradients, AdamW update) leaks no tensors', () => {
  const m = tiny({ position: 'rope', dropout: 0.1, attentionDropout: 0.1 });
  const opt = new AdamW(m.namedParameters());
  const masker = new MlmMasker({ vocabSize: 40, maskId: 4, specialIds: new Set([0, 1, 2, 3, 4]) });
  const step = () => {
    const batch = makeMlmBatch(
      [
        [2, 10, 11, 12, 13, 14, 15, 3],
        [2, 20, 21, 22, 3],
      ],
      masker,
      0,
      new Rng(1),
    );
    const { value, grads } = namedGradients(m, () => mlmLoss(m, batch, true).loss);
    opt.step(grads, 1e-3);
    tf.dispose([value, ...grads.values()]);
    disposeBatch(batch);
  };
  step();
  const before = tf.memory().numTensors;
  step();
  step();
  assert.equal(tf.memory().numTensors, before);
  opt.dispose();
  m.dispose();
});

test('Hugging Face options are additive: a config without them keeps its parameters and initial weights', () => {
  const old = tiny();
  const explicit = tiny({ activation: 'gelu', positionOffset: 0, pooler: false, mlmHead: true });
  assert.deepEqual([...old.namedParameters().keys()], [...explicit.namedParameters().keys()]);
  assert.ok(![...old.namedParameters().keys()].some((n) => n.startsWith('pooler.')));
  for (const [n, v] of old.namedParameters())
    assert.deepEqual(v.dataSync(), explicit.namedParameters().get(n)!.dataSync(), n);
  // A pooler is added after every older parameter, so those keep their initial values too.
  const pooled = tiny({ pooler: true });
  for (const [n, v] of old.namedParameters())
    assert.deepEqual(v.dataSync(), pooled.namedParameters().get(n)!.dataSync(), n);
  const headless = tiny({ mlmHead: false });
  assert.equal(headless.mlm, undefined);
  assert.throws(() => headless.mlmLogits(tf.zeros([1, 16])), /no MLM head/);
  assert.throws(
    () => tf.tidy(() => old.pooled(old.apply({ ids: tf.tensor2d([[2, 3]], [1, 2], 'int32') }))),
    /no pooler/,
  );
  for (const m of [old, explicit, pooled, headless]) m.dispose();
});

test('pooler, activations and the position offset compute what their definitions say', () => {
  const ids = tf.tensor2d([[2, 9, 10, 3]], [1, 4], 'int32');
  const m = tiny({ pooler: true, activation: 'relu', maxPositions: 8, positionOffset: 2 });
  tf.tidy(() => {
    const out = m.apply({ ids });
    const first = tf.squeeze(tf.slice(out.last, [0, 0, 0], [-1, 1, -1]), [1]);
    const want = tf.tanh(m.pooler!.dense.apply(first));
    assert.ok(maxAbsDiff(m.pooled(out).dataSync(), want.dataSync()) < 1e-6);
    // With offset 2 the embeddings use table rows 2..5: the same as an offset-0 model whose table is shifted.
    const shifted = tiny({ activation: 'relu', maxPositions: 8, pooler: true });
    const table = m.embeddings.position!.table;
    shifted.loadNamedTensors({
      ...Object.fromEntries([...m.namedParameters()].map(([n, v]) => [n, v])),
      'embeddings.position.table': tf.concat([tf.slice(table, [2, 0], [6, -1]), tf.zeros([2, 16])]),
    });
    assert.ok(maxAbsDiff(shifted.apply({ ids }).last.dataSync(), out.last.dataSync()) < 1e-6);
    shifted.dispose();
  });
  assert.throws(
    () => tf.tidy(() => void m.apply({ ids: tf.zeros([1, 7], 'int32') })),
    /exceeds maxPositions 8 − positionOffset 2/,
  );
  const x = tf.tensor1d([-2, -0.5, 0, 0.5, 2]);
  const tanhGelu = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
  assert.ok(maxAbsDiff(geluTanh(x).dataSync(), [-2, -0.5, 0, 0.5, 2].map(tanhGelu)) < 1e-6);
  assert.deepEqual(Array.from(activationFn('relu')(x).dataSync()), [0, 0, 0, 0.5, 2]);
  assert.throws(
    () => tiny({ activation: 'swish' as never }),
    /activation must be one of gelu, gelu-tanh, relu/,
  );
  assert.throws(() => tiny({ positionOffset: 2, position: 'rope' }), /positionOffset needs position learned/);
  tf.dispose([ids, x]);
  m.dispose();
});

test('mlmTransform: false gives logits h·Eᵀ + b straight from the encoder (1e-5), with no head Dense/LN', async () => {
  const bare = tiny({ mlmTransform: false });
  perturb(bare, 3);
  const names = [...bare.namedParameters().keys()].filter((n) => n.startsWith('mlm.'));
  assert.deepEqual(names, ['mlm.bias']);
  assert.equal(bare.mlm!.dense, undefined);
  const h = tf.randomNormal([2, 3, 16], 0, 1, 'float32', 5);
  const got = bare.mlmLogits(h);
  const table = bare.embeddings.word.table;
  const want = tf.add(tf.einsum('bth,vh->btv', h, table), bare.mlm!.bias);
  assert.deepEqual(got.shape, [2, 3, 40]);
  assert.ok(maxAbsDiff(await got.data(), await want.data()) < 1e-5);
  // The default keeps BERT's transform; a transform-less head is not a BERT head, so HF export refuses.
  const bert = tiny();
  assert.ok(bert.mlm!.dense);
  bert.dispose();
  const { hfConfigFromEncoder } = await import('../hf/config.js');
  assert.throws(() => hfConfigFromEncoder(bare.config), /mlmTransform is false/);
  assert.throws(() => tiny({ mlmTransform: 'no' as never }), /mlmTransform must be true or false/);
  tf.dispose([h, got, want]);
  bare.dispose();
});
