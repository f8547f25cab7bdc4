/**
 * The engine of the CoSENT reproduction: fine-tune the same pretrained encoder with each objective
 * and several seeds on one task, recording dev and test Spearman after every epoch. As the note ran it,
 * each objective gets its learning rate from a small grid by dev Spearman (first seed), and a run's
 * score is its test Spearman at its best dev epoch; the first epoch's is kept for the note's claim that
 * CoSENT converges faster. Nothing is selected on test. LCQMC and PAWSX have no train file here: their
 * validation file trains, with a dev share carved from it by hash.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { readSentencePairs, type SentencePair } from '../io/sts.js';
import { Rng } from '../util/rng.js';
import type { Pooling } from '../encoder/index.js';
import { loadSentenceModel } from '../io/sentence-files.js';
import { evaluatePairs, trainSentenceEncoder } from '../cosent/trainer.js';
import type { ObjectiveName } from '../cosent/objectives.js';
import { meanStd } from '../util/stats.js';
import { spearman } from '../cosent/spearman.js';
import type { RunStore } from './run-store.js';

export interface StsTask {
  name: string;
  lang: 'zh' | 'en';
  /** Paths relative to the data folder (../shared/data). */
  train: string;
  test: string;
  /** The dev file; absent: a dev share is carved from the training file (`carveDev`). */
  dev?: string;
  /** Which split trains: LCQMC and PAWSX have no train file here, so their validation file does. */
  trainSplit: 'train' | 'valid';
  /** Tokens per sentence at least this many, whatever the budget's limit (the note's PAWSX: 128). */
  minMaxLen?: number;
}

/** The note's tasks available here (BQ is not). */
export const STS_TASKS: readonly StsTask[] = [
  {
    name: 'ATEC',
    lang: 'zh',
    train: 'sts/atec/atec_nlp_sim_train.csv',
    test: 'sts/atec/ATEC.test.data',
    dev: 'sts/atec/ATEC.valid.data',
    trainSplit: 'train',
  },
  {
    name: 'LCQMC',
    lang: 'zh',
    train: 'sts/lcqmc/LCQMC.valid.data',
    test: 'sts/lcqmc/LCQMC.test.data',
    trainSplit: 'valid',
  },
  {
    name: 'PAWSX',
    lang: 'zh',
    train: 'sts/pawsx/PAWSX.valid.data',
    test: 'sts/pawsx/PAWSX.test.data',
    trainSplit: 'valid',
    // Its sentences are long (median 41 characters, 11% over 62): the note's code gives it 128 tokens.
    minMaxLen: 128,
  },
  {
    name: 'STS-B',
    lang: 'zh',
    train: 'sts/sts-b/STS-B.train.data',
    test: 'sts/sts-b/STS-B.test.data',
    dev: 'sts/sts-b/STS-B.valid.data',
    trainSplit: 'train',
  },
  {
    name: 'STS-B (en)',
    lang: 'en',
    train: 'sts/stsb-en/sts-train.tsv',
    test: 'sts/stsb-en/sts-test.tsv',
    dev: 'sts/stsb-en/sts-dev.tsv',
    trainSplit: 'train',
  },
];

/** The note's Spearman ×100 with BERT-base (train → test), for side-by-side reporting. */
export const NOTE_BERT_BASE: Record<string, { cosent: number; sbert: number }> = {
  ATEC: { cosent: 49.74, sbert: 46.36 },
  BQ: { cosent: 72.38, sbert: 70.36 },
  LCQMC: { cosent: 78.69, sbert: 78.72 },
  PAWSX: { cosent: 60.0, sbert: 46.86 },
  'STS-B': { cosent: 80.14, sbert: 66.41 },
};

/** Share of the training file carved off as dev for tasks without a dev file. */
export const DEV_SHARE = 0.1;

/**
 * Splits pairs into (train, dev): a pair goes to dev when the first byte of the SHA-256 of its two
 * sentences is below `share` · 256. Deterministic and seed-free; both keep the input order.
 */
export function carveDev(
  pairs: readonly SentencePair[],
  share = DEV_SHARE,
): { train: SentencePair[]; dev: SentencePair[] } {
  const train: SentencePair[] = [];
  const dev: SentencePair[] = [];
  for (const p of pairs) {
    const h = createHash('sha256').update(`${p.s1}\t${p.s2}`).digest();
    (h[0] < share * 256 ? dev : train).push(p);
  }
  return { train, dev };
}

