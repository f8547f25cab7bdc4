/**
 * Runs one experiment: builds its context, times it, records the environment and writes
 * results/<name>.json atomically. Also resolves the default data folder and parses seed lists.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../backend/index.js';
import { takeRunTimes } from './run-store.js';
import { InputError } from '../io/errors.js';
import { checkOutputFolder, writeJsonAtomic } from '../io/atomic.js';
import { runEnvironment } from '../util/env.js';
import type { Budget, Experiment, ExperimentResult, Image } from './types.js';

export const DEFAULT_SEEDS = [0, 1, 2, 3, 4];

/** KEXUE_DATA, else `../shared/data` beside the package root (found from this file, not the cwd). */
export function defaultDataDir(): string {
  if (process.env.KEXUE_DATA) return path.resolve(process.env.KEXUE_DATA);
  return fileURLToPath(new URL('../../../shared/data', import.meta.url));
}

export function parseBudget(v: unknown): Budget {
  if (v === undefined) return 'quick';
  if (v !== 'quick' && v !== 'full')
    throw new InputError(`--budget must be 'quick' or 'full', got '${String(v)}'`);
  return v;
}

/** "0,1,2" → [0, 1, 2]: distinct non-negative integers. */
export function parseSeeds(v: unknown): number[] {
  if (v === undefined) return [...DEFAULT_SEEDS];
  const parts = String(v)
    .split(',')
    .map((s) => s.trim());
  const seeds = parts.map(Number);
  if (parts.some((s) => s === '') || seeds.some((s) => !Number.isSafeInteger(s) || s < 0)) {
    throw new InputError(`--seeds must be comma-separated non-negative integers, got '${String(v)}'`);
  }
  if (new Set(seeds).size !== seeds.length) throw new InputError(`--seeds has duplicates: '${String(v)}'`);
  return seeds;
}

export function findExperiment(list: Experiment[], name: string): Experiment {
  const exp = list.find((e) => e.name === name);
  if (!exp) {
    const known = list.map((e) => e.name).join(', ') || 'none registered';
    throw new InputError(`unknown experiment '${name}' (available: ${known})`);
  }
  return exp;
}

export interface RunOptions {
  budget: Budget;
  seeds: number[];
  dataDir: string;
  resultsDir: string;
  /** Intermediate artefacts go to <workDir>/<name>; default `runs/` in the current directory. */
  workDir?: string;
  quiet?: boolean;
}

export interface RunOutcome {
  result: ExperimentResult;
  file: string;
}

/** Full-budget results live apart (`<resultsDir>/full/`, committed) so a quick run never replaces them. */
export function budgetDir(resultsDir: string, budget: Budget): string {
  return budget === 'full' ? path.join(resultsDir, 'full') : resultsDir;
}

export function resultFile(resultsDir: string, name: string, budget: Budget = 'quick'): string {
  return path.join(budgetDir(resultsDir, budget), `${name}.json`);
}

/** Copies an experiment's pictures to <resultsDir>/<name>/ so results stay self-contained. */
function keepImages(images: Image[], resultsDir: string, name: string): Image[] {
  const dir = path.join(resultsDir, name);
  fs.mkdirSync(dir, { recursive: true });
  return images.map((img) => {
    const file = path.basename(img.file);
    fs.copyFileSync(img.file, path.join(dir, file));
    return { title: img.title, file: `${name}/${file}` };
  });
}

