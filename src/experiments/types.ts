/**
 * The shape of `results/<name>.json`. Experiments describe what they measured in these generic terms
 * (text, math, tables, charts); the report renders any of them without knowing the experiment.
 */
import type { BackendName } from '../backend/index.js';

export type Budget = 'quick' | 'full';

export interface Table {
  title: string;
  columns: string[];
  rows: (string | number | null)[][];
  note?: string;
}

export interface Series {
  name: string;
  x: number[];
  y: number[];
  /** Half-width of an error bar at each point (e.g. the std over seeds). */
  err?: number[];
}

export interface Chart {
  title: string;
  kind: 'line' | 'bar';
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** Category names for bar charts (x holds their indices). */
  categories?: string[];
  logY?: boolean;
}

/** A picture (PNG) an experiment made, e.g. a grid of generated samples. */
export interface Image {
  title: string;
  /** In an experiment's return value: where it wrote the file. In results JSON: relative to the results folder. */
  file: string;
}

export interface RunEnvironment {
  kexue: string;
  tfjs: string;
  node: string;
  backend: BackendName | string;
  platform: string;
  cpus: number;
  /** CPU model and memory (absent in results written before it was recorded). */
  machine?: string;
  /** Git commit of the code that ran, `+dirty` with uncommitted changes. */
  commit?: string;
  date: string;
}

/** How our measurement relates to the note's central claim. */
export type VerdictStatus = 'reproduces' | 'partly' | 'does not reproduce' | 'inconclusive';

export const VERDICT_STATUSES: readonly VerdictStatus[] = [
  'reproduces',
  'partly',
  'does not reproduce',
  'inconclusive',
];

/** The central claim in one row of the report's verdict table. */
export interface ClaimSummary {
  /** The note's (or paper's) number for its central claim, as it states it. */
  note: string;
  /** Ours for the same quantity (mean ± std over seeds where there are several). */
  ours: string;
  status: VerdictStatus;
  /** Why, in one line (e.g. 'quick budget: a pipeline check'). */
  reason: string;
}

export interface ExperimentResult {
  name: string;
  title: string;
  /** The claim being checked, in the note's words (paraphrased), with its source. */
  claim: string;
  source: string;
  /** Our conclusion in one or two sentences, including when the claim does not reproduce. */
  verdict: string;
  /** The verdict as one row of the report's table (absent in results written before it existed). */
  summary?: ClaimSummary;
  budget: Budget;
  /**
   * The seeds offered (`--seeds`). An experiment uses the first n of them, as many as its budget needs:
   * the seeds each table used are stated in its title or in `settings`.
   */
  seeds: number[];
  /** Free-form budget details: epochs, steps, sizes, wall time. */
  settings: Record<string, string | number | boolean>;
  /** Paragraphs of Markdown-free text; `$...$` spans are rendered as math. */
  text: string[];
  /** Display equations in LaTeX. */
  math: string[];
  tables: Table[];
  charts: Chart[];
  images?: Image[];
  env: RunEnvironment;
  /** Wall-clock seconds of the pass that wrote this result (reused runs cost it nothing). */
  seconds: number;
  /** The compute behind the runs the result was built from (experiments that record their runs). */
  runTimes?: RunTimes;
}

/**
 * What an experiment's recorded runs cost: each run's own time, whether it ran in the pass that wrote
 * the result or was reused from an earlier pass or another process, so a result assembled from recorded
 * runs still says how long they took.
 */
export interface RunTimes {
  runs: number;
  /** Of `runs`, those reused from earlier passes or other processes. */
  reused: number;
  /** Sum of the timed runs' seconds (each run single-process; processes may have run side by side). */
  seconds: number;
  /** Runs recorded before run times were kept. */
  untimed: number;
}

export interface ExperimentContext {
  budget: Budget;
  seeds: number[];
  /** The bundled data folder (`../shared/data` by default). */
  dataDir: string;
  /** Where intermediate artefacts (checkpoints, probabilities) may be kept. */
  workDir: string;
  quiet: boolean;
}

export interface Experiment {
  name: string;
  title: string;
  /**
   * Typical wall-clock seconds per budget on a 2-core machine, including what the experiment trains the
   * first time (encoders); `kexue lab` uses them for its overall ETA.
   */
  expectedSeconds?: Partial<Record<Budget, number>>;
  run(
    ctx: ExperimentContext,
  ): Promise<Omit<ExperimentResult, 'env' | 'seconds' | 'name' | 'budget' | 'seeds'>>;
  /**
   * The verdict table's row, read from a result of this experiment (its tables): the runner stores it,
   * and the report fills it in for results written before summaries existed.
   */
  summarize?(result: ExperimentResult): ClaimSummary | undefined;
}

/** The first number in a table cell such as '53.91 ± 2.25' or '13.16 ± 1.43 (-1.52)' (NaN if none). */
export function cellNumber(cell: string | number | null | undefined): number {
  if (typeof cell === 'number') return cell;
  const m = /[-+−]?\d+(\.\d+)?/.exec(cell ?? '');
  return m ? Number(m[0].replace('−', '-')) : NaN;
}

/** The number in brackets of a cell such as '13.16 ± 1.43 (-1.52)' (NaN if none). */
export function cellBracket(cell: string | number | null | undefined): number {
  const m = /\(([-+−]?\d+(\.\d+)?)\)/.exec(String(cell ?? ''));
  return m ? Number(m[1].replace('−', '-')) : NaN;
}

/** The verdict row of a quick-budget result: its numbers check the pipeline, not the claim. */
export function quickSummary(note: string, ours: string): ClaimSummary {
  return {
    note,
    ours,
    status: 'inconclusive',
    reason: 'quick budget: a pipeline check, not a test of the claim',
  };
}
