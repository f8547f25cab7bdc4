/**
 * `npm run bench -- bert [--tiny] [--layers N --hidden H --heads A --seq S --batch B --vocab V --repeats R]`:
 * a randomly initialised BERT (default BERT-base: 12 × 768, 12 heads, FFN 3072, vocabulary 30,522,
 * sequence 128, batch 16) timed on kexue's backend beside the same model in PyTorch (src/bench/bert_ref.py,
 * float32 CPU, the same thread count): inference forward, and forward + backward + AdamW step of the MLM
 * loss on 15% of the positions (dropout 0.1 on both sides). Median of `repeats` runs after one warm-up;
 * peak RSS of each process. `--tiny` (2 × 64, seq 16, batch 4) is a seconds-long smoke run.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { Encoder } from '../encoder/model.js';
import { mlmLoss, type MlmBatch } from '../encoder/mlm.js';
import { namedGradients } from '../nn/module.js';
import { AdamW } from '../nn/optim.js';
import { Rng } from '../util/rng.js';
import { referencePython } from '../util/python.js';

const REF = fileURLToPath(new URL('../../src/bench/bert_ref.py', import.meta.url));

interface Shape {
  layers: number;
  hidden: number;
  heads: number;
  seq: number;
  batch: number;
  vocab: number;
  repeats: number;
}

const BASE: Shape = { layers: 12, hidden: 768, heads: 12, seq: 128, batch: 16, vocab: 30522, repeats: 5 };
const TINY: Shape = { layers: 2, hidden: 64, heads: 4, seq: 16, batch: 4, vocab: 1000, repeats: 3 };

function parse(args: string[]): Shape {
  const s = { ...(args.includes('--tiny') ? TINY : BASE) };
  for (const k of Object.keys(s) as (keyof Shape)[]) {
    const i = args.indexOf(`--${k}`);
    if (i < 0) continue;
    const v = Number(args[i + 1]);
    if (!(Number.isInteger(v) && v >= 1))
      throw new Error(`--${k} must be a positive integer, got '${args[i + 1]}'`);
    s[k] = v;
  }
  if (s.hidden % s.heads) throw new Error(`--hidden ${s.hidden} must be divisible by --heads ${s.heads}`);
  if (s.seq > 512) throw new Error('--seq must be ≤ 512 (the position table)');
  return s;
}

function medianSeconds(f: () => void, repeats: number): number {
  f();
  const times: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    f();
    times.push((performance.now() - t0) / 1000);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
}

const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(2)} GiB`;

export async function run(args: string[]): Promise<void> {
  const s = parse(args);
  const backend = await initBackend();
  const threads = Number(process.env.KEXUE_ATEN_THREADS) || (os.availableParallelism?.() ?? os.cpus().length);
  const rng = new Rng(1);
  const n = s.batch * s.seq;
  const idsData = Int32Array.from({ length: n }, () => 5 + rng.int(s.vocab - 5));
  const picked = Array.from({ length: n }, (_, i) => i).filter(() => rng.next() < 0.15);
  const positions = picked.length ? picked : [0];
  const targets = positions.map((i) => idsData[i]);
  const model = new Encoder({
    vocabSize: s.vocab,
    hidden: s.hidden,
    layers: s.layers,
    heads: s.heads,
    intermediate: 4 * s.hidden,
    maxPositions: 512,
    dropout: 0.1,
    attentionDropout: 0.1,
  });
  const batch: MlmBatch = {
    ids: tf.tensor2d(idsData, [s.batch, s.seq], 'int32'),
    mask: tf.ones([s.batch, s.seq]) as tf.Tensor2D,
    positions: tf.tensor1d(positions, 'int32'),
    targets: tf.tensor1d(targets, 'int32'),
  };
  const opt = new AdamW(model.namedParameters(), { weightDecay: 0.01 });
  console.log(
    `BERT ${s.layers} × ${s.hidden} (${s.heads} heads, FFN ${4 * s.hidden}, vocabulary ${s.vocab}), ` +
      `batch ${s.batch} × seq ${s.seq}, ${model.parameterCount().toLocaleString('en')} parameters; ` +
      `kexue on '${backend}' and PyTorch with ${threads} thread(s); median of ${s.repeats} after a warm-up\n`,
  );
  const forward = medianSeconds(() => {
    model.train(false);
    // Read outside the tidy: tf.tidy walks a returned typed array element by element (≈ 0.4 s here).
    const last = tf.tidy(() => model.apply({ ids: batch.ids, mask: batch.mask }).last);
    last.dataSync();
    last.dispose();
  }, s.repeats);
  const step = medianSeconds(() => {
    model.train(true);
    const { value, grads } = namedGradients(model, () => mlmLoss(model, batch, true).loss);
    opt.step(grads, 1e-4);
    value.dataSync();
    tf.dispose([value, ...grads.values()]);
  }, s.repeats);
  const rss = process.resourceUsage().maxRSS * 1024;
  tf.dispose([batch.ids, batch.mask, batch.positions, batch.targets]);
  opt.dispose();
  model.dispose();
  let ref: { forward: number; step: number; peakRss: number } | string;
  try {
    ref = JSON.parse(
      execFileSync(referencePython(), [REF, JSON.stringify({ ...s, threads, positions, targets })], {
        encoding: 'utf8',
        maxBuffer: 1 << 26,
      }),
    ) as { forward: number; step: number; peakRss: number };
  } catch (e) {
    ref = `PyTorch reference unavailable (${(e as Error).message.split('\n')[0]})`;
  }
  const row = (name: string, k: number, p: number | undefined) =>
    console.log(
      `${name.padEnd(28)} ${`${(k * 1000).toFixed(1)} ms`.padStart(12)} ${
        p === undefined ? 'n/a'.padStart(12) : `${(p * 1000).toFixed(1)} ms`.padStart(12)
      } ${p === undefined ? '' : `${(k / p).toFixed(2)}×`.padStart(8)}`,
    );
  console.log(`${''.padEnd(28)} ${'kexue'.padStart(12)} ${'PyTorch'.padStart(12)} ${'ratio'.padStart(8)}`);
  const r = typeof ref === 'string' ? undefined : ref;
  row('forward (inference)', forward, r?.forward);
  row('fwd + bwd + AdamW step', step, r?.step);
  console.log(
    `${'peak RSS'.padEnd(28)} ${gib(rss).padStart(12)} ${(r ? gib(r.peakRss) : 'n/a').padStart(12)}`,
  );
  if (typeof ref === 'string') console.log(ref);
  console.log('\nratio = kexue time / PyTorch time (goal ≤ 1.2×).');
}