/** Reads a task's pairs; stray byte-order marks inside fields (ATEC's first line has one) are removed. */
export function readTask(
  dataDir: string,
  task: StsTask,
): { train: SentencePair[]; dev: SentencePair[]; test: SentencePair[] } {
  const read = (file: string) =>
    readSentencePairs(path.join(dataDir, file)).map((p) => ({
      ...p,
      s1: p.s1.replace(/\uFEFF/g, ''),
      s2: p.s2.replace(/\uFEFF/g, ''),
    }));
  const test = read(task.test);
  if (task.dev) return { train: read(task.train), dev: read(task.dev), test };
  return { ...carveDev(read(task.train)), test };
}

/** A seeded random subset of at most n pairs (all of them, in order, when n is not smaller). */
export function subsample(
  pairs: readonly SentencePair[],
  n: number | undefined,
  seed: number,
): SentencePair[] {
  if (n === undefined || n >= pairs.length) return [...pairs];
  return new Rng(seed).shuffle([...pairs]).slice(0, n);
}

/** The overlap baseline's tokens: characters for Chinese (whitespace dropped), lower-cased words otherwise. */
function overlapTokens(s: string, lang: StsTask['lang']): Set<string> {
  if (lang === 'zh') return new Set(Array.from(s).filter((c) => c.trim() !== ''));
  return new Set(s.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []);
}

/**
 * Spearman ×100 of the Jaccard overlap of each pair's tokens against the labels: how far plain lexical
 * overlap gets with no model at all (characters for Chinese, words for English), the floor a trained
 * encoder should clear.
 *
 * @example
 * overlapBaseline(readTask(dataDir, STS_TASKS[0]).test, 'zh'); // ATEC's test set
 */
export function overlapBaseline(pairs: readonly SentencePair[], lang: StsTask['lang']): number {
  const jaccard = (p: SentencePair) => {
    const [a, b] = [overlapTokens(p.s1, lang), overlapTokens(p.s2, lang)];
    let shared = 0;
    for (const t of a) if (b.has(t)) shared++;
    const union = a.size + b.size - shared;
    return union === 0 ? 0 : shared / union;
  };
  return (
    100 *
    spearman(
      pairs.map(jaccard),
      pairs.map((p) => p.label),
    )
  );
}

export interface CompareOptions {
  encoderDir: string;
  train: readonly SentencePair[];
  dev: readonly SentencePair[];
  test: readonly SentencePair[];
  objectives: readonly ObjectiveName[];
  seeds: readonly number[];
  epochs: number;
  batchSize?: number;
  /** Learning rates tried per objective on the first seed; the best by dev Spearman runs the rest. */
  lrGrid: readonly number[];
  /**
   * While an objective's best rate is at an end of the grid, try the next rate beyond that end on the
   * 1–3–10 ladder (after 1e-3: 3e-3, then 1e-2), at most this many times (default 0: the grid as given).
   */
  lrExtend?: number;
  pooling?: Pooling;
  maxLen?: number;
  /**
   * Keeps each finished run (a full budget resumes; processes sharing the folder split the runs);
   * `key` is everything else that defines them (task, encoder, data sizes).
   */
  store?: { runs: RunStore; prefix: string; key: unknown };
  onRun?: (r: RunRecord) => void;
  onStep?: () => void;
  /** Called with a recorded run's step count when it is reused. */
  onReused?: (steps: number) => void;
  /** Called with the step count of a run added beyond the grid (`lrExtend`), before it runs. */
  onExtended?: (steps: number) => void;
}

/** Optimizer steps of one fine-tuning run: `epochs` passes over `pairs` in minibatches of `batchSize`. */
export function stepsPerRun(epochs: number, pairs: number, batchSize = 32): number {
  return epochs * Math.ceil(pairs / batchSize);
}

export interface RunRecord {
  objective: ObjectiveName;
  seed: number;
  lr: number;
  /** Dev and test Spearman ×100 after each epoch. */
  dev: number[];
  test: number[];
  seconds: number;
}

/** The epoch (0-based) with the best dev Spearman (the first on ties), and the test score there. */
export function bestDevEpoch(r: Pick<RunRecord, 'dev' | 'test'>): { epoch: number; test: number } {
  let epoch = 0;
  r.dev.forEach((d, i) => {
    if (d > r.dev[epoch]) epoch = i;
  });
  return { epoch, test: r.test[epoch] };
}

