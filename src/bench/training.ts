/**
 * `npm run bench -- training [--rounds R] [--steps S] [--only a,b] [--skip-bert] [--leak-steps N]
 *                           [--torch-env kexue|default]`
 *
 * The training paths kexue users take, each beside a PyTorch twin (src/bench/training_ref.py: same
 * model, shapes, loss and optimizer, written as a PyTorch user would), in one run:
 *   mlp-fit       a tfjs-layers 784-512-512-10 MLP trained with `model.fit` (tf.train.adam), batch 128
 *   mlp-minimize  the same model trained with `optimizer.minimize`
 *   mlm           kexue's recipe encoder pretraining step (4 Post-LN RoPE blocks, hidden 128, 4 heads,
 *                 seq 64, batch 32, vocabulary 4,300, MLM on 15% of the positions, AdamW clipped at 1)
 *   mlm-logn      the same step with the entropy-invariant attention scale (`attentionScale: 'log-n'`)
 *   bert-base     the same step at BERT-base size (12 × 768, 12 heads, seq 128, batch 16, vocabulary 30,522)
 *   cosent        a CoSENT fine-tuning step of the recipe encoder (32 pairs of 32 tokens, mean pooling)
 *   gan           one GN-GAN iteration on MNIST-sized rows (critic + generator step, double backprop)
 *   iwae          an IWAE k = 5 step of the paper's one-layer VAE, batch 100, via `VAETrainer`
 * Timings on this shared machine jitter by 2×, so the two sides run interleaved, `rounds` times each,
 * each round in a fresh process on both sides (Node for kexue, Python for PyTorch: a workload is not
 * timed in a heap the earlier ones, BERT-base's gigabytes among them, have grown); each round's median
 * step is kept and the table shows the median over rounds with the range. Also: CPU time per step (all
 * threads) and its ratio, parallel efficiency (CPU time / wall time, out of the thread count), and kernels
 * per step on kexue's side (`tf.profile`).
 * Goal (the performance issue's): every wall ratio ≤ 0.8×. Then a leak run: N minibatches (default
 * 10,000) of `mlp-fit` and `mlp-minimize` and N/20 steps of `mlm`, with tfjs's tensor count, the native
 * tensor count and RSS at marks: they must stay flat.
 *
 * The twin runs with kexue's thread settings by default (`--torch-env kexue`: OMP_WAIT_POLICY=PASSIVE and
 * OPENBLAS_THREAD_TIMEOUT=4, which kexue sets for itself when they are unset, inherited by the child): the
 * stricter comparison, since PyTorch's own defaults (busy-waiting OpenMP workers beside OpenBLAS's
 * spinning ones) are far slower on this 2-core machine. `--torch-env default` runs it with those two
 * variables as the user's environment has them, as a PyTorch user would.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import v8 from 'node:v8';
import vm from 'node:vm';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '../backend/index.js';
import { envSetByKexue, loadAddon } from '../backend/aten/addon.js';
import { cosentLoss } from '../cosent/loss.js';
import { paperConfig, VAEModel } from '../density/build.js';
import { VAETrainer } from '../density/trainer.js';
import { Encoder, pool } from '../encoder/model.js';
import { mlmLoss, type MlmBatch } from '../encoder/mlm.js';
import { MNIST_CONV_NETS, MNIST_NETS } from '../experiments/gan.js';
import { GanTrainer, type GanConfig } from '../gan/trainer.js';
import { namedGradients } from '../nn/module.js';
import { AdamW, readLossAndNorm } from '../nn/optim.js';
import { Rng } from '../util/rng.js';
import { referencePython } from '../util/python.js';

const REF = fileURLToPath(new URL('../../src/bench/training_ref.py', import.meta.url));
const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

/** One call of `step` trains `batches` minibatches; times are reported per minibatch. */
interface Built {
  step(): Promise<void> | void;
  batches: number;
  dispose(): void;
}

interface Workload {
  name: string;
  label: string;
  /** Steps timed per round (after the warm-up steps) unless --steps overrides; fewer for big models. */
  steps: number;
  /**
   * Untimed steps first, the same on both sides (default 30: `warmupOf`). In a fresh Node process V8
   * compiles tfjs's and kexue's code while the first steps run: after 2 steps the encoder step took 215
   * ms, after 30 152 ms; a GAN iteration 64 and 31 ms; a `model.fit` minibatch 11.5 and 7.3 ms.
   */
  warmup?: number;
  build(): Built;
  /** The spec the Python twin reads (its `workload`, `threads`, `warmup`, `steps` are added). */
  ref: Record<string, unknown>;
}

