import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { Encoder, disposeBatch, type MlmBatch } from '../encoder/index.js';
import { prepareCorpus } from '../encoder/pretrain.js';
import { CHINESE_CHAR, CharTokenizer } from '../tokenizers/index.js';
import { Rng } from '../util/rng.js';
import {
  blockForward,
  branchRatios,
  gainRms,
  lastEncoderNorm,
  lossFromHidden,
  makeMasker,
  meanStd,
  sampleBatch,
  slope,
  streamGradients,
  trainMlm,
  withShuffledPositions,
} from './init-probes.js';
import {
  INITS,
  initSettings,
  log2Slope,
  makeEncoder,
  probe,
  trainConfigs,
  unigramEntropy,
  warmupVerdict,
  type Corpus,
  type TrainRun,
} from './init.js';

await initBackend({ quiet: true });

const lines = Array.from({ length: 300 }, (_, i) =>
  ['今天天气很好', '我们去公园散步', '股市大涨三个百分点', '球队赢得了比赛', '新手机发布'][i % 5].repeat(
    1 + (i % 3),
  ),
);
const tok = CharTokenizer.build(lines, CHINESE_CHAR);
const { train, eval: held } = prepareCorpus(lines, tok, 16, 0.1);
const corpus: Corpus = { tok, train, eval: held.slice(0, 8) };
const tiny = { ...initSettings('quick'), hidden: 16, heads: 2, seq: 16, probeBatch: 4, trainBatch: 4 };

function batchFor(seed: number): MlmBatch {
  return sampleBatch(train, 4, makeMasker(tok), tok.vocab.special.pad, new Rng(seed));
}

/** Loss with `delta` added to block `l`'s input, by the same wiring as the model (checked below). */
function perturbedLoss(model: Encoder, batch: MlmBatch, l: number, delta: tf.Tensor): number {
  return tf.tidy(() => {
    let x = model.embeddings.apply(batch.ids);
    model.blocks.forEach((b, i) => {
      x = b.apply((i === l ? tf.add(x, delta) : x) as tf.Tensor3D, batch.mask);
    });
    return lossFromHidden(model, model.finalNorm ? model.finalNorm.apply(x) : x, batch).dataSync()[0];
  });
}

for (const norm of ['post', 'pre'] as const) {
  test(`stream gradients match central differences along the gradient (${norm}-LN, 2% tolerance)`, () => {
    const model = makeEncoder(corpus, tiny, 3, norm, INITS[1], 4);
    const batch = batchFor(1);
    const grads = streamGradients(model, batch);
    assert.equal(grads.length, 3);
    for (const l of [0, 2]) {
      const g = grads[l];
      const gn = Math.sqrt(tf.sum(tf.square(g)).dataSync()[0]);
      assert.ok(gn > 0 && Number.isFinite(gn));
      // Directional derivative along u = g/‖g‖ equals ‖g‖; ε chosen for float32 loss resolution.
      const eps = 0.05;
      const u = tf.mul(g, eps / gn);
      const fd = (perturbedLoss(model, batch, l, u) - perturbedLoss(model, batch, l, tf.neg(u))) / (2 * eps);
      assert.ok(Math.abs(fd - gn) / gn < 0.02, `block ${l}: finite difference ${fd} vs ‖g‖ ${gn}`);
      u.dispose();
    }
    tf.dispose(grads);
    disposeBatch(batch);
    model.dispose();
  });
}

test('blockForward reproduces the encoder’s own hidden states (Post- and Pre-LN)', () => {
  for (const norm of ['post', 'pre'] as const) {
    const model = makeEncoder(corpus, tiny, 2, norm, INITS[0], 2);
    const batch = batchFor(3);
    tf.tidy(() => {
      const out = model.apply({ ids: batch.ids, mask: batch.mask });
      let x = out.hiddenStates[0];
      model.blocks.forEach((b, i) => {
        x = blockForward(b, x, batch.mask, norm === 'post').out;
        const diff = tf.max(tf.abs(tf.sub(x, out.hiddenStates[i + 1]))).dataSync()[0];
        assert.ok(diff < 1e-5, `${norm} block ${i}: max diff ${diff}`);
      });
    });
    disposeBatch(batch);
    model.dispose();
  }
});

