/**
 * Reproduction of the ChildTuning note (https://kexue.fm/archives/8764; Xu et al., EMNLP 2021):
 * fine-tune kexue's pretrained Chinese encoder on CLUE TNEWS and IFLYTEK with vanilla AdamW,
 * ChildTuning-F and -D, update dropout (the note's variant) and vanilla with the learning rate × √p
 * (the note's claimed equivalent of F under Adam), over seeds, in few-shot and larger-data regimes.
 * Reports test accuracy mean ± std beside the note's table, and the measured mean |Δθ| ratio of each
 * method to vanilla against √p. Test and dev probabilities are kept in the work folder (.npy) for CAN.
 *
 * The encoder is the zh recipe's (src/experiments/pretraining.ts), in the same folder the CoSENT
 * experiment trains it into (runs/cosent/encoder-zh-<budget>), so `kexue lab` pretrains it once.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Progress } from '../cli/progress.js';
import {
  cellBracket,
  quickSummary,
  type Budget,
  type Chart,
  type ClaimSummary,
  type Experiment,
  type ExperimentContext,
  type ExperimentResult,
  type Table,
} from './types.js';
import { readClueDataset, type ClueDataset } from '../io/clue.js';
import { writeNpy } from '../io/npy.js';
import { loadEncoder } from '../io/encoder-files.js';
import {
  TextClassifier,
  fewShot,
  finetuneClassifier,
  seededSubset,
  top1Accuracy,
  type ChildTuningSetting,
  type LabelledText,
} from '../childtuning/index.js';
import { accuracyWithBaselines, pretrainedEncoder, recipeSpec } from './pretraining.js';
import { fmtMeanStd, meanStd } from '../util/stats.js';
import { RunStore, type RunUnit } from './run-store.js';
import { InputError } from '../io/errors.js';
import { fileSha256 } from '../io/text.js';

export type TaskKey = 'tnews' | 'iflytek';

/** One training regime: a task and how much of its training set, with its own seeds and epochs. */
export interface Regime {
  task: TaskKey;
  /** Few-shot: this many training (and dev) examples per class, drawn per seed. */
  shots?: number;
  /** Otherwise: at most this many training examples (seeded subsample; undefined = all). */
  maxTrain?: number;
  seeds: number;
  epochs: number;
  batchSize: number;
  /** At most this many dev / test examples (fixed seeded subsample; undefined = all). */
  maxDev?: number;
  maxTest?: number;
  /** More keep probabilities for ChildTuning-F and -D only (the paper's methods) in this regime. */
  extraPs?: number[];
}

export interface BudgetSettings {
  regimes: Regime[];
  /** Keep probabilities of the ChildTuning runs. */
  ps: number[];
  /** Peak learning rate of vanilla (and the ChildTuning runs). */
  lr: number;
  maxLen: number;
}

// lr 1e-3 was chosen on TNEWS 16-shot dev accuracy (seed 0, among 1e-4, 3e-4 and 1e-3) with the quick
// encoder: our encoder is far smaller than BERT-base, whose 2e-5 barely moves it in a few-shot run.
// The quick budget is sized to ≤ 3 min on 2 shared cores; the full one to about an hour (see README).
const BUDGETS: Record<Budget, BudgetSettings> = {
  quick: {
    regimes: [{ task: 'tnews', shots: 16, seeds: 2, epochs: 2, batchSize: 16, maxTest: 300 }],
    ps: [0.3],
    lr: 1e-3,
    maxLen: 48,
  },
  // 108 min for the TNEWS regimes and IFLYTEK's whole training set on 2 unloaded cores (two processes
  // sharing the work folder, one thread each; 2026-12-02), plus the IFLYTEK few-shot regimes run after.
  // The whole training sets first (≥ 3 seeds, the note's setting), then the few-shot regimes where the
  // paper's claims are strongest (10 seeds), with the keep-probability sweep at 16 TNEWS shots.
  full: {
    regimes: [
      { task: 'tnews', seeds: 3, epochs: 1, batchSize: 32 },
      { task: 'iflytek', seeds: 3, epochs: 3, batchSize: 32 },
      { task: 'tnews', shots: 16, seeds: 10, epochs: 3, batchSize: 16, maxTest: 1000, extraPs: [0.1, 0.5] },
      { task: 'tnews', shots: 64, seeds: 10, epochs: 1, batchSize: 16, maxTest: 1000 },
      { task: 'iflytek', shots: 16, seeds: 10, epochs: 3, batchSize: 16, maxTest: 1000 },
      { task: 'iflytek', shots: 64, seeds: 10, epochs: 1, batchSize: 16, maxTest: 1000 },
    ],
    ps: [0.3],
    lr: 1e-3,
    maxLen: 64,
  },
};

