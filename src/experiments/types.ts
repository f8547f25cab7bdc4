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

export interface ExperimentResult {
  name: string;
  title: string;
  /** The claim being checked, in the note's words (paraphrased), with its source. */
  claim: string;
  source: string;
  /** Our conclusion in one or two sentences, including when the claim does not reproduce. */
  verdict: string;
  budget: Budget;
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
  seconds: number;
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
}