export interface ObjectiveSummary {
  objective: ObjectiveName;
  /** The learning rate chosen on dev, and each grid point's best dev Spearman (first seed). */
  lr: number;
  grid: { lr: number; dev: number }[];
  /** Mean and sample standard deviation over seeds of test Spearman at each run's best dev epoch. */
  mean: number;
  std: number;
  /** The same after the first epoch, and after the last. */
  firstEpochMean: number;
  firstEpochStd: number;
  lastEpochMean: number;
  runs: RunRecord[];
}

/** One fine-tuning run: a fresh copy of the encoder, dev and test Spearman after every epoch. */
async function fineTune(
  opts: CompareOptions,
  objective: ObjectiveName,
  seed: number,
  lr: number,
): Promise<RunRecord> {
  const t0 = performance.now();
  const model = loadSentenceModel(opts.encoderDir, { pooling: opts.pooling, maxLen: opts.maxLen });
  const dev: number[] = [];
  const test: number[] = [];
  try {
    await trainSentenceEncoder(model, opts.train, undefined, {
      objective,
      seed,
      epochs: opts.epochs,
      batchSize: opts.batchSize,
      lr,
      onStep: opts.onStep,
      onEpoch: () => {
        dev.push(evaluatePairs(model, opts.dev));
        test.push(evaluatePairs(model, opts.test));
      },
    });
  } finally {
    model.dispose();
  }
  return { objective, seed, lr, dev, test, seconds: (performance.now() - t0) / 1000 };
}

/** One fine-tuning run to make: a task's options and the (objective, seed, rate). */
interface Job {
  opts: CompareOptions;
  objective: ObjectiveName;
  seed: number;
  lr: number;
}

/**
 * Runs (or reuses from the store) every job, in order. With a store all jobs are one batch: a process
 * sharing the store computes whatever no one holds and only then waits for the runs others hold.
 */
async function runAll(jobs: Job[]): Promise<RunRecord[]> {
  const compute = async (j: Job) => {
    const r = await fineTune(j.opts, j.objective, j.seed, j.lr);
    j.opts.onRun?.(r);
    return r;
  };
  const store = jobs[0]?.opts.store?.runs;
  if (jobs.some((j) => j.opts.store?.runs !== store))
    throw new Error('compareObjectivesOnTasks: the tasks must share one RunStore, or none have one');
  if (!store) {
    const out: RunRecord[] = [];
    for (const j of jobs) out.push(await compute(j));
    return out;
  }
  return store.runAll(
    jobs.map((j) => {
      const o = j.opts;
      const { prefix, key } = o.store!;
      return {
        id: `${prefix}-${j.objective}-lr${j.lr}-seed${j.seed}`,
        key: {
          objective: j.objective,
          seed: j.seed,
          lr: j.lr,
          key,
          epochs: o.epochs,
          batchSize: o.batchSize,
          maxLen: o.maxLen,
          pooling: o.pooling,
        },
        compute: () => compute(j),
        onReused: (r: RunRecord) => {
          o.onReused?.(stepsPerRun(o.epochs, o.train.length, o.batchSize));
          o.onRun?.(r);
        },
      };
    }),
  );
}

/**
 * Per objective: the first seed at every learning rate of the grid, the best by dev Spearman (at its
 * best epoch) chosen, then the other seeds at that rate; each run scored at its best dev epoch.
 */
export async function compareObjectives(opts: CompareOptions): Promise<ObjectiveSummary[]> {
  return (await compareObjectivesOnTasks([opts]))[0];
}

/** The rate next to `lr` on the 1–3–10 ladder (…, 1e-4, 3e-4, 1e-3, 3e-3, …), above it or below it. */
export function ladderNeighbour(lr: number, up: boolean): number {
  if (!(lr > 0) || !Number.isFinite(lr)) throw new Error(`learning rate ${lr}: expected a positive number`);
  const e = Math.floor(Math.log10(lr));
  // toPrecision keeps the ladder's values exact decimals (3e-4, not 3.0000000000000003e-4): they name runs.
  const ladder = [e - 1, e, e + 1, e + 2].flatMap((k) =>
    [1, 3].map((m) => Number((m * 10 ** k).toPrecision(1))),
  );
  return up ? ladder.find((x) => x > lr * (1 + 1e-9))! : ladder.reverse().find((x) => x < lr * (1 - 1e-9))!;
}

/** Index of the best dev score in a grid (the first on ties). */
function bestByDev(grid: readonly { dev: number }[]): number {
  return grid.reduce((b, g, i) => (g.dev > grid[b].dev ? i : b), 0);
}

