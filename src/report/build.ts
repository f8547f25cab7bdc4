/**
 * Builds the static report from results/*.json: report/index.html, KaTeX's CSS and fonts copied into
 * report/katex/ (so the page works offline), and every chart as a standalone report/charts/*.svg.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { writeFileAtomic, writeJsonAtomic } from '../io/atomic.js';
import { InputError } from '../io/errors.js';
import type { ClaimSummary, ExperimentResult } from '../experiments/types.js';
import { packageVersion } from '../util/env.js';
import { renderChart } from './svg.js';
import { renderPage, resultKey } from './html.js';
import { parseResult } from './parse.js';

const require = createRequire(import.meta.url);

export interface BuildOptions {
  resultsDir: string;
  reportDir: string;
  /** Experiment names in the order to show them (e.g. the registry's); others follow by name. */
  order?: string[];
  /** Failures of the run that preceded this build, shown at the top of the page. */
  failures?: { name: string; reason: string }[];
  /** The verdict-table row of a result that carries none (results written before summaries existed). */
  summarize?: (r: ExperimentResult) => ClaimSummary | undefined;
}

export interface BuildSummary {
  index: string;
  experiments: string[];
  charts: string[];
  problems: { file: string; reason: string }[];
}

function readFolder(
  dir: string,
  budget: 'quick' | 'full',
  out: { results: ExperimentResult[]; problems: { file: string; reason: string }[] },
): void {
  if (!fs.existsSync(dir)) return;
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  for (const f of files) {
    const file = path.join(dir, f);
    try {
      const r = parseResult(JSON.parse(fs.readFileSync(file, 'utf8')), file);
      if (r.budget !== budget)
        throw new InputError(`holds a ${r.budget}-budget result; ${budget}-budget results belong here`, file);
      // Pictures are named relative to the folder their result is in; the report copies from resultsDir.
      const prefix = budget === 'full' ? 'full/' : '';
      out.results.push({ ...r, images: r.images?.map((i) => ({ ...i, file: prefix + i.file })) });
    } catch (e) {
      // InputError messages already name the file; JSON syntax errors do not.
      const reason = e instanceof InputError ? e.message : `${file}: ${(e as Error).message}`;
      out.problems.push({ file, reason });
    }
  }
}

/**
 * Reads every results/*.json (quick budget) and results/full/*.json (full budget, committed with the
 * repository); unreadable files are returned as problems instead of aborting the build.
 */
export function readResults(dir: string): {
  results: ExperimentResult[];
  problems: { file: string; reason: string }[];
} {
  const out = { results: [] as ExperimentResult[], problems: [] as { file: string; reason: string }[] };
  readFolder(dir, 'quick', out);
  readFolder(path.join(dir, 'full'), 'full', out);
  return out;
}

function ordered(results: ExperimentResult[], order: string[] = []): ExperimentResult[] {
  const rank = (n: string) => (order.includes(n) ? order.indexOf(n) : order.length);
  // Each experiment's quick run first, then its full-budget run beside it.
  const full = (r: ExperimentResult) => (r.budget === 'full' ? 1 : 0);
  return [...results].sort(
    (a, b) => rank(a.name) - rank(b.name) || a.name.localeCompare(b.name) || full(a) - full(b),
  );
}

function copyKatex(reportDir: string, wrote: Set<string>): void {
  const css = require.resolve('katex/dist/katex.min.css');
  const copy = (src: string, rel: string) => {
    writeFileAtomic(path.join(reportDir, rel), fs.readFileSync(src));
    wrote.add(rel);
  };
  copy(css, 'katex/katex.min.css');
  const fonts = path.join(path.dirname(css), 'fonts');
  for (const f of fs.readdirSync(fonts).sort()) copy(path.join(fonts, f), `katex/fonts/${f}`);
}

/** Writes each chart as charts/<experiment>[-full]-<k>.svg; returns the page-relative paths by result. */
function writeCharts(
  results: ExperimentResult[],
  reportDir: string,
  wrote: Set<string>,
): Map<string, string[]> {
  const written = new Map<string, string[]>();
  for (const r of results) {
    const files = r.charts.map((c, i) => {
      const rel = `charts/${resultKey(r)}-${i + 1}.svg`;
      writeFileAtomic(
        path.join(reportDir, rel),
        `<?xml version="1.0" encoding="UTF-8"?>\n${renderChart(c)}\n`,
      );
      wrote.add(rel);
      return rel;
    });
    written.set(resultKey(r), files);
  }
  return written;
}

