/**
 * How the objectives shape the cosines as they train: the mechanism behind the CoSENT comparison's
 * scores. CoSENT only asks that similar pairs' cosines rank above dissimilar ones (the note's argument
 * against regressing cosines to fixed targets); cosine-MSE pulls them to 1 and 0. On one binary task,
 * each variant (CoSENT at several scales λ, cosine-MSE) fine-tunes the same encoder while test
 * Spearman and the mean cosine of the similar and of the dissimilar test pairs are measured every
 * few steps, over seeds. The curves show which objective learns first, which keeps improving, where
 * each puts the cosines, and whether CoSENT's scale matters.
 */
import { loadSentenceModel } from '../io/sentence-files.js';
import { pairCosines, trainSentenceEncoder } from '../cosent/trainer.js';
import { spearman } from '../cosent/spearman.js';
import type { ObjectiveName } from '../cosent/objectives.js';
import type { SentencePair } from '../io/sts.js';
import type { Pooling } from '../encoder/index.js';
import { fmtMeanStd, meanStd } from '../util/stats.js';
import type { Chart, Table } from './types.js';
import type { RunStore } from './run-store.js';
import { stepsPerRun } from './cosent-compare.js';

/** One trained variant: an objective, CoSENT's scale λ where it applies, and its learning rate. */
export interface DynamicsVariant {
  objective: ObjectiveName;
  scale?: number;
  lr: number;
}

/** A measurement along training: test Spearman ×100 and the mean cosine per label class. */
export interface DynamicsPoint {
  step: number;
  spearman: number;
  cosSimilar: number;
  cosDissimilar: number;
}

export interface DynamicsRun {
  seed: number;
  points: DynamicsPoint[];
  seconds: number;
}

export interface DynamicsOptions {
  encoderDir: string;
  /** Binary pairs (label 0 or 1): the similar / dissimilar split needs two classes. */
  train: readonly SentencePair[];
  test: readonly SentencePair[];
  variants: readonly DynamicsVariant[];
  seeds: readonly number[];
  epochs: number;
  batchSize: number;
  maxLen: number;
  pooling?: Pooling;
  /** Measure every this many steps (and before the first). */
  every: number;
  store?: { runs: RunStore; prefix: string; key: unknown };
  onStep?: () => void;
  onReused?: (steps: number) => void;
}

/** A variant's name in tables and charts, e.g. "CoSENT λ=20". */
export function variantLabel(v: DynamicsVariant): string {
  if (v.objective === 'cosent') return `CoSENT λ=${v.scale ?? 20}`;
  return v.objective === 'cosine-mse' ? 'cosine-MSE' : 'Sentence-BERT (softmax)';
}

/** Test Spearman ×100 and the mean cosine of the label-1 and the label-0 pairs. */
export function measureCosines(cos: Float32Array, labels: readonly number[], step: number): DynamicsPoint {
  let sim = 0;
  let nSim = 0;
  let dis = 0;
  for (let i = 0; i < cos.length; i++) {
    if (labels[i] === 1) {
      sim += cos[i];
      nSim++;
    } else dis += cos[i];
  }
  const nDis = cos.length - nSim;
  if (nSim === 0 || nDis === 0) throw new Error('measureCosines needs both similar and dissimilar pairs');
  return { step, spearman: 100 * spearman(cos, labels), cosSimilar: sim / nSim, cosDissimilar: dis / nDis };
}

async function trainVariant(opts: DynamicsOptions, v: DynamicsVariant, seed: number): Promise<DynamicsRun> {
  const t0 = performance.now();
  const labels = opts.test.map((p) => p.label);
  const model = loadSentenceModel(opts.encoderDir, { maxLen: opts.maxLen, pooling: opts.pooling });
  const probe = (step: number) => measureCosines(pairCosines(model, opts.test), labels, step);
  try {
    const points = [probe(0)];
    await trainSentenceEncoder(model, opts.train, undefined, {
      objective: v.objective,
      scale: v.scale,
      lr: v.lr,
      seed,
      epochs: opts.epochs,
      batchSize: opts.batchSize,
      onStep: (s) => {
        opts.onStep?.();
        if (s.step % opts.every === 0 || s.step === s.steps) points.push(probe(s.step));
      },
    });
    return { seed, points, seconds: (performance.now() - t0) / 1000 };
  } finally {
    model.dispose();
  }
}

/** Every variant × seed's measurements along training (reused from the store when recorded). */
export async function objectiveDynamics(opts: DynamicsOptions): Promise<DynamicsRun[][]> {
  const binary = (pairs: readonly SentencePair[]) => pairs.every((p) => p.label === 0 || p.label === 1);
  if (!binary(opts.train) || !binary(opts.test))
    throw new Error('objectiveDynamics needs binary labels (0 or 1)');
  if (!(Number.isInteger(opts.every) && opts.every >= 1))
    throw new Error(`objectiveDynamics: every must be a positive integer (got ${opts.every})`);
  const steps = stepsPerRun(opts.epochs, opts.train.length, opts.batchSize);
  const jobs = opts.variants.flatMap((v) => opts.seeds.map((seed) => ({ v, seed })));
  let runs: DynamicsRun[];
  if (!opts.store) {
    runs = [];
    for (const j of jobs) runs.push(await trainVariant(opts, j.v, j.seed));
  } else {
    const { runs: store, prefix, key } = opts.store;
    runs = await store.runAll(
      jobs.map(({ v, seed }) => ({
        id: `${prefix}-${v.objective}${v.objective === 'cosent' ? `-scale${v.scale ?? 20}` : ''}-lr${v.lr}-seed${seed}`,
        key: {
          ...v,
          seed,
          key,
          epochs: opts.epochs,
          batchSize: opts.batchSize,
          maxLen: opts.maxLen,
          pooling: opts.pooling,
          every: opts.every,
        },
        compute: () => trainVariant(opts, v, seed),
        onReused: () => opts.onReused?.(steps),
      })),
    );
  }
  return opts.variants.map((_, k) => runs.slice(k * opts.seeds.length, (k + 1) * opts.seeds.length));
}