const TASKS: Record<TaskKey, { name: string }> = { tnews: { name: 'TNEWS' }, iflytek: { name: 'IFLYTEK' } };

/** The note's table (test accuracy %, vanilla → with gradient dropout). */
const NOTE: { model: string; iflytek: [number, number]; tnews: [number, number] }[] = [
  { model: 'BERT', iflytek: [60.06, 60.56], tnews: [56.8, 56.97] },
  { model: 'RoBERTa', iflytek: [60.64, 60.72], tnews: [58.06, 57.91] },
];

export interface MethodSpec {
  key: string;
  label: string;
  lrScale: number;
  childTuning?: ChildTuningSetting;
}

export function methodsFor(ps: number[]): MethodSpec[] {
  return [
    { key: 'vanilla', label: 'vanilla', lrScale: 1 },
    ...ps.flatMap((p): MethodSpec[] => [
      { key: `F-${p}`, label: `ChildTuning-F (p=${p})`, lrScale: 1, childTuning: { mode: 'F', p } },
      { key: `D-${p}`, label: `ChildTuning-D (p=${p})`, lrScale: 1, childTuning: { mode: 'D', p } },
      {
        key: `update-${p}`,
        label: `update dropout (p=${p})`,
        lrScale: 1,
        childTuning: { mode: 'update', p },
      },
      { key: `lr-sqrt-${p}`, label: `vanilla, lr×√${p}`, lrScale: Math.sqrt(p) },
    ]),
  ];
}

/** ChildTuning-F and -D at each of `ps` (the keep-probability sweep). */
export function sweepMethods(ps: number[]): MethodSpec[] {
  return methodsFor(ps).filter((m) => /^[FD]-/.test(m.key));
}

/** The methods a regime runs: every method at the budget's ps, then F and D at its extra ps. */
export function regimeMethods(r: Regime, ps: number[]): MethodSpec[] {
  return [...methodsFor(ps), ...sweepMethods((r.extraPs ?? []).filter((p) => !ps.includes(p)))];
}

export function regimeName(r: Regime): string {
  const what = r.shots ? `${r.shots}-shot` : r.maxTrain ? `${r.maxTrain} train` : 'full train';
  return `${TASKS[r.task].name} ${what}`;
}

const regimeKey = (r: Regime) => `${r.task}-${r.shots ? `${r.shots}shot` : `train${r.maxTrain ?? 'all'}`}`;

interface RunRecord {
  seed: number;
  testAccuracy: number;
  devAccuracy: number;
  meanUpdate: number;
  keptFraction?: number;
  bestEpoch: number;
  seconds: number;
}

interface RegimeOutcome {
  regime: Regime;
  trainSize: number[];
  devSize: number;
  testSize: number;
  byMethod: Map<string, RunRecord[]>;
}

export interface ChildTuningExperimentOptions {
  /** A pretrained encoder directory to use instead of the recipe's (tests use a tiny one). */
  encoderDir?: string;
  /** What to say about `encoderDir` in the results (default: its path). */
  encoderNote?: string;
  settings?: Partial<BudgetSettings>;
}

interface Split {
  train: LabelledText[];
  dev: LabelledText[];
}

/** The seed's training and dev sets: stratified few-shot draws, or a seeded subsample with the fixed dev. */
function splitFor(r: Regime, ds: ClueDataset, seed: number, dev: LabelledText[]): Split {
  if (r.shots) return { train: fewShot(ds.train, r.shots, seed), dev: fewShot(ds.dev, r.shots, seed + 1000) };
  return { train: seededSubset(ds.train, r.maxTrain, seed), dev };
}