const warmupOf = (w: Workload) => w.warmup ?? 30;

const MLP_BATCHES = 10;

function mlpModel(): tfl.Sequential {
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 512, activation: 'relu', inputShape: [784] }),
      tfl.layers.dense({ units: 512, activation: 'relu' }),
      tfl.layers.dense({ units: 10 }),
    ],
  });
  return model;
}

function mlpData(): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const n = 128 * MLP_BATCHES;
  const x = tf.randomNormal([n, 784], 0, 1, 'float32', 1) as tf.Tensor2D;
  const labels = tf.tensor1d(
    Array.from({ length: n }, (_, i) => (i * 7) % 10),
    'int32',
  );
  const y = tf.oneHot(labels, 10) as tf.Tensor2D;
  labels.dispose();
  return { x, y };
}

const mlpFit: Workload = {
  name: 'mlp-fit',
  label: 'tfjs-layers MLP, model.fit (Adam)',
  steps: 3,
  ref: { batches: MLP_BATCHES },
  build() {
    const model = mlpModel();
    model.compile({
      optimizer: tf.train.adam(1e-3),
      loss: (y: tf.Tensor, p: tf.Tensor) => tf.losses.softmaxCrossEntropy(y, p),
    });
    const { x, y } = mlpData();
    return {
      batches: MLP_BATCHES,
      step: async () => {
        await model.fit(x, y, { batchSize: 128, epochs: 1, shuffle: false, verbose: 0 });
      },
      dispose: () => {
        model.dispose();
        tf.dispose([x, y]);
      },
    };
  },
};

const mlpMinimize: Workload = {
  name: 'mlp-minimize',
  label: 'tfjs-layers MLP, optimizer.minimize (Adam)',
  steps: 3,
  ref: { batches: MLP_BATCHES },
  build() {
    const model = mlpModel();
    const opt = tf.train.adam(1e-3);
    const { x, y } = mlpData();
    const xs = tf.split(x, MLP_BATCHES);
    const ys = tf.split(y, MLP_BATCHES);
    return {
      batches: MLP_BATCHES,
      step: () => {
        for (let b = 0; b < MLP_BATCHES; b++) {
          const loss = opt.minimize(
            () => tf.losses.softmaxCrossEntropy(ys[b], model.apply(xs[b]) as tf.Tensor) as tf.Scalar,
            true,
          )!;
          loss.dataSync(); // like PyTorch's loss.item()
          loss.dispose();
        }
      },
      dispose: () => {
        model.dispose();
        opt.dispose();
        tf.dispose([x, y, ...xs, ...ys]);
      },
    };
  },
};

interface EncoderShape {
  layers: number;
  hidden: number;
  heads: number;
  seq: number;
  batch: number;
  vocab: number;
  /** The entropy-invariant attention scale ('log-n': log(max(n, 16))/log(512)/√d) instead of 1/√d. */
  logN?: boolean;
}

function encoder(s: EncoderShape): Encoder {
  return new Encoder({
    vocabSize: s.vocab,
    hidden: s.hidden,
    layers: s.layers,
    heads: s.heads,
    position: 'rope',
    norm: 'post',
    dropout: 0.1,
    attentionDropout: 0.1,
    ...(s.logN && { attentionScale: 'log-n' }),
  }).train(true);
}

/** A step like `pretrain`'s: gradients, loss and global norm read in one go, AdamW clipped at 1. */
async function adamwStep(model: Encoder, opt: AdamW, loss: () => tf.Scalar): Promise<void> {
  const { value, grads } = namedGradients(model, loss);
  const [, norm] = await readLossAndNorm(value, grads.values());
  opt.step(grads, 1e-4, undefined, norm);
  tf.dispose([value, ...grads.values()]);
}

