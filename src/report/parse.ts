/**
 * Checks a results/<name>.json against the ExperimentResult shape, naming the first bad field. JSON has
 * no NaN (JSON.stringify writes null), so null values inside chart series come back as NaN.
 */
import { InputError } from '../io/errors.js';
import {
  VERDICT_STATUSES,
  type Chart,
  type ClaimSummary,
  type ExperimentResult,
  type RunEnvironment,
  type RunTimes,
  type Series,
  type Table,
  type VerdictStatus,
} from '../experiments/types.js';

type Obj = Record<string, unknown>;

class Checker {
  constructor(private readonly file: string) {}

  fail(field: string, what: string): never {
    throw new InputError(`expected ${what}`, this.file, undefined, field);
  }

  obj(v: unknown, field: string): Obj {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(field, 'an object');
    return v as Obj;
  }

  str(v: unknown, field: string): string {
    if (typeof v !== 'string') this.fail(field, 'a string');
    return v;
  }

  num(v: unknown, field: string): number {
    if (typeof v !== 'number') this.fail(field, 'a number');
    return v;
  }

  arr(v: unknown, field: string, optional = false): unknown[] {
    if (v === undefined && optional) return [];
    if (!Array.isArray(v)) this.fail(field, 'an array');
    return v;
  }

  strs(v: unknown, field: string, optional = false): string[] {
    return this.arr(v, field, optional).map((s, i) => this.str(s, `${field}[${i}]`));
  }

  /** Numbers where null stands for NaN (how JSON.stringify wrote it). */
  nums(v: unknown, field: string): number[] {
    return this.arr(v, field).map((x, i) => (x === null ? NaN : this.num(x, `${field}[${i}]`)));
  }
}

function series(c: Checker, v: unknown, f: string): Series {
  const o = c.obj(v, f);
  const s: Series = { name: c.str(o.name, `${f}.name`), x: c.nums(o.x, `${f}.x`), y: c.nums(o.y, `${f}.y`) };
  if (s.x.length !== s.y.length)
    c.fail(`${f}.y`, `as many values as ${f}.x (${s.x.length}), got ${s.y.length}`);
  if (o.err !== undefined) s.err = c.nums(o.err, `${f}.err`);
  return s;
}

function chart(c: Checker, v: unknown, f: string): Chart {
  const o = c.obj(v, f);
  const kind = o.kind;
  if (kind !== 'line' && kind !== 'bar') c.fail(`${f}.kind`, "'line' or 'bar'");
  const out: Chart = {
    title: c.str(o.title, `${f}.title`),
    kind,
    xLabel: c.str(o.xLabel ?? '', `${f}.xLabel`),
    yLabel: c.str(o.yLabel ?? '', `${f}.yLabel`),
    series: c.arr(o.series, `${f}.series`).map((s, i) => series(c, s, `${f}.series[${i}]`)),
  };
  if (o.categories !== undefined) out.categories = c.strs(o.categories, `${f}.categories`);
  if (o.logY !== undefined) out.logY = Boolean(o.logY);
  return out;
}

function table(c: Checker, v: unknown, f: string): Table {
  const o = c.obj(v, f);
  const rows = c.arr(o.rows, `${f}.rows`).map((r, i) =>
    c.arr(r, `${f}.rows[${i}]`).map((x, j) => {
      if (x === null || typeof x === 'string' || typeof x === 'number') return x;
      return c.fail(`${f}.rows[${i}][${j}]`, 'a string, number or null');
    }),
  );
  const out: Table = {
    title: c.str(o.title, `${f}.title`),
    columns: c.strs(o.columns, `${f}.columns`),
    rows,
  };
  if (o.note !== undefined) out.note = c.str(o.note, `${f}.note`);
  return out;
}

function env(c: Checker, v: unknown): RunEnvironment {
  const o = c.obj(v, 'env');
  const s = (k: string) => (o[k] === undefined ? '?' : String(o[k]));
  return {
    kexue: s('kexue'),
    tfjs: s('tfjs'),
    node: s('node'),
    backend: s('backend'),
    platform: s('platform'),
    cpus: typeof o.cpus === 'number' ? o.cpus : 0,
    ...(o.machine !== undefined && { machine: String(o.machine) }),
    ...(o.commit !== undefined && { commit: String(o.commit) }),
    date: s('date'),
  };
}

function settings(c: Checker, v: unknown): ExperimentResult['settings'] {
  const o = c.obj(v ?? {}, 'settings');
  for (const [k, x] of Object.entries(o)) {
    if (!['string', 'number', 'boolean'].includes(typeof x))
      c.fail(`settings.${k}`, 'a string, number or boolean');
  }
  return o as ExperimentResult['settings'];
}

function summary(c: Checker, v: unknown): ClaimSummary {
  const o = c.obj(v, 'summary');
  if (!VERDICT_STATUSES.includes(o.status as VerdictStatus))
    c.fail('summary.status', VERDICT_STATUSES.map((x) => `'${x}'`).join(', '));
  return {
    note: c.str(o.note, 'summary.note'),
    ours: c.str(o.ours, 'summary.ours'),
    status: o.status as VerdictStatus,
    reason: c.str(o.reason, 'summary.reason'),
  };
}

export function parseResult(json: unknown, file: string): ExperimentResult {
  const c: Checker = new Checker(file);
  const o = c.obj(json, '(top level)');
  const budget = o.budget;
  if (budget !== 'quick' && budget !== 'full') c.fail('budget', "'quick' or 'full'");
  return {
    name: c.str(o.name, 'name'),
    title: c.str(o.title, 'title'),
    claim: c.str(o.claim, 'claim'),
    source: c.str(o.source, 'source'),
    verdict: c.str(o.verdict, 'verdict'),
    ...(o.summary !== undefined && { summary: summary(c, o.summary) }),
    budget,
    seeds: c.arr(o.seeds, 'seeds').map((s, i) => c.num(s, `seeds[${i}]`)),
    settings: settings(c, o.settings),
    text: c.strs(o.text, 'text', true),
    math: c.strs(o.math, 'math', true),
    tables: c.arr(o.tables, 'tables', true).map((t, i) => table(c, t, `tables[${i}]`)),
    charts: c.arr(o.charts, 'charts', true).map((t, i) => chart(c, t, `charts[${i}]`)),
    images: c.arr(o.images, 'images', true).map((v, i) => {
      const img = c.obj(v, `images[${i}]`);
      return { title: c.str(img.title, `images[${i}].title`), file: c.str(img.file, `images[${i}].file`) };
    }),
    env: env(c, o.env),
    seconds: c.num(o.seconds, 'seconds'),
    ...(o.runTimes !== undefined && { runTimes: runTimes(c, o.runTimes) }),
  };
}

function runTimes(c: Checker, v: unknown): RunTimes {
  const o = c.obj(v, 'runTimes');
  return {
    runs: c.num(o.runs, 'runTimes.runs'),
    reused: c.num(o.reused, 'runTimes.reused'),
    seconds: c.num(o.seconds, 'runTimes.seconds'),
    untimed: c.num(o.untimed, 'runTimes.untimed'),
  };
}
