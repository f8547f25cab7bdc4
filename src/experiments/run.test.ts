import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Rng } from '../util/rng.js';
import { InputError } from '../io/errors.js';
import { parseResult } from '../report/parse.js';
import { runTimesText } from '../report/html.js';
import { RunStore } from './run-store.js';
import { experiments } from './index.js';
import { defaultDataDir, labEta, oneLine, parseBudget, parseSeeds, runExperiment, runLab } from './run.js';
import type { Experiment, ExperimentContext } from './types.js';

/** A toy experiment, only for tests: the mean of seeded uniforms, which must approach 1/2. */
const toy: Experiment = {
  name: 'toy',
  title: 'Toy: mean of uniforms',
  async run(ctx: ExperimentContext) {
    const n = ctx.budget === 'quick' ? 1000 : 100000;
    const means = ctx.seeds.map((s) => {
      const rng = new Rng(s);
      let sum = 0;
      for (let i = 0; i < n; i++) sum += rng.next();
      return sum / n;
    });
    fs.writeFileSync(path.join(ctx.workDir, 'means.json'), JSON.stringify(means));
    return {
      title: 'Toy: mean of uniforms',
      claim: 'The mean of $n$ uniforms is $1/2 \\pm 1/\\sqrt{12n}$.',
      source: 'textbook',
      verdict: 'Reproduced.',
      settings: { n },
      text: [],
      math: ['\\bar u = \\frac{1}{n}\\sum_i u_i'],
      tables: [{ title: 'means', columns: ['seed', 'mean'], rows: ctx.seeds.map((s, i) => [s, means[i]]) }],
      charts: [
        {
          title: 'means',
          kind: 'line',
          xLabel: 'seed',
          yLabel: 'mean',
          series: [{ name: 'mean', x: ctx.seeds, y: [...means.slice(0, -1), NaN] }],
        },
      ],
    };
  },
};

const failing: Experiment = {
  name: 'broken',
  title: 'Always fails',
  async run() {
    throw new RangeError('boom\nsecond line of detail');
  },
};

function dirs() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kexue-run-'));
  return { root, resultsDir: path.join(root, 'results'), workDir: path.join(root, 'runs'), dataDir: root };
}

test('runExperiment writes results/<name>.json with env, timing and runner-owned fields', async () => {
  const d = dirs();
  const { result, file } = await runExperiment(toy, { budget: 'quick', seeds: [3, 4], quiet: true, ...d });
  assert.equal(file, path.join(d.resultsDir, 'toy.json'));
  assert.equal(result.name, 'toy');
  assert.deepEqual(result.seeds, [3, 4]);
  assert.equal(result.budget, 'quick');
  assert.ok(result.seconds >= 0 && result.seconds < 60);
  assert.ok(
    ['aten', 'tensorflow', 'wasm', 'cpu'].includes(String(result.env.backend)),
    String(result.env.backend),
  );
  assert.match(result.env.node, /^v\d+/);
  for (const m of result.tables[0].rows.map((r) => r[1] as number))
    assert.ok(Math.abs(m - 0.5) < 0.05, `mean ${m}`);
  assert.ok(fs.existsSync(path.join(d.workDir, 'toy', 'means.json')), 'work dir is <work>/<name>');
  // What was written parses back as a result (NaN round-trips through null).
  const back = parseResult(JSON.parse(fs.readFileSync(file, 'utf8')), file);
  assert.ok(Number.isNaN(back.charts[0].series[0].y[1]));
  assert.deepEqual(back.tables, result.tables);
  assert.deepEqual(fs.readdirSync(d.resultsDir), ['toy.json'], 'no temp files left behind');
  fs.rmSync(d.root, { recursive: true, force: true });
});

test('runExperiment: a full-budget run goes to results/full/ and records the commit and machine', async () => {
  const d = dirs();
  const { result, file } = await runExperiment(toy, { budget: 'full', seeds: [0], quiet: true, ...d });
  assert.equal(file, path.join(d.resultsDir, 'full', 'toy.json'));
  assert.equal(result.budget, 'full');
  assert.match(result.env.commit ?? '', /^([0-9a-f]{12}(\+dirty)?|\?)$/);
  assert.match(result.env.machine ?? '', /GiB$/);
  assert.deepEqual(fs.readdirSync(d.resultsDir), ['full'], 'the quick result file is untouched');
  fs.rmSync(d.root, { recursive: true, force: true });
});

test('runExperiment: a result built from recorded runs says what they cost, reused or not', async () => {
  const d = dirs();
  const stored: Experiment = {
    ...toy,
    name: 'stored',
    async run(ctx) {
      const store = new RunStore(path.join(ctx.workDir, 'runs'));
      const slow = (id: string) => ({
        id,
        key: 'k',
        compute: () => new Promise<number>((r) => setTimeout(() => r(1), 30)),
      });
      await store.runAll([slow('a'), slow('b')]);
      return toy.run(ctx);
    },
  };
  const opts = { budget: 'quick' as const, seeds: [0], quiet: true, ...d };
  const first = (await runExperiment(stored, opts)).result.runTimes!;
  assert.deepEqual({ ...first, seconds: 0 }, { runs: 2, reused: 0, seconds: 0, untimed: 0 });
  assert.ok(first.seconds >= 0.05, String(first.seconds));
  // The second pass reuses both: its wall time is small, the runs' cost is still reported.
  const { result, file } = await runExperiment(stored, opts);
  assert.deepEqual(result.runTimes, { ...first, reused: 2 });
  assert.deepEqual(parseResult(JSON.parse(fs.readFileSync(file, 'utf8')), file).runTimes, result.runTimes);
  assert.match(
    runTimesText(result.runTimes!),
    /^0\.\d min over 2 runs \(2 reused from earlier passes or other processes\)$/,
  );
  // An experiment without a run store has no run times.
  assert.equal((await runExperiment(toy, opts)).result.runTimes, undefined);
  fs.rmSync(d.root, { recursive: true, force: true });
});