/**
 * The zh recipe's encoder for this budget, pretrained on first use into the folder the CoSENT, CAN and
 * ChildTuning experiments share; `note` describes it for a result's text.
 */
export async function recipeEncoder(ctx: ExperimentContext): Promise<{ dir: string; note: string }> {
  const spec = recipeSpec('zh', ctx.dataDir, ctx.budget === 'quick');
  const progress = new Progress({ label: 'pretrain zh', total: spec.steps, silent: ctx.quiet });
  let ticked = false;
  // The CoSENT experiment's folder for the same spec: whichever experiment runs first trains it.
  const out = path.join(ctx.workDir, '..', 'cosent', `encoder-zh-${ctx.budget}`);
  const { modelDir, history, baselines } = await pretrainedEncoder(spec, out, (s) => {
    progress.tick(ticked ? 1 : s.step, `loss ${s.loss.toFixed(3)}`);
    ticked = true;
  });
  const last = history[history.length - 1];
  return {
    dir: modelDir,
    note:
      `Encoder: recipe 'zh'${ctx.budget === 'quick' ? ' shortened to the quick budget' : ''} (${path.relative(ctx.workDir, out)}) — ` +
      `${spec.layers} blocks, hidden ${spec.hidden}, ${spec.steps} MLM steps; ${accuracyWithBaselines(history, baselines)} after ${last.seconds.toFixed(0)} s of pretraining.`,
  };
}

function saveProbs(dir: string, name: string, probs: Float32Array, classes: number): void {
  writeNpy(path.join(dir, name), probs, [probs.length / classes, classes]);
}

