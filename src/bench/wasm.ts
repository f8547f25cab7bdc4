/**
 * `npm run bench -- wasm [--steps N] [--torch-threads T]`: training steps on the wasm backend with the
 * stock 4.22 kernels and with kexue's (src/backend/wasm-kernels.ts), beside Debian's PyTorch running
 * the same workloads (reference only). Workloads: MLP 784-512-512-10 Adam step (batch 128); conv step
 * conv32 3×3 → conv64 3×3 → dense10 (28×28×1, batch 128, Adam); attention products softmax(QKᵀ/8)V
 * for 64 heads × 128 tokens × 64 (Adam on Q, K, V); embedding-bag step (vocab 50,000 × 64, 32 ids per
 * bag, mean, dense 10, batch 128, Adam). Median time per step in ms. Run it on a quiet machine: the
 * ratios are only as good as the load allows.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers'; // registers tfjs-core's gradients
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { registerWasmKernels, useKexueWasmKernels } from '../backend/wasm-kernels.js';
import { Rng } from '../util/rng.js';

const require = createRequire(import.meta.url);
const BATCH = 128;
const VOCAB = 50000;
const BAG = 32;
const HEADS = 64;
const SEQ = 128;

interface Workload {
  name: string;
  /** Builds the model and returns one training step (its loss is disposed). */
  setup(rng: Rng): () => void;
}

function glorot(rng: Rng, shape: number[]): tf.Variable {
  const fanIn = shape.slice(0, -1).reduce((a, b) => a * b, 1);
  const n = shape.reduce((a, b) => a * b, 1);
  const s = Math.sqrt(2 / (fanIn + shape[shape.length - 1]));
  return tf.variable(
    tf.tensor(
      Float32Array.from({ length: n }, () => rng.normal() * s),
      shape,
    ),
  );
}

function labels(rng: Rng): tf.Tensor {
  return tf.oneHot(
    tf.tensor1d(
      Array.from({ length: BATCH }, () => rng.int(10)),
      'int32',
    ),
    10,
  );
}

function uniform(rng: Rng, shape: number[]): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Float32Array.from({ length: n }, () => rng.next()),
    shape,
  );
}

function trainer(vars: tf.Variable[], loss: () => tf.Scalar): () => void {
  const opt = tf.train.adam(1e-3);
  return () => tf.dispose(opt.minimize(loss, true, vars) ?? []);
}