function mlmWorkload(name: string, label: string, s: EncoderShape, steps: number, warmup?: number): Workload {
  const rng = new Rng(1);
  const n = s.batch * s.seq;
  const ids = Array.from({ length: n }, () => 5 + rng.int(s.vocab - 5));
  const positions = Array.from({ length: n }, (_, i) => i).filter(() => rng.next() < 0.15);
  const targets = positions.map((i) => ids[i]);
  return {
    name,
    label,
    steps,
    warmup,
    ref: { ...s, ids, positions, targets },
    build() {
      const model = encoder(s);
      const opt = new AdamW(model.namedParameters(), { weightDecay: 0.01, clipNorm: 1 });
      const batch: MlmBatch = {
        ids: tf.tensor2d(ids, [s.batch, s.seq], 'int32'),
        mask: tf.ones([s.batch, s.seq]) as tf.Tensor2D,
        positions: tf.tensor1d(positions, 'int32'),
        targets: tf.tensor1d(targets, 'int32'),
      };
      return {
        batches: 1,
        step: () => adamwStep(model, opt, () => mlmLoss(model, batch, true).loss),
        dispose: () => {
          tf.dispose([batch.ids, batch.mask, batch.positions, batch.targets]);
          opt.dispose();
          model.dispose();
        },
      };
    },
  };
}

const RECIPE: EncoderShape = { layers: 4, hidden: 128, heads: 4, seq: 64, batch: 32, vocab: 4300 };
const BERT_BASE: EncoderShape = { layers: 12, hidden: 768, heads: 12, seq: 128, batch: 16, vocab: 30522 };

function cosentWorkload(): Workload {
  const s = { ...RECIPE, seq: 32 };
  const rng = new Rng(2);
  const tokens = () => Array.from({ length: s.batch * s.seq }, () => 5 + rng.int(s.vocab - 5));
  const [a, b] = [tokens(), tokens()];
  const labels = Array.from({ length: s.batch }, () => rng.int(6));
  return {
    name: 'cosent',
    label: 'CoSENT fine-tuning step (recipe encoder, 32 pairs × 32 tokens)',
    steps: 10,
    ref: { ...s, a, b, labels },
    build() {
      const model = encoder(s);
      const opt = new AdamW(model.namedParameters(), { weightDecay: 0.01 });
      const [ta, tb] = [a, b].map((t) => tf.tensor2d(t, [s.batch, s.seq], 'int32'));
      const mask = tf.ones([s.batch, s.seq]) as tf.Tensor2D;
      const embed = (ids: tf.Tensor2D) => pool(model.apply({ ids, mask }), 'mean');
      return {
        batches: 1,
        step: () => adamwStep(model, opt, () => cosentLoss(embed(ta), embed(tb), labels)),
        dispose: () => {
          tf.dispose([ta, tb, mask]);
          opt.dispose();
          model.dispose();
        },
      };
    },
  };
}

/** One GN-GAN iteration (a critic and a generator step, each through f̂: double backprop). */
function ganWorkload(name: string, label: string, nets: Partial<GanConfig> & { dataDim: number }): Workload {
  return {
    name,
    label,
    steps: 10,
    ref: {},
    build() {
      const trainer = new GanTrainer({ ...nets, lipschitz: 'gn', loss: 'hinge' });
      const rng = new Rng(3);
      const real = Float32Array.from({ length: 64 * 784 }, () => 2 * rng.next() - 1);
      return {
        batches: 1,
        step: () => {
          trainer.step((n) => real.subarray(0, n * 784));
        },
        dispose: () => trainer.dispose(),
      };
    },
  };
}

const IWAE_BATCHES = 5;

const iwae: Workload = {
  name: 'iwae',
  label: "IWAE k = 5 step, the paper's one-layer VAE, batch 100 (VAETrainer)",
  // In a fresh process kexue's minibatch time falls from ~35 to ~11 ms over its first ~150 minibatches
  // (2 warm-up steps left it mid-way); a training run takes thousands, so both sides are timed after 150.
  // Single minibatches then still vary by ±20% (10–14 ms within one process), so 100 are timed, not 15.
  steps: 20,
  warmup: 30,
  ref: { k: 5, batches: IWAE_BATCHES },
  build() {
    const model = VAEModel.build(paperConfig(1), { seed: 1 });
    const rng = new Rng(4);
    const data = Float32Array.from({ length: IWAE_BATCHES * 100 * 784 }, () => rng.next());
    const trainer = new VAETrainer(
      model,
      data,
      { objective: 'iwae', k: 5, epochs: 1000, batchSize: 100, learningRate: 1e-3 },
      model.namedParameters(),
    );
    return {
      batches: IWAE_BATCHES,
      step: () => {
        trainer.trainEpoch();
      },
      dispose: () => {
        trainer.dispose();
        model.dispose();
      },
    };
  },
};