test('runExperiment: an unwritable results location is one clear InputError before any work', async () => {
  const d = dirs();
  let ran = false;
  const spy: Experiment = { ...toy, run: async (ctx) => ((ran = true), toy.run(ctx)) };
  fs.mkdirSync(d.root, { recursive: true });
  const asFile = path.join(d.root, 'afile');
  fs.writeFileSync(asFile, '');
  await assert.rejects(
    runExperiment(spy, { budget: 'quick', seeds: [0], quiet: true, ...d, resultsDir: asFile }),
    (e: Error) =>
      e instanceof InputError && /afile: is a file, not a folder; choose another --results/.test(e.message),
  );
  await assert.rejects(
    runExperiment(spy, {
      budget: 'quick',
      seeds: [0],
      quiet: true,
      ...d,
      resultsDir: path.join(asFile, 'sub'),
    }),
    (e: Error) =>
      e instanceof InputError && /sub: cannot write here: a parent of it is a file/.test(e.message),
  );
  assert.equal(ran, false, 'the experiment never started');
  fs.rmSync(d.root, { recursive: true, force: true });
});

test('runExperiment: a missing data folder is an InputError naming it', async () => {
  const d = dirs();
  await assert.rejects(
    runExperiment(toy, { budget: 'quick', seeds: [0], ...d, dataDir: path.join(d.root, 'nope') }),
    (e: unknown) => e instanceof InputError && /data folder not found: .*nope/.test(e.message),
  );
  fs.rmSync(d.root, { recursive: true, force: true });
});

test('runLab: a failure is reported in one line and the other experiments still run', async () => {
  const d = dirs();
  const lines: string[] = [];
  const out = await runLab([failing, toy], {
    budget: 'quick',
    seeds: [0],
    quiet: true,
    ...d,
    log: (l) => lines.push(l),
  });
  assert.deepEqual(out.failed, [{ name: 'broken', reason: 'RangeError: boom' }]);
  assert.deepEqual(
    out.ok.map((o) => o.name),
    ['toy'],
  );
  assert.ok(fs.existsSync(path.join(d.resultsDir, 'toy.json')));
  assert.ok(!fs.existsSync(path.join(d.resultsDir, 'broken.json')));
  assert.ok(lines.every((l) => !l.includes('\n')));
  assert.ok(
    lines.some((l) => /\[1\/2\] broken: FAILED after .* s: RangeError: boom$/.test(l)),
    lines.join(' | '),
  );
  assert.match(lines[0], /\[1\/2\] broken: running \(quick budget, seeds 0; 0s elapsed, eta \d+m\d\ds\)$/);
  assert.match(lines[lines.length - 1], /^done in \d+s$/);
  fs.rmSync(d.root, { recursive: true, force: true });
});

test('labEta: the remaining expected time, scaled by how the finished experiments compared', () => {
  assert.equal(labEta([60, 120, 30], []), 210);
  assert.equal(labEta([60, 120, 30], [120]), 300, 'twice as slow as expected so far');
  assert.equal(labEta([60, 120, 30], [30, 60]), 15);
  assert.equal(labEta([60, 120], [60, 120]), 0);
});

test('option parsing: budget, seeds, data folder, one-line errors', () => {
  assert.equal(parseBudget(undefined), 'quick');
  assert.equal(parseBudget('full'), 'full');
  assert.throws(() => parseBudget('huge'), InputError);
  assert.deepEqual(parseSeeds(undefined), [0, 1, 2, 3, 4]);
  assert.deepEqual(parseSeeds(' 7, 8 ,9'), [7, 8, 9]);
  for (const bad of ['', '1,,2', '-1', '1.5', 'a', '1,1'])
    assert.throws(() => parseSeeds(bad), InputError, bad);
  const saved = process.env.KEXUE_DATA;
  process.env.KEXUE_DATA = 'some/where';
  assert.equal(defaultDataDir(), path.resolve('some/where'));
  delete process.env.KEXUE_DATA;
  // Without KEXUE_DATA: ../shared/data beside the package root, whatever the current directory.
  assert.equal(
    defaultDataDir(),
    path.resolve(path.dirname(new URL('../../package.json', import.meta.url).pathname), '../shared/data'),
  );
  if (saved !== undefined) process.env.KEXUE_DATA = saved;
  assert.equal(oneLine(new InputError('bad', 'f.csv', 3)), 'f.csv, line 3: bad');
  assert.equal(oneLine('text'), 'text');
});

test('the registry is a plain list of uniquely named experiments', () => {
  assert.ok(Array.isArray(experiments));
  const names = experiments.map((e) => e.name);
  assert.equal(new Set(names).size, names.length);
  for (const n of names) assert.match(n, /^[a-z0-9][a-z0-9_-]*$/, 'names are used as file names');
});