const workloads: Workload[] = [
  {
    name: 'MLP 784-512-512-10',
    setup(rng) {
      const x = uniform(rng, [BATCH, 784]);
      const y = labels(rng);
      const ws = [glorot(rng, [784, 512]), glorot(rng, [512, 512]), glorot(rng, [512, 10])];
      const bs = [512, 512, 10].map((n) => tf.variable(tf.zeros([n])));
      return trainer([...ws, ...bs], () => {
        const h1 = tf.relu(tf.add(tf.matMul(x, ws[0]), bs[0]));
        const h2 = tf.relu(tf.add(tf.matMul(h1, ws[1]), bs[1]));
        return tf.losses.softmaxCrossEntropy(y, tf.add(tf.matMul(h2, ws[2]), bs[2])) as tf.Scalar;
      });
    },
  },
  {
    name: 'conv32-conv64-dense10',
    setup(rng) {
      const x = uniform(rng, [BATCH, 28, 28, 1]) as tf.Tensor4D;
      const y = labels(rng);
      const k1 = glorot(rng, [3, 3, 1, 32]) as tf.Variable<tf.Rank.R4>;
      const k2 = glorot(rng, [3, 3, 32, 64]) as tf.Variable<tf.Rank.R4>;
      const w = glorot(rng, [24 * 24 * 64, 10]);
      return trainer([k1, k2, w], () => {
        const h1 = tf.relu(tf.conv2d(x, k1, 1, 'valid'));
        const h2 = tf.relu(tf.conv2d(h1, k2, 1, 'valid'));
        return tf.losses.softmaxCrossEntropy(y, tf.matMul(tf.reshape(h2, [BATCH, -1]), w)) as tf.Scalar;
      });
    },
  },
  {
    name: 'attention 64×(128×64) batched',
    setup(rng) {
      const [q, k, v] = [0, 1, 2].map(() => glorot(rng, [HEADS, SEQ, 64]));
      const c = uniform(rng, [HEADS, SEQ, 64]);
      return trainer([q, k, v], () => {
        const p = tf.softmax(tf.div(tf.matMul(q, k, false, true), 8));
        return tf.sum(tf.mul(tf.matMul(p, v), c)) as tf.Scalar;
      });
    },
  },
  {
    name: 'embedding-bag 50k×64',
    setup(rng) {
      const ids = tf.tensor2d(
        Array.from({ length: BATCH * BAG }, () => rng.int(VOCAB)),
        [BATCH, BAG],
        'int32',
      );
      const y = labels(rng);
      const emb = glorot(rng, [VOCAB, 64]);
      const w = glorot(rng, [64, 10]);
      return trainer([emb, w], () => {
        const bag = tf.mean(tf.gather(emb, ids), 1);
        return tf.losses.softmaxCrossEntropy(y, tf.matMul(bag, w)) as tf.Scalar;
      });
    },
  },
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Median ms per step, or the error message when the step cannot run. */
function time(w: Workload, steps: number): number | string {
  const rng = new Rng(1);
  try {
    const step = w.setup(rng);
    for (let i = 0; i < 2; i++) step();
    const ts: number[] = [];
    for (let i = 0; i < steps; i++) {
      const t0 = performance.now();
      step();
      ts.push(performance.now() - t0);
    }
    return median(ts);
  } catch (e) {
    const msg = (e as Error).message;
    const missing = /Kernel '(\w+)' not registered/.exec(msg);
    return missing ? `fails: no ${missing[1]}` : msg.split('\n')[0].slice(0, 40);
  } finally {
    tf.disposeVariables();
  }
}

const TORCH = String.raw`
import sys, time, json, torch
torch.manual_seed(0)
torch.set_num_threads(int(sys.argv[1])); steps = int(sys.argv[2]); B = 128
def mlp():
    m = torch.nn.Sequential(torch.nn.Linear(784,512), torch.nn.ReLU(), torch.nn.Linear(512,512), torch.nn.ReLU(), torch.nn.Linear(512,10))
    return m, torch.rand(B,784)
def conv():
    m = torch.nn.Sequential(torch.nn.Conv2d(1,32,3), torch.nn.ReLU(), torch.nn.Conv2d(32,64,3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(24*24*64,10,bias=False))
    return m, torch.rand(B,1,28,28)
def att():
    class A(torch.nn.Module):
        def __init__(self):
            super().__init__(); self.q, self.k, self.v = [torch.nn.Parameter(torch.randn(64,128,64)*0.1) for _ in range(3)]
            self.c = torch.rand(64,128,64)
        def forward(self, _):
            p = torch.softmax(self.q @ self.k.transpose(1,2) / 8, -1)
            return ((p @ self.v) * self.c).sum()
    return A(), None
def bag():
    m = torch.nn.Sequential(torch.nn.EmbeddingBag(50000,64,mode='mean'), torch.nn.Linear(64,10,bias=False))
    return m, torch.randint(0,50000,(B,32))
out = []
for build in (mlp, conv, att, bag):
    m, x = build(); y = torch.randint(0,10,(B,)); opt = torch.optim.Adam(m.parameters(), 1e-3)
    def step():
        opt.zero_grad()
        loss = m(x) if x is None else torch.nn.functional.cross_entropy(m(x), y)
        loss.backward(); opt.step()
    for _ in range(2): step()
    ts = []
    for _ in range(steps):
        t0 = time.perf_counter(); step(); ts.append((time.perf_counter()-t0)*1000)
    ts.sort(); out.append(ts[len(ts)//2])
print(json.dumps(out))
`;

function torchTimes(threads: number, steps: number): (number | string)[] {
  try {
    const out = execFileSync('/usr/bin/python3', ['-c', TORCH, String(threads), String(steps)], {
      encoding: 'utf8',
    });
    return JSON.parse(out) as number[];
  } catch {
    return workloads.map(() => 'python3-torch unavailable');
  }
}

function option(args: string[], name: string, dflt: number): number {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
}

const fmt = (v: number | string) => (typeof v === 'number' ? v.toFixed(1) : v);
const ratio = (a: number | string, b: number | string) =>
  typeof a === 'number' && typeof b === 'number' ? (a / b).toFixed(2) + '×' : '—';

export async function run(args: string[]): Promise<void> {
  const steps = option(args, '--steps', 10);
  const threads = option(args, '--torch-threads', 2);
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const file = require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm');
  wasm.setWasmPaths(path.dirname(file) + path.sep);
  registerWasmKernels();
  if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend could not be initialised');
  const rows: string[][] = [];
  const torch = torchTimes(threads, steps);
  for (const [i, w] of workloads.entries()) {
    useKexueWasmKernels(false);
    const stock = time(w, steps);
    useKexueWasmKernels(true);
    const ours = time(w, steps);
    rows.push([w.name, fmt(stock), fmt(ours), ratio(stock, ours), fmt(torch[i]), ratio(ours, torch[i])]);
  }
  const head = [
    'workload (ms/step, median)',
    'stock wasm',
    'kexue wasm',
    'speed-up',
    `torch ${threads}T`,
    'kexue/torch',
  ];
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  for (const r of [head, ...rows]) console.log(r.map((v, c) => v.padEnd(widths[c])).join('  '));
  console.log(`(${steps} timed steps after 2 warm-up steps; wasm is single-threaded SIMD)`);
}
