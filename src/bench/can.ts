/**
 * `npm run bench -- can [--quick]`: CAN against the note's direct NumPy loop, side by side in one run.
 * The direct loop costs O(confident rows × classes) per uncertain row and iteration, so it is timed on
 * a sample of uncertain rows and scaled per row to all of them (the output says so). The sampled rows
 * also give the maximum absolute difference between the two implementations.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../backend/index.js';
import { can } from '../can/index.js';
import { encodeNpy, readNpy } from '../io/npy.js';
import { Rng } from '../util/rng.js';
import { referencePython } from '../util/python.js';

interface Case {
  rows: number;
  classes: number;
  iters: number;
  sample: number;
}

const REF = fileURLToPath(new URL('../../src/bench/can_ref.py', import.meta.url));
const OPTIONS = { topk: 3, threshold: 0.9, alpha: 1 };

/** Softmax of Gaussian logits with a per-row temperature: a mix of peaked and flat rows. */
function probabilities(rows: number, classes: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  const p = new Float64Array(rows * classes);
  for (let i = 0; i < rows; i++) {
    const temp = 1 + 5 * rng.next();
    let s = 0;
    for (let j = 0; j < classes; j++) s += p[i * classes + j] = Math.exp(temp * rng.normal());
    for (let j = 0; j < classes; j++) p[i * classes + j] /= s;
  }
  return p;
}

function skewedPrior(classes: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  const p = Float64Array.from({ length: classes }, () => Math.exp(rng.normal()));
  const s = p.reduce((a, b) => a + b, 0);
  return p.map((v) => v / s);
}

function runCase(c: Case, dir: string): string {
  const data = probabilities(c.rows, c.classes, c.rows + c.classes);
  const prior = skewedPrior(c.classes, 7);
  const probsFile = path.join(dir, 'p.npy');
  const priorFile = path.join(dir, 'prior.npy');
  const outFile = path.join(dir, 'ref.npy');
  fs.writeFileSync(probsFile, encodeNpy(data, [c.rows, c.classes]));
  fs.writeFileSync(priorFile, encodeNpy(prior, [c.classes]));

  const t0 = performance.now();
  const ours = can({ data, rows: c.rows, cols: c.classes }, prior, { ...OPTIONS, iters: c.iters });
  const oursSeconds = (performance.now() - t0) / 1000;

  const args = [REF, probsFile, priorFile, '3', '0.9', '1', String(c.iters), String(c.sample), outFile];
  const ref = JSON.parse(execFileSync(referencePython(), args, { encoding: 'utf8' })) as {
    uncertain: number;
    sampled: number;
    seconds: number;
    rows: number[];
  };
  const refRows = readNpy(outFile).data;
  let diff = 0;
  ref.rows.forEach((r, n) => {
    for (let j = 0; j < c.classes; j++)
      diff = Math.max(diff, Math.abs(refRows[n * c.classes + j] - ours.probs.data[r * c.classes + j]));
  });
  const uncertain = ours.adjusted.reduce((a, b) => a + b, 0);
  if (uncertain !== ref.uncertain)
    throw new Error(`uncertain rows differ: ${uncertain} vs NumPy ${ref.uncertain}`);
  const refSeconds = (ref.seconds / ref.sampled) * ref.uncertain;
  return [
    `${c.rows}×${c.classes}`.padEnd(12),
    String(c.iters).padStart(5),
    `${uncertain}`.padStart(10),
    `${oursSeconds.toFixed(3)} s`.padStart(11),
    `${refSeconds.toFixed(1)} s (${ref.sampled} rows in ${ref.seconds.toFixed(2)} s)`.padStart(34),
    `${(refSeconds / oursSeconds).toFixed(0)}×`.padStart(9),
    diff.toExponential(1).padStart(10),
  ].join('  ');
}

export async function run(args: string[]): Promise<void> {
  const backend = await initBackend();
  const quick = args.includes('--quick');
  const cases: Case[] = quick
    ? [
        { rows: 10000, classes: 119, iters: 1, sample: 20 },
        { rows: 10000, classes: 119, iters: 3, sample: 20 },
      ]
    : [
        { rows: 10000, classes: 119, iters: 1, sample: 50 },
        { rows: 10000, classes: 119, iters: 3, sample: 50 },
        { rows: 50000, classes: 1000, iters: 1, sample: 10 },
        { rows: 50000, classes: 1000, iters: 3, sample: 5 },
      ];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kexue-bench-can-'));
  console.log(
    `CAN (topk 3, threshold 0.9, alpha 1) — kexue on '${backend}' vs the note's direct loop in NumPy (float64)`,
  );
  console.log('The direct loop is timed on a sample of uncertain rows and scaled per row to all of them.\n');
  console.log(
    [
      'shape'.padEnd(12),
      'iters',
      'uncertain'.padStart(10),
      'kexue'.padStart(11),
      'direct NumPy, scaled'.padStart(34),
      'speed-up'.padStart(9),
      'max |Δ|'.padStart(10),
    ].join('  '),
  );
  try {
    for (const c of cases) console.log(runCase(c, dir));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log(
    '\nTargets: ≥100× at iters=1, ≥10× at iters=3. max |Δ| is over the sampled rows (iters>1 uses float32 products).',
  );
}