const WORKLOADS: Workload[] = [
  mlpFit,
  mlpMinimize,
  mlmWorkload('mlm', 'recipe encoder MLM pretraining step (4 × 128, seq 64, batch 32)', RECIPE, 10),
  mlmWorkload(
    'mlm-logn',
    "the same with the entropy-invariant attention scale log(n)/log(512)/√d ('log-n')",
    { ...RECIPE, logN: true },
    10,
  ),
  // Steps of seconds: the first warms the code up.
  mlmWorkload('bert-base', 'BERT-base-sized MLM step (12 × 768, seq 128, batch 16)', BERT_BASE, 3, 2),
  cosentWorkload(),
  ganWorkload('gan', "GN-GAN iteration, the MNIST experiment's MLPs, batch 64 (double backprop)", MNIST_NETS),
  ganWorkload(
    'gan-conv',
    "GN-GAN iteration, the MNIST experiment's conv nets, batch 64 (double backprop)",
    MNIST_CONV_NETS,
  ),
  iwae,
];

interface Round {
  /** Median wall ms per minibatch. */
  ms: number;
  /** CPU ms (all threads) per minibatch. */
  cpuMs: number;
}

async function ours(w: Workload, steps: number): Promise<Round & { kernels: number }> {
  const b = w.build();
  try {
    for (let i = 0; i < warmupOf(w); i++) await b.step();
    const prof = await tf.profile(async () => {
      await b.step();
    });
    const times: number[] = [];
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < steps; i++) {
      const t0 = performance.now();
      await b.step();
      times.push(performance.now() - t0);
    }
    const cpu = process.cpuUsage(cpu0);
    return {
      ms: median(times) / b.batches,
      cpuMs: (cpu.user + cpu.system) / 1000 / steps / b.batches,
      kernels: prof.kernels.length / b.batches,
    };
  } finally {
    b.dispose();
  }
}

/** `ours` in a fresh Node process (this file's `--kexue-round` mode), as PyTorch's rounds each get one. */
function oursFresh(w: Workload, steps: number): Round & { kernels: number } {
  const out = execFileSync(
    process.execPath,
    [MAIN, 'training', '--kexue-round', w.name, '--steps', String(steps)],
    {
      encoding: 'utf8',
      maxBuffer: 1 << 26,
    },
  );
  return JSON.parse(out.trim().split('\n').pop()!) as Round & { kernels: number };
}