/** Copies the pictures results refer to into images/; a missing picture is dropped from its result. */
function copyImages(
  results: ExperimentResult[],
  resultsDir: string,
  reportDir: string,
  wrote: Set<string>,
): ExperimentResult[] {
  return results.map((r) => {
    const images = (r.images ?? []).filter((img) => {
      const src = path.join(resultsDir, img.file);
      if (!fs.existsSync(src)) return false;
      const rel = `images/${img.file}`;
      writeFileAtomic(path.join(reportDir, rel), fs.readFileSync(src));
      wrote.add(rel);
      return true;
    });
    return { ...r, images };
  });
}

/** Lists what a build wrote, so the next build removes only its own stale files, never the user's. */
const MANIFEST = '.kexue-report.json';

function readManifest(reportDir: string): string[] | undefined {
  const file = path.join(reportDir, MANIFEST);
  if (!fs.existsSync(file)) return undefined;
  try {
    const files = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
    if (Array.isArray(files) && files.every((f) => typeof f === 'string')) return files as string[];
  } catch {
    // fall through: a damaged manifest protects nothing, so treat the folder as the user's
  }
  throw new InputError(`${MANIFEST} is damaged; remove it or choose another report folder`, reportDir);
}

/**
 * Refuses a report folder kexue cannot safely write to: a file, or a non-empty folder that no earlier
 * build made (it would overwrite the user's index.html). Called before long work, e.g. by `kexue lab`.
 */
export function checkReportDir(reportDir: string): void {
  if (!fs.existsSync(reportDir)) return;
  if (!fs.statSync(reportDir).isDirectory()) throw new InputError('is not a folder (--report)', reportDir);
  if (readManifest(reportDir) === undefined && fs.readdirSync(reportDir).length > 0)
    throw new InputError(
      'is not empty and was not written by kexue report; choose an empty or new folder (--report)',
      reportDir,
    );
  try {
    fs.accessSync(reportDir, fs.constants.W_OK);
  } catch {
    throw new InputError('is not writable (--report)', reportDir);
  }
}

/** Removes the files an earlier build wrote that this one did not, and folders left empty by that. */
function removeStale(reportDir: string, before: string[], wrote: Set<string>): void {
  for (const rel of before) {
    if (wrote.has(rel) || rel.includes('..') || path.isAbsolute(rel)) continue;
    fs.rmSync(path.join(reportDir, rel), { force: true });
    for (let d = path.dirname(rel); d !== '.'; d = path.dirname(d)) {
      const abs = path.join(reportDir, d);
      if (!fs.existsSync(abs) || fs.readdirSync(abs).length > 0) break;
      fs.rmdirSync(abs);
    }
  }
}

/**
 * Builds the report into `reportDir`. Writes only its own files (listed in REPORT/.kexue-report.json) and
 * removes only files an earlier build listed there; refuses a non-empty folder it did not make.
 */
export function buildReport(opts: BuildOptions): BuildSummary {
  checkReportDir(opts.reportDir);
  const before = readManifest(opts.reportDir) ?? [];
  const wrote = new Set<string>(['index.html']);
  const { results: raw, problems } = readResults(opts.resultsDir);
  fs.mkdirSync(opts.reportDir, { recursive: true });
  // The verdict row is read from the result's tables by the current rule when the experiment has one,
  // so a rule made stricter after a run applies to results committed before it; else the stored row.
  const withSummaries = raw.map((r) => {
    const summary = opts.summarize?.(r) ?? r.summary;
    return summary ? { ...r, summary } : r;
  });
  const results = copyImages(ordered(withSummaries, opts.order), opts.resultsDir, opts.reportDir, wrote);
  copyKatex(opts.reportDir, wrote);
  const chartFiles = writeCharts(results, opts.reportDir, wrote);
  const html = renderPage({
    results,
    problems,
    failures: opts.failures ?? [],
    chartFiles,
    resultsDir: opts.resultsDir,
    builtAt: new Date().toISOString(),
    kexueVersion: packageVersion(),
  });
  const index = path.join(opts.reportDir, 'index.html');
  writeFileAtomic(index, html);
  removeStale(opts.reportDir, before, wrote);
  writeJsonAtomic(path.join(opts.reportDir, MANIFEST), [...wrote].sort());
  return {
    index,
    experiments: results.map((r) => r.name),
    charts: [...chartFiles.values()].flat().map((f) => path.join(opts.reportDir, f)),
    problems,
  };
}