export async function runExperiment(exp: Experiment, opts: RunOptions): Promise<RunOutcome> {
  if (!fs.existsSync(opts.dataDir)) {
    throw new InputError(`data folder not found: ${opts.dataDir} (use --data DIR or set KEXUE_DATA)`);
  }
  // Before the work, not after it: a results folder that cannot be written fails now.
  checkOutputFolder(budgetDir(opts.resultsDir, opts.budget), '--results');
  await initBackend({ quiet: opts.quiet });
  const workDir = path.resolve(opts.workDir ?? 'runs', exp.name);
  checkOutputFolder(workDir, '--work');
  const start = performance.now();
  takeRunTimes(); // count only this experiment's runs
  const body = await exp.run({
    budget: opts.budget,
    seeds: opts.seeds,
    dataDir: opts.dataDir,
    workDir,
    quiet: opts.quiet ?? false,
  });
  const seconds = (performance.now() - start) / 1000;
  const runTimes = takeRunTimes();
  const outDir = budgetDir(opts.resultsDir, opts.budget);
  const images = body.images && keepImages(body.images, outDir, exp.name);
  // Fields the runner owns come last so an experiment cannot misreport its name, budget or timing.
  const result: ExperimentResult = {
    ...body,
    ...(images && { images }),
    name: exp.name,
    budget: opts.budget,
    seeds: opts.seeds,
    env: runEnvironment(),
    seconds,
    ...(runTimes.runs > 0 && { runTimes }),
  };
  const summary = result.summary ?? exp.summarize?.(result);
  if (summary) result.summary = summary;
  const file = resultFile(opts.resultsDir, exp.name, opts.budget);
  writeJsonAtomic(file, result);
  return { result, file };
}

export interface LabOptions extends RunOptions {
  /** Called with one line per event (start, success, failure). */
  log?: (line: string) => void;
}

export interface LabOutcome {
  ok: { name: string; seconds: number; file: string }[];
  failed: { name: string; reason: string }[];
}

/** First line of an error's message: lab reports every failure in one line. */
export function oneLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  const first = msg.split('\n')[0].trim() || (e instanceof Error ? e.name : 'error');
  return e instanceof InputError || !(e instanceof Error) ? first : `${e.name}: ${first}`;
}

/** Runs the experiments one after another; a failure is recorded and the next one still runs. */
/** Seconds `kexue lab` assumes for an experiment that declares none. */
const DEFAULT_EXPECTED_SECONDS = 60;

/**
 * The remaining time of a lab run: what the remaining experiments expect, scaled by how the finished
 * ones compared with what they expected (a loaded or faster machine scales every estimate alike).
 */
export function labEta(expected: number[], done: number[]): number {
  const expectedDone = expected.slice(0, done.length).reduce((a, b) => a + b, 0);
  const actualDone = done.reduce((a, b) => a + b, 0);
  const scale = expectedDone > 0 && actualDone > 0 ? actualDone / expectedDone : 1;
  return expected.slice(done.length).reduce((a, b) => a + b, 0) * scale;
}

const clock = (s: number) => {
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.round(s)}s`;
};

export async function runLab(list: Experiment[], opts: LabOptions): Promise<LabOutcome> {
  const log = opts.log ?? (() => {});
  const out: LabOutcome = { ok: [], failed: [] };
  const expected = list.map((e) => e.expectedSeconds?.[opts.budget] ?? DEFAULT_EXPECTED_SECONDS);
  const took: number[] = [];
  const t0 = performance.now();
  for (const [i, exp] of list.entries()) {
    const tag = `[${i + 1}/${list.length}] ${exp.name}`;
    const elapsed = (performance.now() - t0) / 1000;
    log(
      `${tag}: running (${opts.budget} budget, seeds ${opts.seeds.join(',')}; ` +
        `${clock(elapsed)} elapsed, eta ${clock(labEta(expected, took))})`,
    );
    const start = performance.now();
    try {
      const { result, file } = await runExperiment(exp, opts);
      out.ok.push({ name: exp.name, seconds: result.seconds, file });
      log(`${tag}: ok in ${result.seconds.toFixed(1)} s → ${file}`);
    } catch (e) {
      const reason = oneLine(e);
      out.failed.push({ name: exp.name, reason });
      log(`${tag}: FAILED after ${((performance.now() - start) / 1000).toFixed(1)} s: ${reason}`);
    }
    took.push((performance.now() - start) / 1000);
  }
  log(`done in ${clock((performance.now() - t0) / 1000)}`);
  return out;
}
