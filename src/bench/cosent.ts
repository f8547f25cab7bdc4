/**
 * `npm run bench -- cosent [--quick]`: the CoSENT loss, forward + backward with respect to the cosines,
 * in its O(B²) ('pairwise') and O(B log B) ('sorted') forms for B up to 4,096 pairs, beside the O(B²)
 * form in PyTorch (float32, one thread) as a reference run in the same script. Also prints how far
 * the two kexue forms and PyTorch agree on the loss value.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { cosentFromCosines, type CosentMethod } from '../cosent/index.js';
import { encodeNpy } from '../io/npy.js';
import { Rng } from '../util/rng.js';
import { referencePython } from '../util/python.js';

const REF = fileURLToPath(new URL('../../src/bench/cosent_ref.py', import.meta.url));

/** Median seconds of one forward + backward (after one warm-up run), and the loss value. */
function time(
  cos: tf.Tensor1D,
  labels: number[],
  method: CosentMethod,
  repeats: number,
): { seconds: number; loss: number } {
  const lossAndGrad = tf.valueAndGrad((c: tf.Tensor) =>
    cosentFromCosines(c as tf.Tensor1D, labels, { method }),
  );
  const times: number[] = [];
  let loss = NaN;
  for (let r = 0; r <= repeats; r++) {
    const t0 = performance.now();
    const { value, grad } = lossAndGrad(cos);
    grad.dataSync();
    loss = value.dataSync()[0];
    times.push((performance.now() - t0) / 1000);
    tf.dispose([value, grad]);
  }
  const sorted = times.slice(1).sort((a, b) => a - b);
  return { seconds: sorted[Math.floor(sorted.length / 2)], loss };
}

function reference(
  cos: Float32Array,
  labels: number[],
  dir: string,
  repeats: number,
): { seconds: number; loss: number } | string {
  const cosFile = path.join(dir, 'cos.npy');
  const labelsFile = path.join(dir, 'labels.npy');
  fs.writeFileSync(cosFile, encodeNpy(cos, [cos.length]));
  fs.writeFileSync(labelsFile, encodeNpy(Float32Array.from(labels), [labels.length]));
  try {
    const out = execFileSync(referencePython(), [REF, cosFile, labelsFile, '20', String(repeats)], {
      encoding: 'utf8',
    });
    return JSON.parse(out) as { seconds: number; loss: number };
  } catch (e) {
    return `PyTorch reference unavailable (${(e as Error).message.split('\n')[0]})`;
  }
}

const ms = (s: number) => `${(s * 1000).toFixed(2)} ms`;

export async function run(args: string[]): Promise<void> {
  const backend = await initBackend();
  const sizes = args.includes('--quick') ? [64, 512, 4096] : [32, 64, 128, 256, 512, 1024, 2048, 4096];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kexue-bench-cosent-'));
  console.log(
    `CoSENT loss (scale 20, graded labels 0–5), forward + backward; kexue on '${backend}', median of runs\n`,
  );
  console.log(
    [
      'B'.padStart(5),
      'O(B²)'.padStart(11),
      'O(B log B)'.padStart(11),
      'ratio'.padStart(7),
      'torch O(B²)'.padStart(12),
      'vs sorted'.padStart(10),
      'rel |Δloss| pw/sorted/torch'.padStart(30),
    ].join('  '),
  );
  try {
    for (const b of sizes) {
      const rng = new Rng(b);
      const values = Float32Array.from({ length: b }, () => 2 * rng.next() - 1);
      const labels = Array.from({ length: b }, () => rng.int(6));
      const cos = tf.tensor1d(values);
      const repeats = b >= 2048 ? 5 : 15;
      const pw = time(cos, labels, 'pairwise', repeats);
      const so = time(cos, labels, 'sorted', repeats);
      cos.dispose();
      const ref = reference(values, labels, dir, repeats);
      const refCells =
        typeof ref === 'string'
          ? ['n/a'.padStart(12), ''.padStart(10)]
          : [ms(ref.seconds).padStart(12), `${(ref.seconds / so.seconds).toFixed(2)}×`.padStart(10)];
      const rel = (a: number) => (Math.abs(a - so.loss) / Math.abs(so.loss)).toExponential(1);
      const agree = `${rel(pw.loss)} / ${typeof ref === 'string' ? 'n/a' : rel(ref.loss)}`;
      console.log(
        [
          String(b).padStart(5),
          ms(pw.seconds).padStart(11),
          ms(so.seconds).padStart(11),
          `${(pw.seconds / so.seconds).toFixed(2)}×`.padStart(7),
          ...refCells,
          agree.padStart(30),
        ].join('  '),
      );
      if (typeof ref === 'string' && b === sizes[0]) console.log(ref);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log(
    '\nratio = O(B²) time / O(B log B) time; "vs sorted" = PyTorch O(B²) time / kexue O(B log B) time.',
  );
}