/**
 * The rate to try next for one objective, given its grid so far (rate and best dev Spearman, any order):
 * the ladder neighbour beyond an end that holds the best dev score (the smaller rate on ties), or
 * undefined when the best is inside the grid or the grid has a single rate.
 */
export function gridExtension(grid: readonly { lr: number; dev: number }[]): number | undefined {
  if (grid.length < 2) return undefined;
  const sorted = [...grid].sort((a, b) => a.lr - b.lr);
  const best = bestByDev(sorted);
  if (best === sorted.length - 1) return ladderNeighbour(sorted[best].lr, true);
  if (best === 0) return ladderNeighbour(sorted[0].lr, false);
  return undefined;
}

/**
 * `compareObjectives` for several tasks at once (one options object each). Every task's grid runs are
 * one batch (and each round of grid extensions another) and every task's seed runs another, so
 * processes sharing a store only wait for each other when nothing else is left to compute, not at the
 * end of each task.
 */
export async function compareObjectivesOnTasks(tasks: CompareOptions[]): Promise<ObjectiveSummary[][]> {
  for (const o of tasks)
    if (!o.lrGrid.length) throw new Error('compareObjectives needs at least one learning rate');
  // tried[t][k]: the first seed's runs of task t, objective k, at every rate tried so far.
  const tried = tasks.map((opts) => opts.objectives.map(() => [] as RunRecord[]));
  const devOf = (runs: RunRecord[]) => runs.map((r) => ({ lr: r.lr, dev: Math.max(...r.dev) }));
  let round = tasks.flatMap((opts, t) =>
    opts.objectives.flatMap((objective, k) =>
      opts.lrGrid.map((lr) => ({ job: { opts, objective, seed: opts.seeds[0], lr }, t, k })),
    ),
  );
  for (let extended = 0; round.length > 0; extended++) {
    const runs = await runAll(round.map((r) => r.job));
    round.forEach((r, i) => tried[r.t][r.k].push(runs[i]));
    round = tasks.flatMap((opts, t) => {
      if (extended >= (opts.lrExtend ?? 0)) return [];
      return opts.objectives.flatMap((objective, k) => {
        const lr = gridExtension(devOf(tried[t][k]));
        if (lr === undefined) return [];
        opts.onExtended?.(stepsPerRun(opts.epochs, opts.train.length, opts.batchSize));
        return [{ job: { opts, objective, seed: opts.seeds[0], lr }, t, k }];
      });
    });
  }
  const chosen = tasks.map((opts, t) =>
    opts.objectives.map((objective, k) => {
      const runs = [...tried[t][k]].sort((a, b) => a.lr - b.lr);
      const grid = devOf(runs);
      const best = bestByDev(grid);
      return { objective, grid, lr: grid[best].lr, firstRun: runs[best] };
    }),
  );
  const seedJobs = tasks.map((opts, t) =>
    chosen[t].flatMap(({ objective, lr }) =>
      opts.seeds.slice(1).map((seed) => ({ opts, objective, seed, lr })),
    ),
  );
  const seedRuns = split(await runAll(seedJobs.flat()), seedJobs);
  return tasks.map((opts, t) => {
    const rest = opts.seeds.length - 1;
    return chosen[t].map(({ objective, grid, lr, firstRun }, k) =>
      summary(objective, lr, grid, [firstRun, ...seedRuns[t].slice(k * rest, (k + 1) * rest)]),
    );
  });
}

/** `flat` cut back into the groups' lengths (the results of the grouped jobs it was made from). */
function split<T>(flat: T[], groups: unknown[][]): T[][] {
  let at = 0;
  return groups.map((g) => flat.slice(at, (at += g.length)));
}

/** An objective's summary from its runs at the chosen rate (the grid run of the first seed first). */
function summary(
  objective: ObjectiveName,
  lr: number,
  grid: { lr: number; dev: number }[],
  runs: RunRecord[],
): ObjectiveSummary {
  const atBest = meanStd(runs.map((r) => bestDevEpoch(r).test));
  const firstEpoch = meanStd(runs.map((r) => r.test[0]));
  return {
    objective,
    lr,
    grid,
    mean: atBest.mean,
    std: atBest.std,
    firstEpochMean: firstEpoch.mean,
    firstEpochStd: firstEpoch.std,
    lastEpochMean: meanStd(runs.map((r) => r.test[r.test.length - 1])).mean,
    runs,
  };
}