/** Mean over seeds of a measurement at each step (the runs share their steps). */
export function meanCurve(
  runs: readonly DynamicsRun[],
  field: Exclude<keyof DynamicsPoint, 'step'>,
): { step: number; mean: number; std: number }[] {
  return runs[0].points.map((p, i) => ({ step: p.step, ...meanStd(runs.map((r) => r.points[i][field])) }));
}

/** The study's table, charts and one-paragraph reading, from each variant's runs. */
export function dynamicsReport(
  variants: readonly DynamicsVariant[],
  runs: readonly DynamicsRun[][],
  setting: string,
): { table: Table; charts: Chart[]; text: string } {
  const curves = runs.map((r) => meanCurve(r, 'spearman'));
  const at = (k: number, i: number) => runs[k].map((r) => r.points[i].spearman);
  // Cosines to 3 decimals: CoSENT can squeeze them all into a narrow band near 1.
  const lastCos = (k: number, field: 'cosSimilar' | 'cosDissimilar') =>
    runs[k].map((r) => r.points[r.points.length - 1][field]);
  const last = (k: number, field: 'cosSimilar' | 'cosDissimilar') => fmtMeanStd(lastCos(k, field), 3);
  const lastMean = (k: number, field: 'cosSimilar' | 'cosDissimilar') =>
    meanStd(lastCos(k, field)).mean.toFixed(3);
  const table: Table = {
    title: `How each objective moves the cosines as it trains (${setting}; mean ± std over seeds)`,
    columns: [
      'variant',
      'lr',
      `Spearman at step ${curves[0][1].step}`,
      'Spearman at the end',
      'best step (mean curve)',
      'mean cos, similar pairs (end)',
      'mean cos, dissimilar pairs (end)',
      'CoSENT’s λ × (similar − dissimilar)',
    ],
    rows: variants.map((v, k) => {
      const best = curves[k].reduce((b, p) => (p.mean > b.mean ? p : b));
      // The gap as CoSENT's loss sees it (its exponents are λ × cosine differences).
      const margin = runs[k].map((r) => {
        const end = r.points[r.points.length - 1];
        return (v.scale ?? 20) * (end.cosSimilar - end.cosDissimilar);
      });
      return [
        variantLabel(v),
        v.lr,
        fmtMeanStd(at(k, 1)),
        fmtMeanStd(at(k, curves[k].length - 1)),
        best.step,
        last(k, 'cosSimilar'),
        last(k, 'cosDissimilar'),
        v.objective === 'cosent' ? fmtMeanStd(margin, 3) : null,
      ];
    }),
    note: `Before training: Spearman ${curves[0][0].mean.toFixed(1)}, mean cos ${runs[0][0].points[0].cosSimilar.toFixed(3)} (similar) and ${runs[0][0].points[0].cosDissimilar.toFixed(3)} (dissimilar).`,
  };
  const line = (title: string, yLabel: string, series: Chart['series']): Chart => ({
    title,
    kind: 'line',
    xLabel: 'training step',
    yLabel,
    series,
  });
  const steps = curves[0].map((p) => p.step);
  const charts = [
    line(
      `Test Spearman along training (${setting})`,
      'Spearman ×100',
      variants.map((v, k) => ({
        name: variantLabel(v),
        x: steps,
        y: curves[k].map((p) => p.mean),
        err: curves[k].map((p) => p.std),
      })),
    ),
    line(
      `Mean cosine of the similar and of the dissimilar test pairs along training (${setting})`,
      'mean cos',
      variants.flatMap((v, k) => [
        {
          name: `${variantLabel(v)}: similar`,
          x: steps,
          y: meanCurve(runs[k], 'cosSimilar').map((p) => p.mean),
        },
        {
          name: `${variantLabel(v)}: dissimilar`,
          x: steps,
          y: meanCurve(runs[k], 'cosDissimilar').map((p) => p.mean),
        },
      ]),
    ),
  ];
  const phrase = (k: number) =>
    `${variantLabel(variants[k])} ${curves[k][1].mean.toFixed(1)} → ${curves[k][curves[k].length - 1].mean.toFixed(1)}`;
  const text =
    `Dynamics (${setting}): test Spearman after the first ${curves[0][1].step} steps → at the end: ` +
    `${variants.map((_, k) => phrase(k)).join('; ')}. ` +
    `Mean cos of similar / dissimilar pairs at the end: ${variants
      .map((v, k) => `${variantLabel(v)} ${lastMean(k, 'cosSimilar')} / ${lastMean(k, 'cosDissimilar')}`)
      .join('; ')}.`;
  return { table, charts, text };
}