function theirs(w: Workload, steps: number, threads: number, env: NodeJS.ProcessEnv): Round {
  // The twin's step is one minibatch: run `batches` times as many to time the same work.
  const batches = (w.ref.batches as number | undefined) ?? 1;
  const spec = { ...w.ref, workload: w.name, threads, warmup: warmupOf(w) * batches, steps: steps * batches };
  const out = execFileSync(referencePython(), [REF, JSON.stringify(spec)], {
    env,
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  const r = JSON.parse(out.trim().split('\n').pop()!) as { ms: number[]; cpuMs: number };
  return { ms: median(r.ms), cpuMs: r.cpuMs };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

const fmt = (xs: number[]): string => {
  const m = median(xs);
  const digits = m < 10 ? 2 : 1;
  return xs.length > 1
    ? `${m.toFixed(digits)} [${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}]`
    : m.toFixed(digits);
};

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** Runs `w` for `batches` minibatches, printing tensor counts and RSS at four marks. */
async function leakRun(w: Workload, batches: number): Promise<void> {
  const addon = loadAddon();
  const b = w.build();
  const calls = Math.max(4, Math.round(batches / b.batches));
  const marks = new Set([Math.ceil(calls / 100), Math.ceil(calls / 4), Math.ceil(calls / 2), calls]);
  const mb = (n: number) => (n / 2 ** 20).toFixed(0);
  const t0 = performance.now();
  const rows: string[] = [];
  for (let i = 1; i <= calls; i++) {
    await b.step();
    if (marks.has(i)) {
      // A full GC and malloc_trim first, so RSS shows live memory rather than collection timing.
      gc();
      addon?.trim();
      rows.push(
        `${i * b.batches}: tensors ${tf.memory().numTensors}, native ${addon?.count() ?? 'n/a'}, RSS ${mb(process.memoryUsage().rss)} MB`,
      );
    }
  }
  b.dispose();
  console.log(
    `  ${w.name} (${calls * b.batches} minibatches, ${((performance.now() - t0) / 1000).toFixed(0)} s): ${rows.join(' | ')}`,
  );
}

export async function run(args: string[]): Promise<void> {
  const round = option(args, '--kexue-round');
  if (round !== undefined) {
    // A child of the table's loop: one round of one workload, printed as JSON.
    await initBackend({ quiet: true });
    const w = WORKLOADS.find((x) => x.name === round);
    if (!w) throw new Error(`--kexue-round: no workload '${round}'`);
    console.log(JSON.stringify(await ours(w, Number(option(args, '--steps') ?? w.steps))));
    return;
  }
  const rounds = Number(option(args, '--rounds') ?? 3);
  const stepsOverride = option(args, '--steps');
  const only = option(args, '--only')?.split(',');
  let workloads = only ? WORKLOADS.filter((w) => only.includes(w.name)) : WORKLOADS;
  if (args.includes('--skip-bert')) workloads = workloads.filter((w) => w.name !== 'bert-base');
  if (!(Number.isInteger(rounds) && rounds >= 1)) throw new Error(`--rounds must be an integer ≥ 1`);
  const torchEnv = option(args, '--torch-env') ?? 'kexue';
  if (torchEnv !== 'kexue' && torchEnv !== 'default')
    throw new Error(`--torch-env must be 'kexue' or 'default', got '${torchEnv}'`);
  const backend = await initBackend();
  const env = { ...process.env };
  if (torchEnv === 'default') for (const name of envSetByKexue()) delete env[name];
  const threads =
    loadAddon()?.getThreads() ??
    (Number(process.env.KEXUE_ATEN_THREADS) || (os.availableParallelism?.() ?? os.cpus().length));
  console.log(
    `kexue on '${backend}' vs PyTorch ${'(Debian python3-torch)'}, ${threads} thread(s) each; ${rounds} interleaved ` +
      `rounds per workload; ms per minibatch: median over rounds of each round's median [range]\n` +
      `PyTorch's environment: ${torchEnv === 'kexue' ? "kexue's thread settings" : "the user's"} ` +
      `(OMP_WAIT_POLICY=${env.OMP_WAIT_POLICY ?? 'unset'}, OPENBLAS_THREAD_TIMEOUT=${env.OPENBLAS_THREAD_TIMEOUT ?? 'unset'})\n`,
  );
  const head = ['workload', 'kexue ms', 'PyTorch ms', 'wall', 'CPU', 'eff. k/P', 'kernels', 'goal'];
  const widths = [16, 20, 20, 7, 7, 11, 8, 5];
  const line = (cells: string[]) => console.log(cells.map((c, i) => c.padEnd(widths[i])).join(' '));
  line(head);
  for (const w of workloads) {
    const steps = Number(stepsOverride ?? w.steps);
    const k: (Round & { kernels: number })[] = [];
    const p: Round[] = [];
    for (let r = 0; r < rounds; r++) {
      k.push(oursFresh(w, steps));
      p.push(theirs(w, steps, threads, env));
    }
    const km = median(k.map((x) => x.ms));
    const pm = median(p.map((x) => x.ms));
    const kc = median(k.map((x) => x.cpuMs));
    const pc = median(p.map((x) => x.cpuMs));
    const ratio = km / pm;
    line([
      w.name,
      fmt(k.map((x) => x.ms)),
      fmt(p.map((x) => x.ms)),
      `${ratio.toFixed(2)}×`,
      `${(kc / pc).toFixed(2)}×`,
      `${(kc / km).toFixed(2)}/${(pc / pm).toFixed(2)}`,
      String(Math.round(k[0].kernels)),
      ratio <= 0.8 ? 'ok' : 'MISS',
    ]);
  }
  console.log(
    '\nwall, CPU: kexue / PyTorch (< 1 = kexue faster); eff.: CPU time / wall time (cores kept busy, of ' +
      `${threads}); kernels: tf.profile kernels per minibatch on kexue's side. Goal: wall ≤ 0.8×.\n` +
      'Workloads:\n' +
      workloads.map((w) => `  ${w.name.padEnd(14)} ${w.label}`).join('\n'),
  );
  const leak = Number(option(args, '--leak-steps') ?? 10000);
  if (leak > 0) {
    console.log('\nLeak run (counts after 1%, 25%, 50% and 100% of the minibatches):');
    await leakRun(mlpFit, leak);
    await leakRun(mlpMinimize, leak);
    await leakRun(
      WORKLOADS.find((w) => w.name === 'mlm')!,
      Math.ceil(leak / 20),
    );
  }
}
