/**
 * Reproduction of "Variational autoencoders (8): estimating the probability density of samples"
 * (https://kexue.fm/archives/8791) with Burda et al.'s IWAE experiments (ICLR 2016, Table 1):
 *  1. VAE and IWAE with k = 1, 5, 50 on dynamically binarized MNIST, the paper's tanh architectures,
 *     test NLL by importance sampling (k_eval samples), active units — beside the paper's numbers;
 *  2. the note's point: the ELBO vs the importance-sampled bound L_k of one model as k grows;
 *  3. out of distribution (Nalisnick et al. 2019; Ren et al. 2019): Fashion-MNIST vs MNIST scored by
 *     log p̂(x), the ELBO and the likelihood ratio against a background model trained on perturbed inputs.
 * Training follows the paper (Adam ε = 1e-4, output bias = logit of the mean pixel), except the budget:
 * far fewer epochs than its 3,280 (the plans below), at lr 1e-3 with an optional decay to 1e-4 at the end
 * (the paper's schedule compressed to so few epochs would spend two thirds of them at 1e-4), and batch
 * 100 instead of 20 in the full plan. Every run is a unit of a shared run store (run-store.ts).
 */
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { Progress } from '../cli/progress.js';
import { readImageSet } from '../io/idx.js';
import {
  directoryHandler,
  findTrainCheckpoint,
  trainEpochsWithCheckpoints,
  loadVAEDir,
  readTrainState,
  type TrainState,
} from '../io/vae-files.js';
import {
  activeUnits,
  auroc,
  binarizeFixed,
  boundsByK,
  likelihoodRatio,
  logitMean,
  logLikelihood,
  paperConfig,
  perturb,
  saveVAE,
  VAEModel,
  VAETrainer,
  type Objective,
} from '../density/index.js';
import { Rng } from '../util/rng.js';
import { fmtMeanStd, meanStd } from '../util/stats.js';
import { RunStore, type RunUnit } from './run-store.js';
import {
  cellNumber,
  quickSummary,
  type Budget,
  type Chart,
  type ClaimSummary,
  type Experiment,
  type ExperimentContext,
  type ExperimentResult,
  type Table,
} from './types.js';

/** Burda et al. 2016, Table 1, MNIST test NLL (nats) at k = 1, 5, 50. */
export const PAPER_NLL: Record<string, number[]> = {
  '1-vae': [86.76, 86.47, 86.35],
  '1-iwae': [86.76, 85.54, 84.78],
  '2-vae': [85.33, 85.01, 84.78],
  '2-iwae': [85.33, 83.89, 82.9],
};

export interface DensityPlan {
  /** Training images (first n of the 60,000) and epochs for the table's models. */
  trainN: number;
  epochs: number;
  batchSize: number;
  lr: number;
  /** From this fraction of training on, the learning rate decays geometrically to lr/10 (1 = constant). */
  decayFrom: number;
  ks: number[];
  /** k values trained for the two-layer model (subset of ks; empty = none). */
  twoLayerKs: number[];
  /** Test images scored (first n of the fixed binarization) and importance samples per image. */
  testN: number;
  kEval: number;
  /** Part 2: images and the k values (each dividing the largest). */
  curveN: number;
  curveKs: number[];
  /** Part 3. */
  oodTrainN: number;
  oodEpochs: number;
  oodTestN: number;
  oodK: number;
  perturbRate: number;
  /** Seeds actually used (first n of ctx.seeds) by the one-layer rows with k ≤ manySeedsMaxK; others use one. */
  seeds: number;
  manySeedsMaxK: number;
  /** Longer runs of the two rows the issue's 2-nat target is about (one-layer VAE k=1, IWAE k=5). */
  long?: { epochs: number; testN: number };
}