/** Fine-tunes one (method, seed), saves its dev/test probabilities and returns what it measured. */
async function runOne(
  r: Regime,
  s: BudgetSettings,
  m: MethodSpec,
  seed: number,
  encoderDir: string,
  classes: number,
  split: Split,
  test: LabelledText[],
  outDir: string,
  progress: Progress,
): Promise<RunRecord> {
  const t0 = performance.now();
  const { model: encoder, tokenizer } = loadEncoder(encoderDir);
  const model = new TextClassifier(encoder, tokenizer!, { classes, maxLen: s.maxLen, seed });
  try {
    const res = await finetuneClassifier(model, split.train, split.dev, {
      epochs: r.epochs,
      batchSize: r.batchSize,
      lr: s.lr * m.lrScale,
      seed,
      childTuning: m.childTuning,
      trackUpdates: true,
      onStep: (st) => progress.tick(1, `${regimeKey(r)} ${m.key} seed ${seed} loss ${st.loss.toFixed(3)}`),
    });
    const devProbs = model.predictProba(split.dev.map((e) => e.text));
    const testProbs = model.predictProba(test.map((e) => e.text));
    saveProbs(outDir, `${m.key}-seed${seed}-dev.npy`, devProbs, classes);
    saveProbs(outDir, `${m.key}-seed${seed}-test.npy`, testProbs, classes);
    return {
      seed,
      testAccuracy: top1Accuracy(
        testProbs,
        test.map((e) => e.label),
        classes,
      ),
      devAccuracy: res.bestDevAccuracy,
      meanUpdate: res.meanUpdate!,
      keptFraction: res.keptFraction,
      bestEpoch: res.bestEpoch,
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    model.dispose();
  }
}

async function runRegime(
  r: Regime,
  ctx: ExperimentContext,
  s: BudgetSettings,
  encoderDir: string,
  seeds: number[],
  progress: Progress,
): Promise<RegimeOutcome> {
  const ds = await readClueDataset(path.join(ctx.dataDir, 'clue', r.task));
  const test = seededSubset(ds.test, r.maxTest, 2);
  const fixedDev = seededSubset(ds.dev, r.maxDev, 3);
  const outDir = path.join(ctx.workDir, `probs-${ctx.budget}`, regimeKey(r));
  fs.mkdirSync(outDir, { recursive: true });
  writeNpy(
    path.join(outDir, 'test-labels.npy'),
    Int32Array.from(test, (e) => e.label),
    [test.length],
  );
  const methods = regimeMethods(r, s.ps);
  const byMethod = new Map<string, RunRecord[]>();
  const trainSize: number[] = [];
  let devSize = 0;
  // Each finished run is recorded beside its probabilities with everything that defines it, so an
  // interrupted experiment resumes where it stopped (a changed setting reruns the run), and processes
  // sharing the work folder split the runs.
  const store = new RunStore(outDir);
  // The weights' digest, not only the folder's name: a retrained encoder in the same place reruns.
  const fingerprint = fileSha256(path.join(encoderDir, 'weights.bin'));
  const units: RunUnit<RunRecord>[] = [];
  for (const seed of seeds) {
    const split = splitFor(r, ds, seed, fixedDev);
    trainSize.push(split.train.length);
    devSize = split.dev.length;
    writeNpy(
      path.join(outDir, `seed${seed}-dev-labels.npy`),
      Int32Array.from(split.dev, (e) => e.label),
      [split.dev.length],
    );
    const steps = r.epochs * Math.ceil(split.train.length / r.batchSize);
    for (const m of methods) {
      units.push({
        id: `${m.key}-seed${seed}`,
        key: {
          // Seeds and the sweep's extra ps only add runs: a run already recorded is the same run.
          regime: { ...r, seeds: undefined, extraPs: undefined },
          lr: s.lr * m.lrScale,
          maxLen: s.maxLen,
          method: m,
          encoderDir,
          encoderWeights: fingerprint,
          seed,
        },
        compute: () => runOne(r, s, m, seed, encoderDir, ds.labels.length, split, test, outDir, progress),
        onReused: () => progress.skip(steps),
      });
    }
  }
  const records = await store.runAll(units);
  methods.forEach((m, i) =>
    byMethod.set(
      m.key,
      seeds.map((_, j) => records[j * methods.length + i]),
    ),
  );
  return { regime: r, trainSize, devSize, testSize: test.length, byMethod };
}

/** Paired (same seed) differences of a method's test accuracy from vanilla's. */
function deltas(o: RegimeOutcome, key: string): number[] {
  const base = o.byMethod.get('vanilla')!;
  return o.byMethod.get(key)!.map((r, i) => r.testAccuracy - base[i].testAccuracy);
}

/** Mean over seeds of the per-seed ratio of a method's mean |Δθ| to vanilla's. */
function updateRatio(o: RegimeOutcome, key: string): number {
  const base = o.byMethod.get('vanilla')!;
  return meanStd(o.byMethod.get(key)!.map((r, i) => r.meanUpdate / base[i].meanUpdate)).mean;
}

const signed = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(2)}`;

function accuracyTable(outcomes: RegimeOutcome[], methods: MethodSpec[]): Table {
  return {
    title:
      'Test accuracy % (mean ± std over seeds) and, in brackets, the mean paired difference from vanilla',
    columns: [
      'method',
      ...outcomes.map((o) => `${regimeName(o.regime)} (${o.byMethod.get('vanilla')!.length} seeds)`),
    ],
    rows: methods.map((m) => [
      m.label,
      ...outcomes.map((o) => {
        if (!o.byMethod.has(m.key)) return '—';
        const acc = fmtMeanStd(o.byMethod.get(m.key)!.map((r) => r.testAccuracy));
        return m.key === 'vanilla' ? acc : `${acc} (${signed(meanStd(deltas(o, m.key)).mean)})`;
      }),
    ]),
    note: outcomes
      .map(
        (o) =>
          `${regimeName(o.regime)}: train ${o.trainSize[0]}${o.trainSize.some((n) => n !== o.trainSize[0]) ? '…' : ''} examples, dev ${o.devSize}, test ${o.testSize}, ${o.regime.epochs} epochs of batch ${o.regime.batchSize}.`,
      )
      .join(' '),
  };
}

function noteTable(outcomes: RegimeOutcome[], p: number): Table {
  const ours = outcomes.map((o): (string | number | null)[] => {
    const v = meanStd(o.byMethod.get('vanilla')!.map((r) => r.testAccuracy)).mean;
    const f = meanStd(o.byMethod.get(`F-${p}`)!.map((r) => r.testAccuracy)).mean;
    const cell = `${v.toFixed(2)} → ${f.toFixed(2)}`;
    return [
      `kexue zh encoder, ${regimeName(o.regime)}`,
      o.regime.task === 'iflytek' ? cell : null,
      o.regime.task === 'tnews' ? cell : null,
    ];
  });
  return {
    title: `Vanilla → ChildTuning-F (p=${p}) test accuracy %: the note’s table and ours`,
    columns: ['model', 'IFLYTEK', 'TNEWS'],
    rows: [
      ...NOTE.map((n) => [
        `note: ${n.model} (full train set)`,
        `${n.iflytek[0]} → ${n.iflytek[1]}`,
        `${n.tnews[0]} → ${n.tnews[1]}`,
      ]),
      ...ours,
    ],
  };
}

function sqrtPTable(outcomes: RegimeOutcome[], ps: number[]): Table {
  const ratio = (o: RegimeOutcome, key: string) =>
    o.byMethod.has(key) ? Number(updateRatio(o, key).toFixed(3)) : null;
  return {
    title: 'Mean |Δθ| per step relative to vanilla (mean over seeds of the per-seed ratio), against √p',
    columns: [
      'regime',
      'p',
      '√p',
      'ChildTuning-F',
      'update dropout',
      'vanilla lr×√p',
      'ChildTuning-D',
      'D: share of weights trainable',
    ],
    rows: outcomes.flatMap((o) =>
      [...ps, ...(o.regime.extraPs ?? []).filter((p) => !ps.includes(p))].map((p) => [
        regimeName(o.regime),
        p,
        Number(Math.sqrt(p).toFixed(3)),
        ratio(o, `F-${p}`),
        ratio(o, `update-${p}`),
        ratio(o, `lr-sqrt-${p}`),
        ratio(o, `D-${p}`),
        Number(meanStd(o.byMethod.get(`D-${p}`)!.map((r) => r.keptFraction ?? NaN)).mean.toFixed(3)),
      ]),
    ),
    note: 'Mean |Δθ| is averaged over every fine-tuned weight (encoder blocks, embeddings, head) and every step, including the warmup and decay of the learning rate.',
  };
}

function deltaChart(outcomes: RegimeOutcome[], methods: MethodSpec[]): Chart {
  const others = methods.filter((m) => m.key !== 'vanilla');
  return {
    title: 'Test accuracy minus vanilla (paired by seed; bars: mean, whiskers: std over seeds)',
    kind: 'bar',
    xLabel: 'method',
    yLabel: 'Δ accuracy (points)',
    categories: others.map((m) => m.label),
    series: outcomes.map((o) => ({
      name: regimeName(o.regime),
      x: others.map((_, i) => i),
      y: others.map((m) => (o.byMethod.has(m.key) ? meanStd(deltas(o, m.key)).mean : NaN)),
      err: others.map((m) => (o.byMethod.has(m.key) ? meanStd(deltas(o, m.key)).std : NaN)),
    })),
  };
}

function verdict(outcomes: RegimeOutcome[], p: number): string {
  const parts = outcomes.map((o) => {
    const f = meanStd(deltas(o, `F-${p}`));
    const d = meanStd(deltas(o, `D-${p}`));
    const lr = meanStd(deltas(o, `lr-sqrt-${p}`));
    return `${regimeName(o.regime)}: F ${signed(f.mean)} ± ${f.std.toFixed(2)}, D ${signed(d.mean)} ± ${d.std.toFixed(2)}, lr×√p ${signed(lr.mean)} ± ${lr.std.toFixed(2)}`;
  });
  const ratios = outcomes.map((o) => updateRatio(o, `F-${p}`));
  const lo = Math.min(...ratios).toFixed(2);
  const hi = Math.max(...ratios).toFixed(2);
  const close = ratios.every((r) => Math.abs(r / Math.sqrt(p) - 1) < 0.1);
  const nSeeds = Math.min(...outcomes.map((o) => o.byMethod.get('vanilla')!.length));
  const sweeps = outcomes
    .filter((o) => o.regime.extraPs?.length)
    .map((o) => {
      const all = [...new Set([p, ...o.regime.extraPs!])].sort((a, b) => a - b);
      const cell = (key: string) => signed(meanStd(deltas(o, key)).mean);
      return `${regimeName(o.regime)}, p = ${all.join(' / ')}: F ${all.map((q) => cell(`F-${q}`)).join(' / ')}, D ${all.map((q) => cell(`D-${q}`)).join(' / ')}`;
    });
  return (
    `Test accuracy change from vanilla (points, mean ± std of paired differences over ≥ ${nSeeds} seeds): ${parts.join('; ')}. ` +
    (sweeps.length ? `Keep-probability sweep (mean change from vanilla): ${sweeps.join('; ')}. ` : '') +
    `Under AdamW, ChildTuning-F's mean |Δθ| per step is ${lo === hi ? lo : `${lo}–${hi}`}× vanilla's against √p = ${Math.sqrt(p).toFixed(2)}: ` +
    (close
      ? 'the note’s lr×√p analysis holds within 10%.'
      : 'not within 10% of the √p the note’s analysis predicts.')
  );
}

/**
 * The verdict row: ChildTuning-F's change from vanilla in each regime (the accuracy table's bracketed
 * paired differences) against the note's gains with BERT on the full training sets.
 */
export function summarizeChildTuning(r: ExperimentResult): ClaimSummary | undefined {
  const acc = r.tables[0];
  const f = acc?.rows.find((row) => String(row[0]).startsWith('ChildTuning-F'));
  const lr = acc?.rows.find((row) => String(row[0]).startsWith('vanilla, lr×√'));
  if (!acc || !f) return undefined;
  const regimes = acc.columns.slice(1).map((c) => c.replace(/ \(\d+ seeds\)$/, ''));
  const deltas = f.slice(1).map(cellBracket);
  const note = 'gradient dropout (F): IFLYTEK +0.50, TNEWS +0.17 points (BERT, full train sets)';
  const ours = `F: ${regimes.map((g, i) => `${g} ${signed(deltas[i])}`).join(', ')}`;
  if (r.budget === 'quick') return quickSummary(note, ours);
  const lrDeltas = lr ? lr.slice(1).map(cellBracket) : [];
  const like = lrDeltas.length ? `; vanilla with lr×√p: ${lrDeltas.map(signed).join(', ')}` : '';
  const gains = deltas.filter((d) => d > 0).length;
  if (gains === deltas.length)
    return { note, ours, status: 'reproduces', reason: `F is ahead of vanilla in every regime${like}` };
  if (gains > 0)
    return {
      note,
      ours,
      status: 'partly',
      reason: `F is ahead in ${gains} of ${deltas.length} regimes${like}`,
    };
  return { note, ours, status: 'does not reproduce', reason: `F is behind vanilla in every regime${like}` };
}

export function childtuningExperiment(opts: ChildTuningExperimentOptions = {}): Experiment {
  return {
    name: 'childtuning',
    summarize: summarizeChildTuning,
    title: 'ChildTuning: gradient dropout for fine-tuning, and its lr×√p equivalent under Adam',
    async run(ctx: ExperimentContext) {
      const s: BudgetSettings = { ...BUDGETS[ctx.budget], ...opts.settings };
      if (s.regimes.some((r) => r.seeds > ctx.seeds.length))
        throw new InputError(
          `the ${ctx.budget} budget needs ${Math.max(...s.regimes.map((r) => r.seeds))} seeds; --seeds gives ${ctx.seeds.length}`,
        );
      const encoder = opts.encoderDir
        ? { dir: opts.encoderDir, note: opts.encoderNote ?? `Encoder: ${opts.encoderDir}.` }
        : await recipeEncoder(ctx);
      const methods = [
        ...methodsFor(s.ps),
        ...sweepMethods(
          [...new Set(s.regimes.flatMap((r) => r.extraPs ?? []))].filter((p) => !s.ps.includes(p)),
        ),
      ];
      const outcomes: RegimeOutcome[] = [];
      const t0 = performance.now();
      for (const r of s.regimes) {
        const ds = await readClueDataset(path.join(ctx.dataDir, 'clue', r.task));
        const seeds = ctx.seeds.slice(0, r.seeds);
        const trainN = seeds.map((seed) => splitFor(r, ds, seed, []).train.length);
        const steps =
          trainN.reduce((a, n) => a + r.epochs * Math.ceil(n / r.batchSize), 0) *
          regimeMethods(r, s.ps).length;
        const progress = new Progress({
          label: `childtuning ${regimeKey(r)}`,
          total: steps,
          silent: ctx.quiet,
        });
        outcomes.push(await runRegime(r, ctx, s, encoder.dir, seeds, progress));
      }
      const minutes = (performance.now() - t0) / 60000;
      const p = s.ps[0];
      return {
        title: 'ChildTuning: gradient dropout for fine-tuning, and its lr×√p equivalent under Adam',
        claim:
          'ChildTuning-F (drop gradient elements with keep probability p, rescale by 1/p) and -D (update only the top-p Fisher-information weights) improve fine-tuning, most in low-resource settings (Xu et al. 2021); the note finds gradient dropout worth about +0.5 points on IFLYTEK and +0.2 on TNEWS with BERT, and argues that under Adam it acts like multiplying the learning rate by √p.',
        source: 'https://kexue.fm/archives/8764',
        verdict: verdict(outcomes, p),
        settings: {
          lr: s.lr,
          maxLen: s.maxLen,
          ps: s.ps.join(', '),
          regimes: s.regimes
            .map((r) => `${regimeName(r)}: ${r.seeds} seeds, ${r.epochs} epochs, batch ${r.batchSize}`)
            .join('; '),
          optimizer:
            'AdamW (β 0.9/0.999, ε 1e-6, weight decay 0.01 on matrices, global clip 1), warmup 10% then linear decay',
          fineTuningMinutes: Number(minutes.toFixed(1)),
        },
        text: [
          'Each (regime, seed) fine-tunes a fresh copy of the same pretrained encoder plus a new softmax head on the [CLS] vector, once per method; the seed picks the few-shot examples (stratified, N per class; dev likewise), the head initialisation, the data order, dropout and the masks. The epoch with the best dev accuracy is kept and evaluated once on test.',
          'ChildTuning-D computes the Fisher information over one pass of the training set (per-tensor clipped gradients, as the reference) and masks the encoder blocks only; embeddings and head always update, as in the reference. F and update dropout mask every weight and divide by p; D does not divide (reference default).',
          'Our encoder is a small character-level model pretrained for under an hour on 2 CPU cores on TNEWS/IFLYTEK text, far weaker than BERT, so absolute accuracies are not comparable with the note’s; the differences between methods on the same encoder are.',
          encoder.note,
          `Test and dev probabilities of every run are saved as .npy under ${path.join(ctx.workDir, `probs-${ctx.budget}`)} (with the labels) for CAN.`,
        ],
        math: [
          '\\text{F: } \\tilde g = g \\otimes M / p,\\; M_i \\sim \\text{Bernoulli}(p) \\qquad \\text{D: } \\tilde g = g \\otimes M_F,\\; M_F = \\mathbb{1}[F_i \\ge F_{(1-p)}],\\; F_i = \\tfrac{1}{N}\\textstyle\\sum_b \\big(\\partial_i \\mathcal L_b\\big)^2',
          '\\text{Adam: } \\frac{\\mathbb E[\\tilde g]}{\\sqrt{\\mathbb E[\\tilde g^2]}} = \\sqrt p\\, \\frac{\\mathbb E[g]}{\\sqrt{\\mathbb E[g^2]}} \\;\\Rightarrow\\; \\text{F} \\approx \\text{lr} \\times \\sqrt p',
        ],
        tables: [accuracyTable(outcomes, methods), noteTable(outcomes, p), sqrtPTable(outcomes, s.ps)],
        charts: [deltaChart(outcomes, methods)],
      };
    },
  };
}