test('σ=0.02 branches are much smaller relative to the stream than Glorot ones', () => {
  const batch = batchFor(5);
  const [small, glorot] = INITS.map((init) => {
    const model = makeEncoder(corpus, tiny, 2, 'post', init, 7);
    const r = branchRatios(model, batch);
    model.dispose();
    return meanStd([...r.attention, ...r.ffn]).mean;
  });
  disposeBatch(batch);
  assert.ok(small > 0 && glorot > 0);
  assert.ok(small < 0.5 * glorot, `σ=0.02 ${small} vs Glorot ${glorot}`);
});

test('probe gives one value per block and a positive logit scale', () => {
  const r = probe(corpus, tiny, 'post', INITS[0], 3, 1);
  for (const k of ['stream', 'weights', 'attention', 'ffn'] as const) {
    assert.equal(r[k].length, 3);
    assert.ok(
      r[k].every((v) => Number.isFinite(v) && v > 0),
      k,
    );
  }
  assert.ok(r.logitStd > 0 && r.logitStd < 1);
});

test('slope and log2Slope recover an exact exponential; meanStd is the sample std', () => {
  assert.ok(Math.abs(slope([0, 1, 2, 3], [1, 3, 5, 7]) - 2) < 1e-12);
  assert.ok(Math.abs(log2Slope([1, 2, 4, 8, 16]) - 1) < 1e-12);
  const m = meanStd([1, 2, 3, 4]);
  assert.equal(m.mean, 2.5);
  assert.ok(Math.abs(m.std - Math.sqrt(5 / 3)) < 1e-12);
});

test('trainMlm lowers the loss, records gains, ticks each step, and tracks the right LayerNorm', () => {
  const model = makeEncoder(corpus, tiny, 2, 'post', INITS[0], 3);
  assert.equal(lastEncoderNorm(model), model.blocks[1].ffnNorm.gamma);
  assert.equal(gainRms(model.mlm!.norm!.gamma), 1);
  let calls = 0;
  const t = trainMlm(model, corpus, makeMasker(tok), {
    steps: 60,
    batchSize: 16,
    lr: 1e-2,
    warmupSteps: 5,
    every: 20,
    seed: 1,
    onStep: () => calls++,
  });
  assert.equal(calls, 60);
  assert.deepEqual(t.steps, [0, 20, 40, 60]);
  assert.equal(t.encoderGain.length, 4);
  assert.equal(t.headGain.length, 4);
  assert.equal(t.diverged, false);
  assert.ok(t.loss[3] < t.loss[1] - 0.2, `loss ${t.loss.join(', ')}`);
  assert.ok(t.encoderGain[3] !== 1);
  assert.ok(Number.isFinite(t.evalLoss) && t.evalAccuracy >= 0);
  model.dispose();
  const pre = makeEncoder(corpus, tiny, 2, 'pre', INITS[0], 3);
  assert.equal(lastEncoderNorm(pre), pre.finalNorm!.gamma);
  pre.dispose();
});

test('unigramEntropy: log k for k equally frequent tokens, specials ignored', () => {
  const s = tok.vocab.special;
  const h = unigramEntropy(
    [
      [s.cls, 7, 8, 9, 10, s.sep],
      [s.cls, 10, 9, 8, 7, s.sep, s.pad],
    ],
    tok,
  );
  assert.ok(Math.abs(h - Math.log(4)) < 1e-12);
  assert.equal(unigramEntropy([[s.cls, 7, 7, s.sep]], tok), 0);
});

