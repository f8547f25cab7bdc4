/** `kexue lab`: run every registered experiment at the quick budget, then build the HTML report. */
import path from 'node:path';
import { experiments, summarizeResult } from '../../experiments/index.js';
import { defaultDataDir, findExperiment, parseBudget, parseSeeds, runLab } from '../../experiments/run.js';
import { InputError } from '../../io/errors.js';
import { checkOutputFolder } from '../../io/atomic.js';
import { stringOption, type Command } from '../command.js';

const usage = `
Usage: kexue lab [options]

Runs every available experiment one after another (a failure is reported in one line and the others
still run), writes RESULTS/<name>.json for each, then builds REPORT/index.html from RESULTS/*.json.
Exits non-zero if any experiment failed.

  --budget B         quick (default) or full
  --only LIST        comma-separated experiment names to run (default: all)
  --seeds LIST       comma-separated seeds (default 0,1,2,3,4)
  --data DIR         bundled data folder (default ../shared/data beside the package, or $KEXUE_DATA)
  --results DIR      results folder (default results/)
  --report DIR       report folder (default report/)
  --work DIR         intermediate artefacts (default runs/)
  --json             print {"ok","failed","report"} on stdout
`;

function selected(only: string | undefined) {
  if (only === undefined) return experiments;
  const names = only
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 0) throw new InputError('--only needs at least one experiment name');
  return names.map((n) => findExperiment(experiments, n));
}

export const labCommand: Command = {
  name: 'lab',
  summary: 'run all experiments (quick budget) and build report/index.html',
  usage,
  options: {
    budget: { type: 'string' },
    only: { type: 'string' },
    seeds: { type: 'string' },
    data: { type: 'string' },
    results: { type: 'string' },
    report: { type: 'string' },
    work: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(values) {
    // Loaded on use: the report brings KaTeX, which nothing else (and no library user) needs.
    const { buildReport, checkReportDir } = await import('../../report/build.js');
    const json = Boolean(values.json);
    const list = selected(stringOption(values.only));
    const resultsDir = stringOption(values.results) ?? 'results';
    const reportDir = stringOption(values.report) ?? 'report';
    const budget = parseBudget(values.budget);
    const seeds = parseSeeds(values.seeds);
    // Before the experiments, not after an hour of them.
    checkReportDir(reportDir);
    checkOutputFolder(resultsDir, '--results');
    const log = (line: string) => process.stderr.write(`lab ${line}\n`);
    if (list.length === 0) log('no experiments are registered');
    const outcome = await runLab(list, {
      budget,
      seeds,
      dataDir: stringOption(values.data) ?? defaultDataDir(),
      resultsDir,
      workDir: stringOption(values.work),
      quiet: false,
      log,
    });
    const summary = buildReport({
      resultsDir,
      reportDir,
      order: experiments.map((e) => e.name),
      summarize: summarizeResult,
      failures: outcome.failed,
    });
    for (const p of summary.problems) log(`skipped ${p.reason}`);
    const index = path.resolve(summary.index);
    log(`${outcome.ok.length} ok, ${outcome.failed.length} failed; report: ${index}`);
    if (json)
      process.stdout.write(JSON.stringify({ ok: outcome.ok, failed: outcome.failed, report: index }) + '\n');
    return outcome.failed.length > 0 ? 1 : 0;
  },
};