export const DENSITY_PLANS: Record<Budget, DensityPlan> = {
  quick: {
    trainN: 1000,
    epochs: 2,
    batchSize: 20,
    lr: 1e-3,
    decayFrom: 1,
    ks: [1, 5, 50],
    twoLayerKs: [],
    testN: 100,
    kEval: 500,
    curveN: 10,
    curveKs: [1, 5, 50, 500, 5000],
    oodTrainN: 1500,
    oodEpochs: 2,
    oodTestN: 200,
    oodK: 50,
    perturbRate: 0.2,
    seeds: 1,
    manySeedsMaxK: 0,
  },
  // Measured per 60,000-image epoch at batch 100 on one thread: 12 s for k=1, 16 s for k=5, 86 s for
  // k=50 with one layer; k=5000 scoring ≈ 13–19 images/s. Every row at an equal budget, the two target
  // rows much longer and scored on the whole test set: about 3 core-hours, run as two processes sharing
  // one work folder (`kexue experiment density --budget full` started twice) in about 1.5 hours.
  // Batch 100, not the paper's 20: on a CPU a step costs nearly the same at either size.
  full: {
    trainN: 60000,
    epochs: 3,
    batchSize: 100,
    lr: 1e-3,
    decayFrom: 0.7,
    ks: [1, 5, 50],
    twoLayerKs: [1, 5, 50],
    testN: 1000,
    kEval: 5000,
    curveN: 100,
    curveKs: [1, 5, 50, 500, 5000],
    oodTrainN: 60000,
    oodEpochs: 2,
    oodTestN: 1000,
    oodK: 100,
    perturbRate: 0.2,
    seeds: 3,
    manySeedsMaxK: 5,
    long: { epochs: 200, testN: 10000 },
  },
};

interface Sets {
  train: Float32Array;
  test: Float32Array;
}

export function loadSet(dataDir: string, name: string, trainN: number, testN: number): Sets {
  const dir = path.join(dataDir, name);
  const train = readImageSet(dir, 'train', trainN).images;
  // The test set is binarized once with a fixed seed so every model sees the same binary images.
  const test = binarizeFixed(readImageSet(dir, 't10k', testN).images, 0);
  return { train, test };
}

/** Constant `lr`, then (from `decayFrom` of the run on) a geometric decay to lr/10 at the end. */
export function schedule(lr: number, decayFrom: number): (progress: number) => number {
  return (progress) => (progress < decayFrom ? lr : lr * 0.1 ** ((progress - decayFrom) / (1 - decayFrom)));
}

interface TrainPlan {
  epochs: number;
  batchSize: number;
  lr: number;
  decayFrom: number;
}

/**
 * Trains one model. With `checkpointDir` the model, Adam's moments and the epoch are saved after every
 * epoch and a later call resumes from them (each epoch's shuffle and binarization derive from the seed
 * and the epoch number, so a resumed run is the run it would have been).
 */
async function train(
  data: Float32Array,
  layers: 1 | 2,
  objective: Objective,
  k: number,
  p: TrainPlan,
  seed: number,
  label: string,
  quiet: boolean,
  checkpointDir?: string,
): Promise<{ model: VAEModel; bound: number; seconds: number }> {
  const settings = { layers, objective, k, seed, ...p };
  let found = checkpointDir ? findTrainCheckpoint(checkpointDir) : undefined;
  const saved = found ? readTrainState(found) : undefined;
  // A checkpoint of other settings (a longer plan, say) is not resumed: its schedule differs.
  if (!saved || !isDeepStrictEqual(saved.settings, settings)) found = undefined;
  const state: TrainState = found ? saved! : { epoch: 0, settings, history: [] };
  const model = found
    ? await loadVAEDir(found)
    : VAEModel.build(paperConfig(layers), { seed, outputBias: logitMean(data, 784) });
  const tr = new VAETrainer(
    model,
    data,
    {
      objective,
      k,
      epochs: p.epochs,
      batchSize: p.batchSize,
      learningRate: schedule(p.lr, p.decayFrom),
      seed,
    },
    model.namedParameters(),
  );
  try {
    const bar = new Progress({
      label,
      total: (p.epochs - (found ? state.epoch : 0)) * tr.batchesPerEpoch,
      silent: quiet,
    });
    await trainEpochsWithCheckpoints(tr, model, state, {
      epochs: p.epochs,
      dir: checkpointDir,
      resumeFrom: found,
      onBatch: (b) => bar.tick(1, `epoch ${tr.epoch + 1}/${p.epochs} bound ${b.toFixed(2)}`),
    });
  } finally {
    tr.dispose();
  }
  const last = state.history[state.history.length - 1];
  const seconds = state.history.reduce((a, h) => a + h.seconds, 0);
  return { model, bound: last?.bound ?? NaN, seconds };
}

/** log p̂(x) with a progress bar (k = 5000 on a few hundred images takes minutes). */
async function score(model: VAEModel, x: Float32Array, k: number, seed: number, label = '', quiet = true) {
  const bar = new Progress({ label: `density score ${label} k=${k}`, total: 1000, silent: quiet });
  let shown = 0;
  return logLikelihood(model, x, {
    k,
    seed,
    batchSize: Math.min(100, Math.max(1, Math.floor(20000 / k))),
    onProgress: (f) => {
      const t = Math.floor(f * 1000);
      bar.tick(t - shown);
      shown = t;
    },
  });
}

