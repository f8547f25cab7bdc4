/**
 * `npm run test:tfjs-core`: runs @tensorflow/tfjs-core's own op specs (dist/**\/*_test.js with its
 * jasmine_util) against the 'cpu' backend and then the 'aten' backend, each in its own process, and
 * compares: at least 95% of the specs cpu passes must pass on aten. Options:
 *   --backend aten|cpu   run one backend only (worker mode)
 *   --filter <text>      only specs whose full name contains text
 *   --out <file.json>    (worker) write the per-spec results
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire, register } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { EXCLUSIONS } from './exclusions.js';

const REQUIRED = 0.95;
const ENV_NAME = 'test-kexue';

interface Results {
  backend: string;
  passed: string[];
  failed: { name: string; message: string }[];
  skipped: string[];
  importErrors: { file: string; message: string }[];
}

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

function specFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...specFiles(p));
    else if (e.name.endsWith('_test.js')) out.push(p);
  }
  return out.sort();
}

export function excludedBy(name: string): string | undefined {
  return EXCLUSIONS.find((x) => name.includes(x.pattern))?.reason;
}

interface JasmineResult {
  fullName: string;
  status: string;
  failedExpectations: { message: string }[];
}

async function worker(
  backend: string,
  filter: string | undefined,
  outFile: string | undefined,
): Promise<void> {
  register('./hooks.js', import.meta.url);
  const require = createRequire(import.meta.url);
  const jasmineRequire = require('jasmine-core/lib/jasmine-core/jasmine.js');
  const j$ = jasmineRequire.core(jasmineRequire);
  const env = j$.getEnv();
  Object.assign(globalThis, jasmineRequire.interface(j$, env));
  j$.DEFAULT_TIMEOUT_INTERVAL = 20000;
  process.on('unhandledRejection', (e) => process.stderr.write(`unhandled rejection: ${String(e)}\n`));

  if (backend === 'aten') {
    const aten = (await import('../index.js')) as { isAvailable(): boolean };
    if (!aten.isAvailable()) throw new Error('the aten addon is not built (npm run build:native)');
  } else {
    await import('@tensorflow/tfjs-backend-cpu');
  }
  const dist = path.join(path.dirname(require.resolve('@tensorflow/tfjs-core/package.json')), 'dist');
  const load = (f: string): Promise<unknown> => import(pathToFileURL(path.join(dist, f)).href);
  const util = (await load('jasmine_util.js')) as { setTestEnvs(e: object[]): void };
  util.setTestEnvs([{ name: ENV_NAME, backendName: backend, flags: {}, isDataSync: true }]);
  await load('index.js');
  await load('public/chained_ops/register_all_chained_ops.js');
  await load('register_all_gradients.js');

  const res: Results = { backend, passed: [], failed: [], skipped: [], importErrors: [] };
  for (const file of specFiles(dist)) {
    try {
      await import(pathToFileURL(file).href);
    } catch (e) {
      res.importErrors.push({ file: path.relative(dist, file), message: String((e as Error).message ?? e) });
    }
  }
  env.configure({
    random: false,
    specFilter: (spec: { getFullName(): string }) => {
      const name = spec.getFullName();
      if (filter && !name.includes(filter)) return false;
      return backend === 'cpu' || excludedBy(name) === undefined;
    },
  });
  env.addReporter({
    specDone: (r: JasmineResult) => {
      if (r.status === 'passed') res.passed.push(r.fullName);
      else if (r.status === 'failed')
        res.failed.push({ name: r.fullName, message: r.failedExpectations[0]?.message ?? '' });
      else res.skipped.push(r.fullName);
    },
  });
  await new Promise<void>((done) => {
    env.addReporter({ jasmineDone: () => done() });
    env.execute();
  });
  process.stdout.write(
    `${backend}: ${res.passed.length} passed, ${res.failed.length} failed, ${res.skipped.length} skipped/excluded, ` +
      `${res.importErrors.length} spec files failed to load\n`,
  );
  if (outFile) fs.writeFileSync(outFile, JSON.stringify(res, null, 1));
  process.exit(0);
}

function runWorker(backend: string, filter: string | undefined, outFile: string): Results {
  const args = [fileURLToPath(import.meta.url), '--backend', backend, '--out', outFile];
  if (filter) args.push('--filter', filter);
  const r = spawnSync(process.execPath, args, {
    stdio: ['ignore', 'inherit', 'pipe'],
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  if (!fs.existsSync(outFile)) {
    throw new Error(
      `tfjs-core specs on ${backend} did not complete (exit ${r.status}):\n${r.stderr.slice(-4000)}`,
    );
  }
  return JSON.parse(fs.readFileSync(outFile, 'utf8')) as Results;
}

function compare(cpu: Results, aten: Results): boolean {
  const atenPassed = new Set(aten.passed);
  const lost = cpu.passed.filter((n) => !atenPassed.has(n));
  const ratio = (cpu.passed.length - lost.length) / Math.max(cpu.passed.length, 1);
  const excluded = lost.filter((n) => excludedBy(n) !== undefined);
  const failures = new Map(aten.failed.map((f) => [f.name, f.message]));
  for (const n of lost.filter((x) => excludedBy(x) === undefined)) {
    process.stdout.write(`FAIL ${n}\n     ${(failures.get(n) ?? 'not run').split('\n')[0].slice(0, 300)}\n`);
  }
  for (const e of aten.importErrors) process.stdout.write(`LOAD ${e.file}: ${e.message.split('\n')[0]}\n`);
  process.stdout.write(
    `\naten passes ${cpu.passed.length - lost.length} of the ${cpu.passed.length} specs cpu passes ` +
      `(${(100 * ratio).toFixed(2)}%, required ${100 * REQUIRED}%); ${excluded.length} of those are excluded ` +
      `(see src/backend/aten/tfjs-core-specs/exclusions.ts), ${lost.length - excluded.length} fail\n`,
  );
  return ratio >= REQUIRED;
}

async function main(args: string[]): Promise<void> {
  const backend = option(args, '--backend');
  const filter = option(args, '--filter');
  if (backend) return worker(backend, filter, option(args, '--out'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kexue-specs-'));
  const cpu = runWorker('cpu', filter, path.join(dir, 'cpu.json'));
  const aten = runWorker('aten', filter, path.join(dir, 'aten.json'));
  const ok = compare(cpu, aten);
  process.stdout.write(`per-spec results: ${dir}\n`);
  process.exit(ok ? 0 : 1);
}

await main(process.argv.slice(2));
