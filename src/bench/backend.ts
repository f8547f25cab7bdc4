/**
 * `npm run bench -- backend [--min-seconds S] [--leak-steps N] [--no-wasm] [--only name,...]`
 *
 * The native 'aten' backend (and stock-plus-kexue-kernels 'wasm') against PyTorch (Debian python3-torch,
 * src/bench/backend_ref.py) on the same workloads, side by side: matmul GFLOPS, then milliseconds per
 * training step (forward + backward + Adam) of an MLP, a Transformer block and an MNIST conv-net.
 * Goals: every step ≤ 1.5× PyTorch's time, matmul ≥ 90% of PyTorch's GFLOPS. Ends with a leak run:
 * tensor count and RSS over N (default 10,000) small training steps on 'aten'.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers'; // registers the ops' gradients
import { isAvailable } from '../backend/aten/index.js';
import { loadAddon } from '../backend/aten/addon.js';
import { fallbacksUsed } from '../backend/aten/fallback.js';

export interface Workload {
  name: string;
  label: string;
  /** FLOPs per iteration when the row reports GFLOPS. */
  flops?: number;
  build(): { step(): void; dispose(): void };
}

function option(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
}

const normal = (shape: number[], std: number, seed: number): tf.Variable =>
  tf.variable(tf.randomNormal(shape, 0, std, 'float32', seed));

function matmulWorkload(m: number, k: number, n: number, name: string): Workload {
  return {
    name,
    label: `matmul ${m}×${k}×${n} (GFLOPS)`,
    flops: 2 * m * k * n,
    build() {
      const a = tf.randomNormal([m, k], 0, 1, 'float32', 1);
      const b = tf.randomNormal([k, n], 0, 1, 'float32', 2);
      return { step: () => tf.matMul(a, b).dispose(), dispose: () => tf.dispose([a, b]) };
    },
  };
}

/** A training step: Adam on `loss` over `vars`; the loss is read back like PyTorch's loss.item(). */
function trainer(
  vars: tf.Variable[],
  loss: () => tf.Scalar,
  data: tf.Tensor[],
): { step(): void; dispose(): void } {
  const opt = tf.train.adam(1e-3);
  return {
    step: () => {
      const l = opt.minimize(loss, true, vars)!;
      l.dataSync();
      l.dispose();
    },
    dispose: () => {
      opt.dispose();
      tf.dispose([...vars, ...data]);
    },
  };
}

function labels(batch: number): tf.Tensor2D {
  return tf.oneHot(
    tf.tensor1d(
      Array.from({ length: batch }, (_, i) => (i * 7) % 10),
      'int32',
    ),
    10,
  ) as tf.Tensor2D;
}

function dense(x: tf.Tensor2D, w: tf.Variable, b: tf.Variable): tf.Tensor2D {
  return tf.add(tf.matMul(x, w as tf.Tensor2D), b);
}

const mlp: Workload = {
  name: 'mlp',
  label: 'MLP 784-512-512-10 step, batch 128 (ms)',
  build() {
    const v = [
      normal([784, 512], 0.05, 3),
      normal([512], 0, 4),
      normal([512, 512], 0.05, 5),
      normal([512], 0, 6),
    ];
    v.push(normal([512, 10], 0.05, 7), normal([10], 0, 8));
    const x = tf.randomNormal([128, 784], 0, 1, 'float32', 9) as tf.Tensor2D;
    const y = labels(128);
    const loss = (): tf.Scalar => {
      const h1 = tf.relu(dense(x, v[0], v[1]));
      const h2 = tf.relu(dense(h1, v[2], v[3]));
      return tf.losses.softmaxCrossEntropy(y, dense(h2, v[4], v[5]));
    };
    return trainer(v, loss, [x, y]);
  },
};

function layerNorm(x: tf.Tensor2D, g: tf.Variable, b: tf.Variable): tf.Tensor2D {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5))), g), b);
}

