/** `kexue experiment <name>`: run one registered experiment and write results/<name>.json. */
import { experiments } from '../../experiments/index.js';
import {
  defaultDataDir,
  findExperiment,
  parseBudget,
  parseSeeds,
  runExperiment,
} from '../../experiments/run.js';
import type { Experiment } from '../../experiments/types.js';
import { InputError } from '../../io/errors.js';
import { stringOption, type Command } from '../command.js';

const usage = `
Usage: kexue experiment <name> [options]
       kexue experiment --list

Runs one reproduction experiment and writes its results to RESULTS/<name>.json, or with
--budget full to RESULTS/full/<name>.json (the repository commits those). Rebuild the HTML report
afterwards with 'kexue report'; it shows each full-budget run beside the quick one.

  --list             list the available experiments
  --budget B         quick (minutes) or full (the settings the claim needs); default quick
  --seeds LIST       comma-separated seeds (default 0,1,2,3,4)
  --data DIR         bundled data folder (default ../shared/data beside the package, or $KEXUE_DATA)
  --results DIR      results folder (default results/; full budget: results/full/)
  --work DIR         intermediate artefacts go to DIR/<name> (default runs/)
  --json             print the results JSON on stdout
`;

function list(all: Experiment[], json: boolean): number {
  if (json) {
    process.stdout.write(JSON.stringify(all.map((e) => ({ name: e.name, title: e.title }))) + '\n');
  } else if (all.length === 0) {
    process.stdout.write('no experiments are registered\n');
  } else {
    const w = Math.max(...all.map((e) => e.name.length));
    for (const e of all) process.stdout.write(`${e.name.padEnd(w)}  ${e.title}\n`);
  }
  return 0;
}

export const experimentCommand: Command = {
  name: 'experiment',
  summary: 'run one reproduction experiment (results/<name>.json)',
  usage,
  positionals: true,
  options: {
    list: { type: 'boolean' },
    budget: { type: 'string' },
    seeds: { type: 'string' },
    data: { type: 'string' },
    results: { type: 'string' },
    work: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(values, positionals) {
    const json = Boolean(values.json);
    if (values.list) return list(experiments, json);
    if (positionals.length !== 1) {
      throw new InputError(
        `expected one experiment name, got ${positionals.length} (see 'kexue experiment --list')`,
      );
    }
    const exp = findExperiment(experiments, positionals[0]);
    const { result, file } = await runExperiment(exp, {
      budget: parseBudget(values.budget),
      seeds: parseSeeds(values.seeds),
      dataDir: stringOption(values.data) ?? defaultDataDir(),
      resultsDir: stringOption(values.results) ?? 'results',
      workDir: stringOption(values.work),
      quiet: json,
    });
    if (json) process.stdout.write(JSON.stringify(result) + '\n');
    else
      process.stdout.write(
        `${exp.name}: ${result.verdict}\nwrote ${file} in ${result.seconds.toFixed(1)} s\n`,
      );
    return 0;
  },
};
