import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { MlmMasker, makeMlmBatch, packSequences, mlmLoss, disposeBatch } from './mlm.js';
import { Encoder } from './model.js';
import { Rng } from '../util/rng.js';

await initBackend();

const V = 1000;
const specials = new Set([0, 1, 2, 3, 4]);
const masker = new MlmMasker({ vocabSize: V, maskId: 4, specialIds: specials });

function sequence(rng: Rng, n: number): number[] {
  return [2, ...Array.from({ length: n }, () => 5 + rng.int(V - 5)), 3];
}

test('masking rule: 15% of maskable tokens chosen; 80/10/10 split (within 5σ over 14k choices)', () => {
  const rng = new Rng(123);
  const seqs = 2000;
  const n = 48;
  let chosen = 0;
  let masked = 0;
  let random = 0;
  let kept = 0;
  let randomSame = 0;
  const perPosition = new Array(n + 2).fill(0);
  for (let s = 0; s < seqs; s++) {
    const ids = sequence(rng, n);
    const m = masker.mask(ids, rng);
    assert.equal(m.positions.length, Math.round(0.15 * n));
    chosen += m.positions.length;
    m.positions.forEach((p, j) => {
      perPosition[p]++;
      assert.ok(!specials.has(ids[p]), 'a special token was chosen');
      assert.equal(m.targets[j], ids[p]);
      const now = m.input[p];
      // Classify from the output alone; a random draw equal to the original looks like 'keep'.
      if (now === 4) masked++;
      else if (now !== ids[p]) random++;
      else kept++;
      if (m.actions[j] === 'random') {
        assert.ok(!specials.has(now), 'a special token was drawn as replacement');
        if (now === ids[p]) randomSame++;
      }
      assert.equal(m.actions[j] === 'mask', now === 4);
    });
    ids.forEach((id, i) => {
      if (!m.positions.includes(i)) assert.equal(m.input[i], id);
    });
  }
  const share = (k: number, p: number) => Math.abs(k / chosen - p) / Math.sqrt((p * (1 - p)) / chosen);
  assert.ok(share(masked, 0.8) < 5, `mask share ${masked / chosen}`);
  // Random draws hit the original with probability 1/995; those are counted as kept above.
  const pSame = 0.1 / (V - specials.size);
  assert.ok(share(random, 0.1 - pSame) < 5, `random share ${random / chosen}`);
  assert.ok(share(kept, 0.1 + pSame) < 5, `kept share ${kept / chosen}`);
  assert.ok(randomSame < 10);
  // Every body position is chosen at the same rate; [CLS]/[SEP] never.
  assert.equal(perPosition[0] + perPosition[n + 1], 0);
  const rate = chosen / (seqs * n);
  for (let i = 1; i <= n; i++) {
    assert.ok(
      Math.abs(perPosition[i] / seqs - rate) < 5 * Math.sqrt((rate * (1 - rate)) / seqs),
      `position ${i}`,
    );
  }
});

test('masking is reproducible from the seed and short sequences get at least one target', () => {
  const a = masker.mask([2, 7, 8, 9, 3], new Rng(1));
  const b = masker.mask([2, 7, 8, 9, 3], new Rng(1));
  assert.deepEqual(a, b);
  assert.equal(a.positions.length, 1);
  assert.equal(masker.mask([2, 3], new Rng(1)).positions.length, 0);
});

test('batches: padding, flat target positions, and mask; packing into [CLS] … [SEP] chunks', () => {
  const batch = makeMlmBatch(
    [
      [2, 10, 11, 12, 3],
      [2, 20, 3],
    ],
    masker,
    0,
    new Rng(4),
  );
  assert.deepEqual(batch.ids.shape, [2, 5]);
  assert.deepEqual(Array.from(batch.mask.dataSync()), [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]);
  const pos = Array.from(batch.positions.dataSync());
  const tgt = Array.from(batch.targets.dataSync());
  assert.equal(pos.length, 2);
  assert.ok(pos[0] >= 1 && pos[0] <= 3 && tgt[0] === [2, 10, 11, 12, 3][pos[0]]);
  assert.ok(pos[1] === 6 && tgt[1] === 20);
  disposeBatch(batch);
  assert.deepEqual(
    packSequences(
      [
        [5, 6, 7],
        [8, 9],
      ],
      5,
      2,
      3,
    ),
    [
      [2, 5, 6, 7, 3],
      [2, 8, 9, 3],
    ],
  );
});

test('MLM loss equals −mean log softmax at the targets (reference, |Δ| < 1e-5), and starts near log V', () => {
  const m = new Encoder({ vocabSize: 50, hidden: 16, layers: 1, heads: 2, dropout: 0, attentionDropout: 0 });
  const mk = new MlmMasker({ vocabSize: 50, maskId: 4, specialIds: specials, maskProb: 0.3 });
  const batch = makeMlmBatch([[2, 10, 11, 12, 13, 14, 15, 3]], mk, 0, new Rng(6));
  const { loss, accuracy } = mlmLoss(m, batch);
  const want = tf.tidy(() => {
    const out = m.apply({ ids: batch.ids, mask: batch.mask });
    const logits = (m.mlmLogits(out.last) as tf.Tensor3D).arraySync()[0];
    const pos = Array.from(batch.positions.dataSync());
    const tgt = Array.from(batch.targets.dataSync());
    return (
      -pos.reduce((s, p, j) => {
        const row = logits[p];
        const mx = Math.max(...row);
        const lse = mx + Math.log(row.reduce((a, x) => a + Math.exp(x - mx), 0));
        return s + row[tgt[j]] - lse;
      }, 0) / pos.length
    );
  });
  const got = loss.dataSync()[0];
  assert.ok(Math.abs(got - want) < 1e-5, `${got} vs ${want}`);
  assert.ok(Math.abs(got - Math.log(50)) < 0.3);
  const acc = accuracy.dataSync()[0];
  assert.ok(acc >= 0 && acc <= 1);
  tf.dispose([loss, accuracy]);
  disposeBatch(batch);
  m.dispose();
});