const transformer: Workload = {
  name: 'transformer',
  label: 'Transformer block step (seq 128, batch 16, hidden 256, 4 heads, FFN 1024) (ms)',
  build() {
    const [B, S, H, heads, F] = [16, 128, 256, 4, 1024];
    const d = H / heads;
    const ones = (n: number): tf.Variable => tf.variable(tf.ones([n]));
    const zeros = (n: number): tf.Variable => tf.variable(tf.zeros([n]));
    const [g1, b1, g2, b2] = [ones(H), zeros(H), ones(H), zeros(H)];
    const [wqkv, bqkv, wo, bo] = [
      normal([H, 3 * H], 0.05, 11),
      zeros(3 * H),
      normal([H, H], 0.05, 12),
      zeros(H),
    ];
    const [w1, c1, w2, c2] = [normal([H, F], 0.05, 13), zeros(F), normal([F, H], 0.03, 14), zeros(H)];
    const x = tf.randomNormal([B * S, H], 0, 1, 'float32', 15) as tf.Tensor2D;
    const heads4 = (t: tf.Tensor): tf.Tensor4D => tf.transpose(tf.reshape(t, [B, S, heads, d]), [0, 2, 1, 3]);
    const loss = (): tf.Scalar => {
      const qkv = dense(layerNorm(x, g1, b1), wqkv, bqkv);
      const [q, k, v] = tf.split(qkv, 3, 1).map(heads4);
      const att = tf.softmax(tf.div(tf.matMul(q, k, false, true), Math.sqrt(d)));
      const ctx = tf.reshape(tf.transpose(tf.matMul(att, v), [0, 2, 1, 3]), [B * S, H]) as tf.Tensor2D;
      const h = tf.add(x, dense(ctx, wo, bo)) as tf.Tensor2D;
      const out = tf.add(h, dense(tf.relu(dense(layerNorm(h, g2, b2), w1, c1)), w2, c2));
      return tf.mean(tf.square(out));
    };
    return trainer([g1, b1, g2, b2, wqkv, bqkv, wo, bo, w1, c1, w2, c2], loss, [x]);
  },
};

const convnet: Workload = {
  name: 'convnet',
  label: 'MNIST conv-net step (conv32 3×3 → conv64 3×3 → dense 10, batch 128) (ms)',
  build() {
    const v = [
      normal([3, 3, 1, 32], 0.3, 21),
      normal([32], 0, 22),
      normal([3, 3, 32, 64], 0.05, 23),
      normal([64], 0, 24),
    ];
    v.push(normal([24 * 24 * 64, 10], 0.005, 25), normal([10], 0, 26));
    const x = tf.randomNormal([128, 28, 28, 1], 0, 1, 'float32', 27) as tf.Tensor4D;
    const y = labels(128);
    const loss = (): tf.Scalar => {
      const c1 = tf.relu(tf.add(tf.conv2d(x, v[0] as tf.Tensor4D, 1, 'valid'), v[1])) as tf.Tensor4D;
      const c2 = tf.relu(tf.add(tf.conv2d(c1, v[2] as tf.Tensor4D, 1, 'valid'), v[3]));
      return tf.losses.softmaxCrossEntropy(y, dense(tf.reshape(c2, [128, -1]) as tf.Tensor2D, v[4], v[5]));
    };
    return trainer(v, loss, [x, y]);
  },
};

export const WORKLOADS: Workload[] = [
  matmulWorkload(1024, 1024, 1024, 'matmul1024'),
  matmulWorkload(256, 768, 768, 'matmul256x768'),
  mlp,
  transformer,
  convnet,
];

/** Wall and CPU (all threads) milliseconds per iteration. */
interface Timing {
  wall: number;
  cpu: number;
}

/**
 * After 3 warm-up iterations, batches of ~0.25 s run for `minSeconds` (at least 3 batches). Wall time is
 * the fastest batch's mean: other processes share this machine's cores and the minimum is the estimate
 * they disturb least. CPU time is the mean over all batches. backend_ref.py measures both the same way.
 */
function timed(step: () => void, minSeconds: number): Timing {
  let t = performance.now();
  for (let i = 0; i < 3; i++) step();
  const per = (performance.now() - t) / 3;
  const k = Math.max(1, Math.round(250 / Math.max(per, 1e-3)));
  let best = Infinity;
  let n = 0;
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  for (let b = 0; b < 3 || performance.now() - start < minSeconds * 1000; b++) {
    t = performance.now();
    for (let i = 0; i < k; i++) step();
    best = Math.min(best, (performance.now() - t) / k);
    n += k;
  }
  const cpu = process.cpuUsage(cpu0);
  return { wall: best, cpu: (cpu.user + cpu.system) / 1000 / n };
}

async function measure(backend: string, w: Workload, minSeconds: number): Promise<Timing> {
  await tf.setBackend(backend);
  const { step, dispose } = w.build();
  try {
    return timed(step, minSeconds);
  } finally {
    dispose();
  }
}

