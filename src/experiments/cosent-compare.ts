/**
 * The engine of the CoSENT reproduction: fine-tune the same pretrained encoder with each objective
 * and several seeds on one task, and record test Spearman after every epoch. No epoch is selected on
 * the test set: the headline is the last epoch's score (and the first epoch's, for the note's claim
 * that CoSENT converges faster), so LCQMC/PAWSX, whose "train" split here is their validation file,
 * follow the same protocol as the others.
 */
import path from 'node:path';
import { readSentencePairs, type SentencePair } from '../io/sts.js';
import { Rng } from '../util/rng.js';
import type { Pooling } from '../encoder/index.js';
import { loadSentenceModel } from '../io/sentence-files.js';
import { evaluatePairs, trainSentenceEncoder } from '../cosent/trainer.js';
import type { ObjectiveName } from '../cosent/objectives.js';
import { meanStd } from '../util/stats.js';

export interface StsTask {
  name: string;
  lang: 'zh' | 'en';
  /** Paths relative to the data folder (../shared/data). */
  train: string;
  test: string;
  /** Which split trains: LCQMC and PAWSX have no train file here, so their validation file does. */
  trainSplit: 'train' | 'valid';
}

/** The note's tasks available here (BQ is not). */
export const STS_TASKS: readonly StsTask[] = [
  {
    name: 'ATEC',
    lang: 'zh',
    train: 'sts/atec/atec_nlp_sim_train.csv',
    test: 'sts/atec/ATEC.test.data',
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
  },
  {
    name: 'STS-B',
    lang: 'zh',
    train: 'sts/sts-b/STS-B.train.data',
    test: 'sts/sts-b/STS-B.test.data',
    trainSplit: 'train',
  },
  {
    name: 'STS-B (en)',
    lang: 'en',
    train: 'sts/stsb-en/sts-train.tsv',
    test: 'sts/stsb-en/sts-test.tsv',
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

/** Reads a task's pairs; stray byte-order marks inside fields (ATEC's first line has one) are removed. */
export function readTask(dataDir: string, task: StsTask): { train: SentencePair[]; test: SentencePair[] } {
  const clean = (pairs: SentencePair[]) =>
    pairs.map((p) => ({ ...p, s1: p.s1.replace(/\uFEFF/g, ''), s2: p.s2.replace(/\uFEFF/g, '') }));
  return {
    train: clean(readSentencePairs(path.join(dataDir, task.train))),
    test: clean(readSentencePairs(path.join(dataDir, task.test))),
  };
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

export interface CompareOptions {
  encoderDir: string;
  train: readonly SentencePair[];
  test: readonly SentencePair[];
  objectives: readonly ObjectiveName[];
  seeds: readonly number[];
  epochs: number;
  batchSize?: number;
  lr?: number;
  pooling?: Pooling;
  maxLen?: number;
  onRun?: (r: RunRecord) => void;
  onStep?: () => void;
}

export interface RunRecord {
  objective: ObjectiveName;
  seed: number;
  /** Test Spearman ×100 after each epoch. */
  spearman: number[];
  seconds: number;
}

export interface ObjectiveSummary {
  objective: ObjectiveName;
  /** Mean and sample standard deviation over seeds of the last epoch's test Spearman. */
  mean: number;
  std: number;
  firstEpochMean: number;
  firstEpochStd: number;
  runs: RunRecord[];
}

/** Fine-tunes a fresh copy of the encoder per (objective, seed); returns per-objective summaries. */
export async function compareObjectives(opts: CompareOptions): Promise<ObjectiveSummary[]> {
  const out: ObjectiveSummary[] = [];
  for (const objective of opts.objectives) {
    const runs: RunRecord[] = [];
    for (const seed of opts.seeds) {
      const t0 = performance.now();
      const model = loadSentenceModel(opts.encoderDir, { pooling: opts.pooling, maxLen: opts.maxLen });
      const spearman: number[] = [];
      try {
        await trainSentenceEncoder(model, opts.train, undefined, {
          objective,
          seed,
          epochs: opts.epochs,
          batchSize: opts.batchSize,
          lr: opts.lr,
          onStep: opts.onStep,
          onEpoch: () => spearman.push(evaluatePairs(model, opts.test)),
        });
      } finally {
        model.dispose();
      }
      const run = { objective, seed, spearman, seconds: (performance.now() - t0) / 1000 };
      runs.push(run);
      opts.onRun?.(run);
    }
    const last = meanStd(runs.map((r) => r.spearman[r.spearman.length - 1]));
    const first = meanStd(runs.map((r) => r.spearman[0]));
    out.push({
      objective,
      mean: last.mean,
      std: last.std,
      firstEpochMean: first.mean,
      firstEpochStd: first.std,
      runs,
    });
  }
  return out;
}