/** What one trained-and-scored model measured (a run record). */
export interface Measured {
  nll: number;
  elbo: number;
  active: string;
  trainBound: number;
  seconds: number;
  /** log p̂(x) per scored image (with `perImage`): for paired comparisons of two models. */
  logPx?: number[];
}

interface Row {
  layers: 1 | 2;
  objective: Objective;
  k: number;
  nll: number[];
  elbo: number[];
  active: string[];
  trainBound: number[];
  seconds: number[];
}

export type Config = [layers: 1 | 2, objective: Objective, k: number];

export const configId = ([layers, objective, k]: Config) => `${layers}L-${objective}-k${k}`;

/**
 * The run of one (config, seed) for `epochs`, scored on `test`. `work` is its folder in the run store:
 * long runs checkpoint there, and the model the ELBO-vs-L_k curve uses is saved there.
 */
export function measureUnit(
  id: string,
  config: Config,
  p: DensityPlan,
  epochs: number,
  seed: number,
  sets: { train: Float32Array; test: Float32Array },
  ctx: ExperimentContext,
  store: RunStore,
  opts: { checkpoint?: boolean; keepModel?: boolean; perImage?: boolean } = {},
): RunUnit<Measured> {
  const [layers, objective, k] = config;
  const testN = sets.test.length / 784;
  const work = path.join(store.dir, id);
  return {
    id,
    key: {
      config,
      seed,
      ...trainPlan(p),
      epochs,
      testN,
      trainN: sets.train.length / 784,
      kEval: p.kEval,
      ...(opts.perImage && { perImage: true }),
    },
    async compute() {
      const label = `${layers}L ${objective} k=${k}${epochs === p.epochs ? '' : ` ${epochs} ep`}`;
      const t = await train(
        sets.train,
        layers,
        objective,
        k,
        { ...trainPlan(p), epochs },
        seed,
        `density ${label}`,
        ctx.quiet,
        opts.checkpoint ? path.join(work, 'checkpoint') : undefined,
      );
      try {
        const r = await score(t.model, sets.test, p.kEval, 1000 + seed, label, ctx.quiet);
        const testT = tf.tensor2d(sets.test, [testN, 784]);
        const active = activeUnits(t.model, testT).active.join('+');
        testT.dispose();
        if (opts.keepModel) await saveVAE(t.model, directoryHandler(path.join(work, 'model')));
        return {
          nll: r.nll,
          elbo: -meanStd(Array.from(r.elbo)).mean,
          active,
          trainBound: t.bound,
          seconds: t.seconds,
          ...(opts.perImage && { logPx: Array.from(r.logPx, (v) => +v.toFixed(4)) }),
        };
      } finally {
        t.model.dispose();
      }
    },
  };
}

export const trainPlan = (p: DensityPlan): TrainPlan => ({
  epochs: p.epochs,
  batchSize: p.batchSize,
  lr: p.lr,
  decayFrom: p.decayFrom,
});

const emptyRow = ([layers, objective, k]: Config): Row => ({
  layers,
  objective,
  k,
  nll: [],
  elbo: [],
  active: [],
  trainBound: [],
  seconds: [],
});

function addTo(row: Row, m: Measured): void {
  row.nll.push(m.nll);
  row.elbo.push(m.elbo);
  row.active.push(m.active);
  row.trainBound.push(m.trainBound);
  row.seconds.push(m.seconds);
}

/** Part 1's configurations: every row of the paper's table (IWAE k = 1 is the VAE objective itself). */
function tableConfigs(p: DensityPlan): Config[] {
  const configs: Config[] = [];
  for (const layers of [1, 2] as const) {
    for (const objective of ['vae', 'iwae'] as const) {
      for (const k of layers === 1 ? p.ks : p.twoLayerKs)
        if (!(objective === 'iwae' && k === 1)) configs.push([layers, objective, k]);
    }
  }
  return configs;
}

const rowSeeds = (p: DensityPlan, seeds: number[], [layers, , k]: Config) =>
  layers === 1 && k <= p.manySeedsMaxK ? seeds : seeds.slice(0, 1);