function reference(threads: number, minSeconds: number, names: string[]): Record<string, Timing> {
  const script = path.resolve(fileURLToPath(import.meta.url), '../../../src/bench/backend_ref.py');
  const python = process.env.KEXUE_PYTHON ?? '/usr/bin/python3';
  const r = spawnSync(python, [script, String(threads), String(minSeconds), ...names], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`PyTorch reference failed: ${r.stderr || r.error?.message}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, Timing>;
}

async function setupWasm(): Promise<boolean> {
  try {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const require = createRequire(import.meta.url);
    wasm.setWasmPaths(
      path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + path.sep,
    );
    const { registerWasmKernels } = await import('../backend/wasm-kernels.js');
    registerWasmKernels();
    return await tf.setBackend('wasm');
  } catch (e) {
    process.stdout.write(`wasm rows skipped: ${(e as Error).message}\n`);
    return false;
  }
}

/** ms → the row's unit (GFLOPS for matmul rows). */
const value = (w: Workload, ms: number): number => (w.flops ? w.flops / ms / 1e6 : ms);
/** Goals: a step within 1.5× PyTorch's time; matmul at ≥ 90% of its GFLOPS (time ratio ≤ 1/0.9). */
const goal = (w: Workload, r: number): string => ((w.flops ? r <= 1 / 0.9 : r <= 1.5) ? 'ok' : 'MISS');

function leakRun(steps: number): void {
  const addon = loadAddon()!;
  const w1 = normal([64, 128], 0.1, 31);
  const w2 = normal([128, 10], 0.1, 32);
  const x = tf.randomNormal([32, 64], 0, 1, 'float32', 33) as tf.Tensor2D;
  const y = labels(32);
  const { step, dispose } = trainer(
    [w1, w2],
    () =>
      tf.losses.softmaxCrossEntropy(
        y,
        tf.matMul(tf.relu(tf.matMul(x, w1 as tf.Tensor2D)), w2 as tf.Tensor2D),
      ),
    [x, y],
  );
  // A full GC before each reading, so that RSS reflects live memory rather than V8's collection timing.
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const mb = (n: number): string => (n / 2 ** 20).toFixed(1);
  const snap = (): string =>
    `tensors ${tf.memory().numTensors}, native ${addon.count()}, RSS ${mb(process.memoryUsage().rss)} MB (JS heap ${mb(process.memoryUsage().heapUsed)} MB)`;
  const marks = new Set([100, 1000, Math.floor(steps / 2), steps]);
  const t0 = performance.now();
  for (let i = 1; i <= steps; i++) {
    step();
    if (marks.has(i)) {
      gc();
      addon.trim();
      process.stdout.write(`  leak run step ${i}: ${snap()}\n`);
    }
  }
  process.stdout.write(`  leak run: ${steps} steps in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  dispose();
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

export async function run(args: string[]): Promise<void> {
  const minSeconds = Number(option(args, '--min-seconds', '2'));
  const leakSteps = Number(option(args, '--leak-steps', '10000'));
  const only = option(args, '--only', '');
  const workloads = only ? WORKLOADS.filter((w) => only.split(',').includes(w.name)) : WORKLOADS;
  if (!isAvailable()) {
    process.stdout.write('aten addon not built (npm run build:native): nothing to compare\n');
    return;
  }
  const threads = loadAddon()!.getThreads();
  const wasm = !args.includes('--no-wasm') && (await setupWasm());
  process.stdout.write(
    `aten and PyTorch with ${threads} thread(s), OMP_WAIT_POLICY=${process.env.OMP_WAIT_POLICY}; wasm single-threaded\n`,
  );
  const cols = ['workload', 'aten', 'PyTorch', 'aten/PyTorch', 'goal', 'CPU-time ratio'];
  if (wasm) cols.push('wasm', 'wasm/PyTorch');
  const widths = [78, 9, 9, 13, 6, 15, 9, 12];
  process.stdout.write(cols.map((c, i) => pad(c, widths[i])).join(' ') + '\n');
  for (const w of workloads) {
    // Interleaved per workload so that load from other processes hits both sides alike.
    const ours = await measure('aten', w, minSeconds);
    const ref = reference(threads, minSeconds, [w.name])[w.name];
    const r = ours.wall / ref.wall;
    const cells = [
      w.label,
      value(w, ours.wall).toFixed(1),
      value(w, ref.wall).toFixed(1),
      `${r.toFixed(2)}×`,
    ];
    cells.push(goal(w, r), `${(ours.cpu / ref.cpu).toFixed(2)}×`);
    if (wasm) {
      const wm = await measure('wasm', w, Math.min(minSeconds, 1));
      cells.push(value(w, wm.wall).toFixed(1), `${(wm.wall / ref.wall).toFixed(2)}×`);
    }
    process.stdout.write(cells.map((c, i) => pad(c, widths[i])).join(' ') + '\n');
  }
  process.stdout.write(
    'Ratios are of times (> 1 = slower than PyTorch); for matmul rows that is PyTorch GFLOPS / ours.\n' +
      'Wall: fastest ~0.25 s batch; CPU-time ratio: user+sys of all threads per iteration, less sensitive to other load.\n',
  );
  const fb = [...fallbacksUsed().entries()].map(([k, n]) => `${k}×${n}`);
  process.stdout.write(`aten fallback kernels used: ${fb.length ? fb.join(', ') : 'none'}\n`);
  if (leakSteps > 0) {
    await tf.setBackend('aten');
    leakRun(leakSteps);
  }
}
