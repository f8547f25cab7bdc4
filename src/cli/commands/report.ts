/** `kexue report`: rebuild the static HTML report from results/*.json without running anything. */
import fs from 'node:fs';
import { InputError } from '../../io/errors.js';
import path from 'node:path';
import { experiments, summarizeResult } from '../../experiments/index.js';
import { stringOption, type Command } from '../command.js';

const usage = `
Usage: kexue report [options]

Builds REPORT/index.html (with KaTeX CSS/fonts in REPORT/katex/ and each chart as REPORT/charts/*.svg)
from the experiment results in RESULTS/*.json (quick budget) and RESULTS/full/*.json (full budget,
shown beside the quick run). The page needs no network.

  --results DIR      results folder (default results/)
  --report DIR       report folder (default report/)
  --json             print {"index","experiments","charts","problems"} on stdout
`;

export const reportCommand: Command = {
  name: 'report',
  summary: 'rebuild report/index.html from results/*.json',
  usage,
  options: {
    results: { type: 'string' },
    report: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(values) {
    // Loaded on use: the report brings KaTeX, which nothing else (and no library user) needs.
    const { buildReport, readResults } = await import('../../report/build.js');
    const resultsDir = stringOption(values.results) ?? 'results';
    if (!fs.existsSync(resultsDir) || !fs.statSync(resultsDir).isDirectory())
      throw new InputError('no such results folder (kexue lab or kexue experiment writes one)', resultsDir);
    const found = readResults(resultsDir);
    if (!found.results.length) {
      const p = found.problems;
      throw new InputError(
        p.length
          ? `no readable results: ${p[0].reason}${p.length > 1 ? ` (and ${p.length - 1} more)` : ''}`
          : 'holds no results (*.json or full/*.json)',
        resultsDir,
      );
    }
    const summary = buildReport({
      resultsDir,
      reportDir: stringOption(values.report) ?? 'report',
      order: experiments.map((e) => e.name),
      summarize: summarizeResult,
    });
    for (const p of summary.problems) process.stderr.write(`kexue: skipped ${p.reason}\n`);
    if (values.json) process.stdout.write(JSON.stringify(summary) + '\n');
    else {
      const n = summary.experiments.length;
      process.stdout.write(
        `wrote ${path.resolve(summary.index)} (${n} experiment${n === 1 ? '' : 's'}, ${summary.charts.length} charts)\n`,
      );
    }
    return 0;
  },
};
