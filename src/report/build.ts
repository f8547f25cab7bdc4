/**
 * Builds the static report from results/*.json: report/index.html, KaTeX's CSS and fonts copied into
 * report/katex/ (so the page works offline), and every chart as a standalone report/charts/*.svg.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { writeFileAtomic } from '../io/atomic.js';
import { InputError } from '../io/errors.js';
import type { ExperimentResult } from '../experiments/types.js';
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

function copyKatex(reportDir: string): void {
  const css = require.resolve('katex/dist/katex.min.css');
  const out = path.join(reportDir, 'katex');
  writeFileAtomic(path.join(out, 'katex.min.css'), fs.readFileSync(css));
  fs.cpSync(path.join(path.dirname(css), 'fonts'), path.join(out, 'fonts'), { recursive: true });
}

/** Writes each chart as charts/<experiment>[-full]-<k>.svg and removes charts left over from older builds. */
function writeCharts(results: ExperimentResult[], reportDir: string): Map<string, string[]> {
  const dir = path.join(reportDir, 'charts');
  const written = new Map<string, string[]>();
  const keep = new Set<string>();
  for (const r of results) {
    const files = r.charts.map((c, i) => {
      const name = `${resultKey(r)}-${i + 1}.svg`;
      writeFileAtomic(path.join(dir, name), `<?xml version="1.0" encoding="UTF-8"?>\n${renderChart(c)}\n`);
      keep.add(name);
      return `charts/${name}`;
    });
    written.set(resultKey(r), files);
  }
  if (fs.existsSync(dir)) {
    for (const f of fs.readdirSync(dir)) if (f.endsWith('.svg') && !keep.has(f)) fs.rmSync(path.join(dir, f));
  }
  return written;
}

/** Copies the pictures results refer to into images/; a missing picture is dropped from its result. */
function copyImages(results: ExperimentResult[], resultsDir: string, reportDir: string): ExperimentResult[] {
  const dir = path.join(reportDir, 'images');
  fs.rmSync(dir, { recursive: true, force: true });
  return results.map((r) => {
    const images = (r.images ?? []).filter((img) => {
      const src = path.join(resultsDir, img.file);
      if (!fs.existsSync(src)) return false;
      fs.mkdirSync(path.dirname(path.join(dir, img.file)), { recursive: true });
      fs.copyFileSync(src, path.join(dir, img.file));
      return true;
    });
    return { ...r, images };
  });
}

export function buildReport(opts: BuildOptions): BuildSummary {
  const { results: raw, problems } = readResults(opts.resultsDir);
  const results = copyImages(ordered(raw, opts.order), opts.resultsDir, opts.reportDir);
  fs.mkdirSync(opts.reportDir, { recursive: true });
  copyKatex(opts.reportDir);
  const chartFiles = writeCharts(results, opts.reportDir);
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
  return {
    index,
    experiments: results.map((r) => r.name),
    charts: [...chartFiles.values()].flat().map((f) => path.join(opts.reportDir, f)),
    problems,
  };
}