/** The two target rows trained `long.epochs` and scored on `long.testN` images (first seed). */
const LONG_CONFIGS: Config[] = [
  [1, 'vae', 1],
  [1, 'iwae', 5],
];

/** The table's rows from their runs' records (the IWAE k = 1 row repeats the VAE k = 1 one). */
function assembleRows(configs: Config[], records: Measured[][]): Row[] {
  const rows: Row[] = [];
  configs.forEach((config, i) => {
    const row = emptyRow(config);
    for (const m of records[i]) addTo(row, m);
    rows.push(row);
    if (config[1] === 'vae' && config[2] === 1) rows.push({ ...row, objective: 'iwae' });
  });
  const order = (r: Row) => r.layers * 1e6 + (r.objective === 'vae' ? 0 : 1e3) + r.k;
  return rows.sort((a, b) => order(a) - order(b));
}

/** The plan's fields the out-of-distribution part depends on. */
const oodKey = (p: DensityPlan) => ({
  ...trainPlan(p),
  epochs: p.oodEpochs,
  trainN: p.oodTrainN,
  testN: p.oodTestN,
  k: p.oodK,
  perturbRate: p.perturbRate,
});

async function runOod(p: DensityPlan, seed: number, ctx: ExperimentContext) {
  const sets = {
    fashion: loadSet(ctx.dataDir, 'fashion-mnist', p.oodTrainN, p.oodTestN),
    mnist: loadSet(ctx.dataDir, 'mnist', p.oodTrainN, p.oodTestN),
  };
  const tp = { epochs: p.oodEpochs, batchSize: p.batchSize, lr: p.lr, decayFrom: p.decayFrom };
  const rows: (string | number)[][] = [];
  const findings: string[] = [];
  for (const [inName, outName] of [
    ['fashion', 'mnist'],
    ['mnist', 'fashion'],
  ] as const) {
    const inSet = sets[inName];
    const outSet = sets[outName];
    const model = (await train(inSet.train, 1, 'vae', 1, tp, seed, `density ood ${inName}`, ctx.quiet)).model;
    const bgData = perturb(inSet.train, p.perturbRate, new Rng(seed + 99));
    const bg = (await train(bgData, 1, 'vae', 1, tp, seed + 1, `density ood ${inName} background`, ctx.quiet))
      .model;
    const sIn = await score(model, inSet.test, p.oodK, 1);
    const sOut = await score(model, outSet.test, p.oodK, 2);
    const bIn = await score(bg, inSet.test, p.oodK, 3);
    const bOut = await score(bg, outSet.test, p.oodK, 4);
    model.dispose();
    bg.dispose();
    const llIn = -sIn.nll;
    const llOut = -sOut.nll;
    const aLl = auroc(sIn.logPx, sOut.logPx);
    const aElbo = auroc(sIn.elbo, sOut.elbo);
    const aLr = auroc(likelihoodRatio(sIn.logPx, bIn.logPx), likelihoodRatio(sOut.logPx, bOut.logPx));
    const label = (s: string) => (s === 'fashion' ? 'Fashion-MNIST' : 'MNIST');
    rows.push([
      label(inName),
      label(outName),
      +llIn.toFixed(2),
      +llOut.toFixed(2),
      +aLl.toFixed(3),
      +aElbo.toFixed(3),
      +aLr.toFixed(3),
    ]);
    findings.push(
      `Trained on ${label(inName)}: mean log p̂ ${llIn.toFixed(1)} nats on its own test images vs ${llOut.toFixed(1)} on ${label(outName)} — ` +
        (llOut > llIn
          ? `the known failure appears (the other set looks more likely; AUROC ${aLl.toFixed(3)} < 0.5)`
          : `no failure here (AUROC ${aLl.toFixed(3)})`) +
        `; the likelihood ratio gives AUROC ${aLr.toFixed(3)}.`,
    );
  }
  return { rows, findings };
}

export interface DensityExperimentOptions {
  /** Override the budget's plan (tests use tiny ones). */
  settings?: Partial<DensityPlan>;
}

/**
 * The verdict row: the paper's ordering (IWAE ≤ VAE at equal k, IWAE improving with k, one layer) and
 * the 2-nat target on the one-layer VAE k=1 and IWAE k=5 rows (the long runs when there are).
 */
