/**
 * `npm run bench -- density [--quick] [--rounds R]`: the paper's one-layer IWAE (784-200-200-50) in
 * kexue against the same model in PyTorch (Debian python3-torch, src/bench/density_ref.py), side by
 * side: milliseconds per IWAE k = 50 training step at batch 100 (forward, backward, Adam) and
 * images/s when scoring log p̂(x) with k = 5000. Rounds alternate kexue and PyTorch so both see the
 * same background load; we report the median over rounds of each side's per-round median, wall and
 * CPU time (CPU time is less sensitive to other processes on a shared machine). Goal: ≤ 1.2× PyTorch.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { binarizeFixed, logLikelihood, paperConfig, VAEModel, VAETrainer } from '../density/index.js';
import { defaultDataDir } from '../experiments/run.js';
import { readImageSet } from '../io/idx.js';
import { encodeNpy } from '../io/npy.js';
import { Rng } from '../util/rng.js';
import { referencePython } from '../util/python.js';

const REF = fileURLToPath(new URL('../../src/bench/density_ref.py', import.meta.url));
const CHUNK_ROWS = 20000;

interface Timing {
  wall: number;
  cpu: number;
}
interface Round {
  train: Timing;
  /** Seconds per image. */
  score: Timing;
}

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function batch(): Float32Array {
  const dir = path.join(defaultDataDir(), 'mnist');
  if (fs.existsSync(dir)) return binarizeFixed(readImageSet(dir, 't10k', 100).images, 0);
  const rng = new Rng(1);
  return Float32Array.from({ length: 100 * 784 }, () => (rng.next() < 0.13 ? 1 : 0));
}

async function ours(x: Float32Array, steps: number, nScore: number): Promise<Round> {
  const model = VAEModel.build(paperConfig(1), { seed: 0 });
  const tr = new VAETrainer(
    model,
    x,
    { objective: 'iwae', k: 50, epochs: 1, batchSize: 100, learningRate: 1e-3 },
    model.namedParameters(),
  );
  const xt = tf.tensor2d(x, [100, 784]);
  const walls: number[] = [];
  const cpus: number[] = [];
  try {
    for (let i = 0; i < steps + 2; i++) {
      const t = performance.now();
      const c = process.cpuUsage();
      tr.step(xt, 1e-3, i);
      const dc = process.cpuUsage(c);
      if (i >= 2) {
        walls.push(performance.now() - t);
        cpus.push((dc.user + dc.system) / 1000);
      }
    }
    const t = performance.now();
    const c = process.cpuUsage();
    await logLikelihood(model, x.subarray(0, nScore * 784), { k: 5000, maxRows: CHUNK_ROWS, seed: 1 });
    const dc = process.cpuUsage(c);
    return {
      train: { wall: median(walls), cpu: median(cpus) },
      score: { wall: (performance.now() - t) / 1000 / nScore, cpu: (dc.user + dc.system) / 1e6 / nScore },
    };
  } finally {
    xt.dispose();
    tr.dispose();
    model.dispose();
  }
}

function reference(file: string, threads: number, steps: number, nScore: number): Round {
  const r = spawnSync(
    referencePython(),
    [REF, String(threads), file, String(steps), String(nScore), '5000', String(CHUNK_ROWS)],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`PyTorch reference failed: ${r.stderr || r.error?.message}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Round;
}

function option(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
}

export async function run(args: string[]): Promise<void> {
  const backend = await initBackend();
  const quick = args.includes('--quick');
  const rounds = option(args, '--rounds', quick ? 3 : 5);
  const steps = quick ? 5 : 10;
  const nScore = quick ? 4 : 8;
  const threads = Number(process.env.KEXUE_ATEN_THREADS) || (os.availableParallelism?.() ?? os.cpus().length);
  const x = batch();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kexue-bench-density-'));
  const file = path.join(dir, 'x.npy');
  fs.writeFileSync(file, encodeNpy(x, [100, 784]));
  console.log(
    `One-layer IWAE (784-200-200-50), kexue on '${backend}' vs PyTorch ${threads} thread(s); ${rounds} interleaved rounds`,
  );
  console.log(
    `train: IWAE k=50 step, batch 100 (median of ${steps}); score: log p̂(x) with k=5000 on ${nScore} images, ${CHUNK_ROWS} rows per pass`,
  );
  console.log(
    `load average at start: ${os
      .loadavg()
      .map((v) => v.toFixed(1))
      .join(' ')} (shared machine)\n`,
  );
  const mine: Round[] = [];
  const theirs: Round[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      mine.push(await ours(x, steps, nScore));
      theirs.push(reference(file, threads, steps, nScore));
      const m = mine[r];
      const t = theirs[r];
      console.log(
        `round ${r + 1}: train ${m.train.wall.toFixed(1)} vs ${t.train.wall.toFixed(1)} ms; score ${(1 / m.score.wall).toFixed(2)} vs ${(1 / t.score.wall).toFixed(2)} images/s`,
      );
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const med = (rs: Round[], f: (r: Round) => number) => median(rs.map(f));
  const rows: [string, (r: Round) => number, (v: number) => string][] = [
    ['IWAE k=50 step, wall (ms)', (r) => r.train.wall, (v) => v.toFixed(1)],
    ['IWAE k=50 step, CPU (ms)', (r) => r.train.cpu, (v) => v.toFixed(1)],
    ['k=5000 scoring, wall (images/s)', (r) => r.score.wall, (v) => (1 / v).toFixed(2)],
    ['k=5000 scoring, CPU (images/CPU-s)', (r) => r.score.cpu, (v) => (1 / v).toFixed(2)],
  ];
  console.log(
    `\n${'measure'.padEnd(36)}${'kexue'.padStart(10)}${'PyTorch'.padStart(10)}${'time ratio'.padStart(12)}  goal ≤ 1.2×`,
  );
  for (const [label, f, show] of rows) {
    const a = med(mine, f);
    const b = med(theirs, f);
    const ratio = a / b;
    console.log(
      `${label.padEnd(36)}${show(a).padStart(10)}${show(b).padStart(10)}${`${ratio.toFixed(2)}×`.padStart(12)}  ${ratio <= 1.2 ? 'ok' : 'MISS'}`,
    );
  }
  console.log('\ntime ratio = kexue time / PyTorch time (medians over rounds); > 1 means kexue is slower.');
}