test('trainConfigs: warmup pairs at every (position, depth), ablations at the ablation depth', () => {
  const full = trainConfigs(initSettings('full'));
  // RoPE × 3 depths × (warmup, none) + Glorot + MLM head without transform + Pre-LN.
  assert.equal(full.length, 3 * 2 + 3);
  assert.equal(new Set(full.map((c) => c.key)).size, full.length);
  assert.equal(new Set(full.map((c) => c.label)).size, full.length);
  const ablations = full.slice(6);
  assert.ok(ablations.every((c) => c.layers === 12 && c.position === 'rope'));
  assert.deepEqual(
    ablations.map((c) => [c.norm, c.init.key, c.warmup, c.mlmTransform]),
    [
      ['post', 'glorot', true, true],
      ['post', 'trunc', true, false],
      ['pre', 'trunc', false, true],
    ],
  );
  // Two positions give a warmup pair per (position, depth); the ablations need a depth that is trained.
  const two = { trainDepths: [6, 12], preLnRun: false };
  assert.equal(
    trainConfigs({ ...two, positions: ['rope', 'learned'], ablationDepth: 6 }).length,
    2 * 2 * 2 + 2,
  );
  assert.throws(
    () => trainConfigs({ ...two, positions: ['rope'], ablationDepth: 24 }),
    /ablationDepth 24 is not one of trainDepths/,
  );
  assert.deepEqual(
    trainConfigs(initSettings('quick')).map((c) => c.key),
    [
      'post-trunc-warmup-rope-L4',
      'post-trunc-nowarmup-rope-L4',
      'post-glorot-warmup-rope-L4',
      'post-trunc-warmup-rope-L4-nohead',
    ],
  );
  // The head ablation's encoder really has no transform.
  const bare = makeEncoder(corpus, tiny, 1, 'post', INITS[0], 1, { mlmTransform: false, position: 'rope' });
  assert.equal(bare.mlm!.norm, undefined);
  bare.dispose();
});

test('withShuffledPositions permutes the first rows of the position table inside f, then restores it', () => {
  const model = makeEncoder(corpus, tiny, 1, 'post', INITS[0], 2);
  const table = model.embeddings.position!.table;
  const before = table.arraySync() as number[][];
  const inside = withShuffledPositions(model, 8, 1, () => table.arraySync() as number[][]);
  const key = (r: number[]) => r.join(',');
  assert.deepEqual(inside.slice(0, 8).map(key).sort(), before.slice(0, 8).map(key).sort());
  assert.notDeepEqual(inside.slice(0, 8), before.slice(0, 8));
  assert.deepEqual(inside.slice(8), before.slice(8));
  assert.deepEqual(table.arraySync(), before);
  const n = tf.memory().numTensors;
  withShuffledPositions(model, 8, 2, () => 0);
  assert.equal(tf.memory().numTensors, n);
  const rope = makeEncoder(corpus, tiny, 1, 'post', INITS[0], 2, { position: 'rope' });
  assert.throws(() => withShuffledPositions(rope, 8, 1, () => 0), /learned positions/);
  model.dispose();
  rope.dispose();
});

test('warmupVerdict counts only the seeds whose warmup run left the unigram plateau', () => {
  const configs = trainConfigs({
    trainDepths: [6, 12, 24],
    positions: ['rope'],
    preLnRun: false,
    ablationDepth: 12,
  });
  // Unigram loss 6.8. Final losses: 6 blocks learn either way; 12 only with warmup; 24 not at all.
  const final: Record<string, number> = {
    'post-trunc-warmup-rope-L6': 5.0,
    'post-trunc-nowarmup-rope-L6': 5.02,
    'post-trunc-warmup-rope-L12': 5.3,
    'post-trunc-nowarmup-rope-L12': 6.79,
    'post-trunc-warmup-rope-L24': 6.79,
    'post-trunc-nowarmup-rope-L24': 6.8,
  };
  const runs = (f: Record<string, number>): TrainRun[] =>
    configs
      .filter((c) => c.key in f)
      .flatMap((config) =>
        [0, 1, 2].map((seed) => ({
          config,
          seed,
          trace: {
            steps: [0, 50],
            loss: [f[config.key], f[config.key]],
            encoderGain: [],
            headGain: [],
            evalLoss: NaN,
            evalAccuracy: NaN,
            evalAccuracyShuffled: NaN,
            diverged: false,
          },
        })),
      );
  const s = { lr: 1e-3, steps: 1500 };
  const v = warmupVerdict(runs(final), configs, s, 6.8);
  assert.match(v, /worse by > 0\.1 nats in 3 of the 6 \(seed, depth, position\) runs whose warmup run left/);
  assert.match(v, /RoPE 24 blocks 0\.010 ± 0\.000 \(3 of 3 warmup runs on the unigram plateau\)/);
  assert.match(v, /RoPE 12 blocks 1\.490 ± 0\.000;/);
  // Nothing learned: no test at all, not "no run is worse".
  const flat = Object.fromEntries(Object.keys(final).map((k) => [k, 6.79]));
  assert.match(warmupVerdict(runs(flat), configs, s, 6.8), /so this budget cannot test the claim\.$/);
});