export function summarizeDensity(r: ExperimentResult): ClaimSummary | undefined {
  const [ladder] = r.tables;
  const long = r.tables.find((t) => t.title.startsWith('Long runs'));
  if (!ladder) return undefined;
  const nll = (t: Table, o: string, k: number) =>
    cellNumber(t.rows.find((row) => row[0] === 1 && row[1] === o && row[2] === k)?.[3]);
  const target = (o: string, k: number) =>
    long && !Number.isNaN(nll(long, o, k)) ? nll(long, o, k) : nll(ladder, o, k);
  const v1 = target('VAE', 1);
  const i5 = target('IWAE', 5);
  const note = 'NLL 86.76 (VAE k=1), 85.54 (IWAE k=5); IWAE < VAE at equal k';
  const ours = `NLL ${v1.toFixed(2)} (VAE k=1), ${i5.toFixed(2)} (IWAE k=5)`;
  if (r.budget === 'quick') return quickSummary(note, ours);
  const ks = [5, 50].filter((k) => !Number.isNaN(nll(ladder, 'IWAE', k)));
  const ordered = ks.every((k) => nll(ladder, 'IWAE', k) <= nll(ladder, 'VAE', k));
  const mono = ks.every((k, i) => nll(ladder, 'IWAE', k) <= nll(ladder, 'IWAE', i ? ks[i - 1] : 1));
  const within = v1 - 86.76 <= 2 && i5 - 85.54 <= 2;
  const epochs = long ? /(\d+) epochs/.exec(long.title)?.[1] : r.settings.epochs;
  const gaps = `${(v1 - 86.76).toFixed(1)} / ${(i5 - 85.54).toFixed(1)} nats above the paper after ${epochs} epochs (paper: 3,280)`;
  if (ordered && mono && within) return { note, ours, status: 'reproduces', reason: `ordering and ${gaps}` };
  if (ordered && mono)
    return { note, ours, status: 'partly', reason: `the table's ordering reproduces; absolute NLL ${gaps}` };
  // The ordering is tested on longer runs by the density-order experiment; this table's rows are short.
  if (within)
    return {
      note,
      ours,
      status: 'partly',
      reason: `${gaps}: the 2-nat target is met; at this table's ${r.settings.epochs} epochs per row the IWAE/VAE ordering does not hold (density-order trains the pairs longer)`,
    };
  return {
    note,
    ours,
    status: 'does not reproduce',
    reason: `the ordering does not hold at this budget; ${gaps}`,
  };
}

