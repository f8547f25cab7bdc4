/**
 * `npm run bench -- attention [--quick]`: the cost of the log-n attention scale (src/attention) on one
 * MLM training step of kexue's encoder (forward, backward, AdamW update), standard vs log-n, run
 * interleaved so both sides see the same machine load; medians. Target: < 5% overhead. Beside it, the
 * same comparison in PyTorch (float32, one thread) as a reference for what the extra op costs there.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { Encoder } from '../encoder/model.js';
import { mlmLoss, type MlmBatch } from '../encoder/mlm.js';
import { namedGradients } from '../nn/module.js';
import { AdamW } from '../nn/optim.js';
import { Rng } from '../util/rng.js';
import { referencePython } from '../util/python.js';

const REF = fileURLToPath(new URL('../../src/bench/attention_ref.py', import.meta.url));

interface Shape {
  layers: number;
  hidden: number;
  heads: number;
  batch: number;
  seq: number;
}

function makeBatch(s: Shape, vocab: number, rng: Rng): MlmBatch {
  const n = s.batch * s.seq;
  const positions = Array.from({ length: Math.floor(n * 0.15) }, (_, i) => Math.floor(i / 0.15));
  return {
    ids: tf.tensor2d(
      Array.from({ length: n }, () => 5 + rng.int(vocab - 5)),
      [s.batch, s.seq],
      'int32',
    ),
    mask: tf.ones([s.batch, s.seq]) as tf.Tensor2D,
    positions: tf.tensor1d(positions, 'int32'),
    targets: tf.tensor1d(
      positions.map(() => 5 + rng.int(vocab - 5)),
      'int32',
    ),
  };
}

function stepper(s: Shape, logN: boolean): { step: (b: MlmBatch) => number; dispose: () => void } {
  const model = new Encoder({
    vocabSize: 200,
    hidden: s.hidden,
    layers: s.layers,
    heads: s.heads,
    position: 'rope',
    ...(logN && { attentionScale: 'log-n', attentionScaleOptions: { base: 512, clamp: 16 } }),
  });
  const opt = new AdamW(model.namedParameters());
  return {
    step: (b) => {
      const t0 = performance.now();
      const { value, grads } = namedGradients(model, () => mlmLoss(model, b, true).loss);
      opt.step(grads, 1e-4);
      value.dataSync();
      tf.dispose([value, ...grads.values()]);
      return (performance.now() - t0) / 1000;
    },
    dispose: () => {
      opt.dispose();
      model.dispose();
    },
  };
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
// On a shared machine the fastest step is the one least disturbed by other jobs.
const min = (v: number[]) => Math.min(...v);
const ms = (s: number) => `${(s * 1000).toFixed(1)} ms`;
const pct = (a: number, b: number) => `${(100 * (b / a - 1)).toFixed(1)}%`;

function reference(s: Shape, repeats: number): { standard: number; logn: number } | string {
  try {
    const args = [REF, s.layers, s.hidden, s.heads, s.batch, s.seq, repeats].map(String);
    return JSON.parse(execFileSync(referencePython(), args, { encoding: 'utf8' })) as {
      standard: number;
      logn: number;
    };
  } catch (e) {
    return `PyTorch reference unavailable (${(e as Error).message.split('\n')[0]})`;
  }
}

export async function run(args: string[]): Promise<void> {
  const backend = await initBackend();
  const quick = args.includes('--quick');
  const shapes: Shape[] = [
    { layers: 2, hidden: 128, heads: 4, batch: 16, seq: 64 },
    ...(quick ? [] : [{ layers: 2, hidden: 128, heads: 4, batch: 4, seq: 256 }]),
  ];
  const repeats = quick ? 8 : 40;
  console.log(
    `log-n attention scale overhead on one MLM training step; kexue on '${backend}', medians of ${repeats} interleaved steps`,
  );
  console.log('(the machine may be shared: both sides alternate step by step, so load hits them alike)\n');
  console.log(
    [
      'shape'.padEnd(30),
      'standard'.padStart(10),
      'log-n'.padStart(10),
      'overhead'.padStart(9),
      'min-based'.padStart(9),
      'torch std'.padStart(10),
      'torch log-n'.padStart(12),
      'torch ovh'.padStart(10),
    ].join('  '),
  );
  for (const s of shapes) {
    const rng = new Rng(1);
    const batch = makeBatch(s, 200, rng);
    const sides = [stepper(s, false), stepper(s, true)];
    const times: number[][] = [[], []];
    sides.forEach((side) => side.step(batch)); // warm-up
    for (let r = 0; r < repeats; r++) sides.forEach((side, i) => times[i].push(side.step(batch)));
    sides.forEach((side) => side.dispose());
    tf.dispose([batch.ids, batch.mask, batch.positions, batch.targets]);
    const [a, b] = times.map(median);
    const ref = reference(s, repeats);
    const refCells =
      typeof ref === 'string'
        ? ['n/a', 'n/a', 'n/a']
        : [ms(ref.standard), ms(ref.logn), pct(ref.standard, ref.logn)];
    console.log(
      [
        `L${s.layers} H${s.hidden} A${s.heads} B${s.batch} N${s.seq}`.padEnd(30),
        ms(a).padStart(10),
        ms(b).padStart(10),
        pct(a, b).padStart(9),
        pct(min(times[0]), min(times[1])).padStart(9),
        refCells[0].padStart(10),
        refCells[1].padStart(12),
        refCells[2].padStart(10),
      ].join('  '),
    );
    if (typeof ref === 'string') console.log(ref);
  }
  console.log(
    "\noverhead = log-n median / standard median − 1; min-based: the same with each side's fastest step (target < 5%).",
  );
}