export function densityExperiment(opts: DensityExperimentOptions = {}): Experiment {
  return {
    name: 'density',
    summarize: summarizeDensity,
    title: 'VAE density estimation: importance-sampled log p(x) and the IWAE',
    async run(ctx) {
      const p: DensityPlan = { ...DENSITY_PLANS[ctx.budget], ...opts.settings };
      const seeds = ctx.seeds.slice(0, p.seeds);
      const mnist = loadSet(ctx.dataDir, 'mnist', p.trainN, Math.max(p.testN, p.long?.testN ?? 0));
      // Every run is a unit of a shared run store: a rerun reuses finished runs, and several processes
      // started on the same work folder split the units between them (see run-store.ts).
      const store = new RunStore(path.join(ctx.workDir, `density-${ctx.budget}`));
      const tableSets = { train: mnist.train, test: mnist.test.subarray(0, p.testN * 784) };
      const configs = tableConfigs(p);
      // The ELBO-vs-L_k curve uses the one-layer VAE k = 1 of the first seed (the long one if any):
      // the model whose ELBO is the training objective.
      const curveId = p.long
        ? `long-${configId([1, 'vae', 1])}-seed${seeds[0]}`
        : `${configId([1, 'vae', 1])}-seed${seeds[0]}`;
      const longUnits = (p.long ? LONG_CONFIGS : []).map((config) => {
        const id = `long-${configId(config)}-seed${seeds[0]}`;
        const sets = { train: mnist.train, test: mnist.test.subarray(0, p.long!.testN * 784) };
        return measureUnit(id, config, p, p.long!.epochs, seeds[0], sets, ctx, store, {
          checkpoint: true,
          keepModel: id === curveId,
        });
      });
      const tableUnits = configs.flatMap((config) =>
        rowSeeds(p, seeds, config).map((seed) => {
          const id = `${configId(config)}-seed${seed}`;
          return measureUnit(id, config, p, p.epochs, seed, tableSets, ctx, store, {
            keepModel: id === curveId,
          });
        }),
      );
      type Ood = Awaited<ReturnType<typeof runOod>>;
      const oodUnit: RunUnit<Ood> = {
        id: `ood-seed${seeds[0]}`,
        key: oodKey(p),
        compute: () => runOod(p, seeds[0], ctx),
      };
      // The longest runs first, then OOD (independent of the rest, so an idle process takes it).
      const all = await store.runAll<Measured | Ood>([...longUnits, ...tableUnits, oodUnit]);
      const measured = all.slice(0, -1) as Measured[];
      const ood = all[all.length - 1] as Ood;
      const longRows = measured.slice(0, longUnits.length).map((m, i) => {
        const row = emptyRow(LONG_CONFIGS[i]);
        addTo(row, m);
        return row;
      });
      let next = longUnits.length;
      const rows = assembleRows(
        configs,
        configs.map((c) => measured.slice(next, (next += rowSeeds(p, seeds, c).length))),
      );
      const [curve] = await store.runAll([
        {
          id: `curve-${curveId}`,
          key: {
            curveN: p.curveN,
            curveKs: p.curveKs,
            model: measured[[...longUnits, ...tableUnits].findIndex((u) => u.id === curveId)],
          },
          compute: async () => {
            const model = await loadVAEDir(path.join(store.dir, curveId, 'model'));
            try {
              return await boundsByK(model, mnist.test.subarray(0, p.curveN * 784), p.curveKs, {
                seed: 7,
                batchSize: Math.max(1, Math.floor(20000 / Math.max(...p.curveKs))),
              });
            } finally {
              model.dispose();
            }
          },
        },
      ]);
      const runSeconds = (ms: Measured[]) => Math.round(ms.reduce((a, m) => a + m.seconds, 0));

      const tables: Table[] = [];
      const charts: Chart[] = [];
      const fmt = (v: number[]) => (v.length > 1 ? fmtMeanStd(v, 2) : v[0].toFixed(2));
      tables.push({
        title: `MNIST test NLL (nats, k_eval = ${p.kEval} on ${p.testN} fixed-binarized test images), ${p.epochs} epoch(s) on ${p.trainN} training images vs the paper's 3,280 epochs`,
        columns: [
          'layers',
          'objective',
          'k',
          'NLL (ours)',
          'NLL (paper)',
          '−ELBO (ours)',
          'active units',
          'final train bound',
          'train s',
        ],
        rows: rows.map((r) => [
          r.layers,
          r.objective.toUpperCase(),
          r.k,
          fmt(r.nll),
          PAPER_NLL[`${r.layers}-${r.objective}`][[1, 5, 50].indexOf(r.k)] ?? null,
          fmt(r.elbo),
          r.active.join(', '),
          fmt(r.trainBound),
          fmt(r.seconds),
        ]),
        note: `IWAE k = 1 is the same objective as VAE k = 1: the same model's numbers are shown on both rows. Seeds ${seeds.join(', ')} for the one-layer rows with k ≤ ${p.manySeedsMaxK}, seed ${seeds[0]} for the others; mean ± std where more than one. −ELBO is estimated from the same ${p.kEval} samples. Active units: posterior-mean variance over the scored test images > 0.01 (layer 1 + layer 2). Two-layer rows trained: k ∈ {${p.twoLayerKs.join(', ') || 'none'}}.`,
      });
      if (p.long)
        tables.push({
          title: `Long runs of the target rows: ${p.long.epochs} epochs on ${p.trainN} images, test NLL with k_eval = ${p.kEval} on ${p.long.testN} test images`,
          columns: [
            'layers',
            'objective',
            'k',
            'NLL (ours)',
            'NLL (paper)',
            'gap',
            '−ELBO (ours)',
            'active units',
            'train s',
          ],
          rows: longRows.map((r) => {
            const paper = PAPER_NLL[`1-${r.objective}`][[1, 5, 50].indexOf(r.k)];
            return [
              1,
              r.objective.toUpperCase(),
              r.k,
              fmt(r.nll),
              paper,
              +(r.nll[0] - paper).toFixed(2),
              fmt(r.elbo),
              r.active[0],
              fmt(r.seconds),
            ];
          }),
          note: `Seed ${seeds[0]}. The issue's target: within 2 nats of the paper's number on these two rows.`,
        });
      charts.push({
        title: 'Test NLL by k (ours, one stochastic layer; lower is better)',
        kind: 'line',
        xLabel: 'k (training samples)',
        yLabel: 'NLL (nats)',
        series: ['vae', 'iwae'].map((o) => {
          const rs = rows.filter((r) => r.layers === 1 && r.objective === o);
          return {
            name: o.toUpperCase(),
            x: rs.map((r) => r.k),
            y: rs.map((r) => meanStd(r.nll).mean),
            err: rs.map((r) => meanStd(r.nll).std),
          };
        }),
      });

      // Part 2: ELBO vs L_k of one model as k grows.
      charts.push({
        title: `One model (1-layer VAE, k=1${p.long ? `, ${p.long.epochs} epochs` : ''}), ${p.curveN} test images: the ELBO (k = 1) and the importance-sampled bound L_k`,
        kind: 'line',
        xLabel: 'log10 k',
        yLabel: 'mean bound (nats)',
        series: [{ name: 'L_k', x: p.curveKs.map((k) => Math.log10(k)), y: curve }],
      });
      tables.push({
        title: 'ELBO vs importance-sampled L_k (same model, same images)',
        columns: ['k', 'L_k (nats)', 'L_k − ELBO'],
        rows: p.curveKs.map((k, i) => [k, +curve[i].toFixed(2), +(curve[i] - curve[0]).toFixed(2)]),
      });

      // Part 3: out of distribution.
      tables.push({
        title: `Out of distribution: one-layer VAE (k = 1) per data set, ${p.oodEpochs} epoch(s) on ${p.oodTrainN} images; ${p.oodTestN} test images per set, log p̂ with k = ${p.oodK}`,
        columns: [
          'trained on',
          'other set',
          'mean log p̂ (own test)',
          'mean log p̂ (other)',
          'AUROC log p̂',
          'AUROC ELBO',
          'AUROC likelihood ratio',
        ],
        rows: ood.rows,
        note: `AUROC of telling the model's own test set from the other set, higher score = in-distribution (0.5 = chance, < 0.5 = the other set scores higher). Likelihood ratio: log p̂_model − log p̂_background, the background model trained the same way on inputs with each pixel replaced by a uniform intensity with probability ${p.perturbRate} (Ren et al. 2019).`,
      });

      const one = (o: Objective, k: number) =>
        rows.find((r) => r.layers === 1 && r.objective === o && r.k === k);
      const ordered = p.ks.every((k) => {
        const v = one('vae', k);
        const i = one('iwae', k);
        return !v || !i || k === 1 || meanStd(i.nll).mean <= meanStd(v.nll).mean;
      });
      const iwaeMono = p.ks.slice(1).every((k, j) => {
        const a = one('iwae', p.ks[j]);
        const b = one('iwae', k);
        return !a || !b || meanStd(b.nll).mean <= meanStd(a.nll).mean;
      });
      const target = (o: Objective, k: number) =>
        longRows.find((r) => r.objective === o && r.k === k) ?? one(o, k);
      const v1 = target('vae', 1);
      const i5 = target('iwae', 5);
      const targetEpochs = p.long?.epochs ?? p.epochs;
      const met = [v1 && meanStd(v1.nll).mean - 86.76 <= 2, i5 && meanStd(i5.nll).mean - 85.54 <= 2];
      const gap = (r: Row | undefined, paper: number) =>
        r ? (meanStd(r.nll).mean - paper).toFixed(2) : 'n/a';
      const curveText = curve.length
        ? `On ${p.curveN} test images the importance-sampled bound rises from the ELBO ${curve[0].toFixed(2)} to L_${p.curveKs[p.curveKs.length - 1]} = ${curve[curve.length - 1].toFixed(2)} nats (+${(curve[curve.length - 1] - curve[0]).toFixed(2)}): the ELBO understates log p(x), as the note says.`
        : '';
      return {
        title: 'VAE density estimation: importance-sampled log p(x) and the IWAE',
        claim:
          'A VAE gives a density estimate through importance sampling with the encoder as proposal: p(x) = E_{z~q(z|x)}[p(x|z)p(z)/q(z|x)], estimated with k samples; the ELBO is only the k = 1 bound and the bound tightens as k grows. Training on the k-sample bound itself (IWAE) gives better test likelihoods than the VAE (Burda et al. Table 1).',
        source:
          'https://kexue.fm/archives/8791; Burda, Grosse & Salakhutdinov, ICLR 2016 (yburda/iwae); Nalisnick et al., ICLR 2019; Ren et al., NeurIPS 2019',
        verdict: [
          `At our budget (${p.epochs} epoch(s) on ${p.trainN} images vs the paper's 3,280 on 60,000) the IWAE ${ordered ? 'beats or ties' : 'does NOT always beat'} the VAE at equal k, and IWAE NLL ${iwaeMono ? 'improves' : 'does NOT improve monotonically'} with k.`,
          `After ${targetEpochs} epochs on ${p.trainN} images (~${Math.round((3280 * 60000) / (targetEpochs * p.trainN))}× fewer training images than the paper's 3,280 epochs), the one-layer VAE k=1 is ${gap(v1, 86.76)} nats and the IWAE k=5 ${gap(i5, 85.54)} nats above the paper's NLL: the 2-nat target is ${met.every(Boolean) ? 'met' : met.some(Boolean) ? 'met for one of the two rows only' : 'not met'}.`,
          curveText,
          ...ood.findings,
        ]
          .filter(Boolean)
          .join(' '),
        settings: {
          trainImages: p.trainN,
          epochs: p.epochs,
          longEpochs: p.long?.epochs ?? 'none',
          longTestImages: p.long?.testN ?? 'none',
          paperEpochs: 3280,
          batchSize: p.batchSize,
          learningRate:
            p.decayFrom < 1
              ? `${p.lr}, decaying to ${p.lr / 10} from ${p.decayFrom * 100}% of each run`
              : p.lr,
          manySeedsMaxK: p.manySeedsMaxK,
          kEval: p.kEval,
          testImages: p.testN,
          seedsUsed: seeds.join(','),
          twoLayerKs: p.twoLayerKs.join(',') || 'none',
          oodTrainImages: p.oodTrainN,
          oodTestImages: p.oodTestN,
          oodK: p.oodK,
          tableTrainSeconds: runSeconds(measured.slice(longUnits.length)),
          longTrainSeconds: runSeconds(measured.slice(0, longUnits.length)),
        },
        text: [
          'Notation: the note writes q(z) for the prior, q_θ(x|z) for the decoder and p_θ(z|x) for the encoder; we use the usual p(z) = N(0, I), p_θ(x|z) (Bernoulli logits) and q_φ(z|x) (diagonal Gaussian).',
          `Architecture and recipe from yburda/iwae: tanh MLPs 784-200-200-50 (one stochastic layer) and 784-200-200-100-100-100-50 (two), Glorot-uniform init, decoder output bias = logit of the training mean pixel, Adam ε = 1e-4, dynamic binarization of every minibatch; the test images are binarized once with a fixed seed. Deviations: batch ${p.batchSize} (paper 20), learning rate ${p.lr}${p.decayFrom < 1 ? ` decaying geometrically to ${p.lr / 10} over the last ${Math.round((1 - p.decayFrom) * 100)}% of each run` : ' constant'} instead of the paper's 3,280-epoch schedule, and far fewer epochs (stated in the table titles); Adam β₁ = 0.9 as in the paper text (the authors' code uses 0.99 and initialises the second moment to 1).`,
          seeds.length < 3 || p.manySeedsMaxK < Math.max(...p.ks)
            ? `Seeds: ${seeds.length > 1 && p.manySeedsMaxK > 0 ? `${seeds.length} (${seeds.join(', ')}) for the one-layer rows with k ≤ ${p.manySeedsMaxK}; ` : ''}one (${seeds[0]}) for ${seeds.length > 1 && p.manySeedsMaxK > 0 ? 'the other rows' : 'every row'}${p.long ? ' and the long runs' : ''} — training the k = 50 and two-layer models dominates the budget, so their seed-to-seed variation is not measured.`
            : '',
          p.long && p.long.testN >= 10000
            ? `The long runs are scored like the paper's: the whole 10,000-image test set with k = ${p.kEval}; the equal-budget table uses the first ${p.testN} test images to fit the budget.`
            : `The paper scores the whole 10,000-image test set with k = 5000; we score ${p.long?.testN ?? p.testN} images with k = ${p.kEval} to fit the budget on a 2-core machine.`,
        ].filter(Boolean),
        math: [
          '\\log p(x) \\ge \\mathcal{L}_k = \\mathbb{E}\\Big[\\log \\tfrac{1}{k}\\textstyle\\sum_{j=1}^k \\tfrac{p(x, z_j)}{q(z_j\\mid x)}\\Big],\\quad z_j \\sim q(z\\mid x)',
          '\\mathcal{L}_1 = \\text{ELBO} \\le \\mathcal{L}_5 \\le \\mathcal{L}_{50} \\le \\log p(x)',
        ],
        tables,
        charts,
      };
    },
  };
}
