import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';

import { RunStore, takeRunTimes, type RunUnit } from './run-store.js';

const tmpStore = () => new RunStore(fs.mkdtempSync(path.join(os.tmpdir(), 'kexue-runs-')), 20);

function unit(id: string, key: unknown, value: number, calls: string[]): RunUnit<number> {
  return {
    id,
    key,
    compute: async () => {
      calls.push(id);
      return value;
    },
  };
}

test('run store: records are reused only under the same key', async () => {
  const store = tmpStore();
  const calls: string[] = [];
  assert.deepEqual(
    await store.runAll([unit('a', { x: 1 }, 1, calls), unit('b', { x: 2 }, 2, calls)]),
    [1, 2],
  );
  assert.deepEqual(calls, ['a', 'b']);
  // Same keys (undefined fields and key order do not matter): nothing reruns.
  assert.deepEqual(await store.runAll([unit('a', { x: 1, y: undefined }, 9, calls)]), [1]);
  assert.deepEqual(calls, ['a', 'b']);
  // A changed key reruns.
  assert.deepEqual(await store.runAll([unit('a', { x: 3 }, 3, calls)]), [3]);
  assert.deepEqual(calls, ['a', 'b', 'a']);
  assert.equal(fs.readdirSync(store.dir).filter((f) => f.endsWith('.lock')).length, 0, 'claims released');
  assert.throws(() => store.get('../x', {}), /run id/);
});

test('run store: a run another live process holds is waited for, not recomputed', async () => {
  const store = tmpStore();
  fs.writeFileSync(path.join(store.dir, 'held.lock'), String(process.ppid)); // a live process
  const calls: string[] = [];
  const done = store.runAll([unit('held', 'k', 1, calls), unit('free', 'k', 2, calls)]);
  setTimeout(() => {
    store.put('held', 'k', 7); // the other process finishes
    fs.rmSync(path.join(store.dir, 'held.lock'));
  }, 100);
  assert.deepEqual(await done, [7, 2]);
  assert.deepEqual(calls, ['free']);
});

test("run store: a dead process's claim is taken over", async () => {
  const store = tmpStore();
  const dead = spawnSync(process.execPath, ['-e', 'process.pid']).pid!;
  fs.writeFileSync(path.join(store.dir, 'x.lock'), String(dead));
  const calls: string[] = [];
  assert.deepEqual(await store.runAll([unit('x', 'k', 5, calls)]), [5]);
  assert.deepEqual(calls, ['x']);
});

test('run store: a failing run releases its claim and records nothing', async () => {
  const store = tmpStore();
  await assert.rejects(
    store.runAll([{ id: 'bad', key: 1, compute: () => Promise.reject(new Error('boom')) }]),
    /boom/,
  );
  assert.deepEqual(fs.readdirSync(store.dir), []);
});

test('run store: each run keeps its compute time, and the tally counts computed and reused runs', async () => {
  const store = tmpStore();
  takeRunTimes(); // start from a fresh tally
  const slow: RunUnit<number> = {
    id: 'slow',
    key: 'k',
    compute: () => new Promise((r) => setTimeout(() => r(1), 60)),
  };
  await store.runAll([slow]);
  const first = takeRunTimes();
  assert.deepEqual({ ...first, seconds: 0 }, { runs: 1, reused: 0, seconds: 0, untimed: 0 });
  assert.ok(first.seconds >= 0.05 && first.seconds < 5, String(first.seconds));
  const saved = JSON.parse(fs.readFileSync(path.join(store.dir, 'slow.json'), 'utf8')) as { seconds: number };
  assert.equal(saved.seconds, first.seconds);
  // Reused: the recorded time counts again, though this pass spent nothing on it.
  await store.runAll([slow]);
  assert.deepEqual(takeRunTimes(), { runs: 1, reused: 1, seconds: first.seconds, untimed: 0 });
  // A record written without a time counts as untimed, unless the record carries its own `seconds`.
  store.put('old', 'k', 3);
  store.put('inner', 'k', { seconds: 12 });
  const calls: string[] = [];
  await store.runAll([unit('old', 'k', 0, calls), unit('inner', 'k', 0, calls)]);
  assert.deepEqual(takeRunTimes(), { runs: 2, reused: 2, seconds: 12, untimed: 1 });
  assert.deepEqual(calls, []);
});

test('run store: recorded runs are reported before any run is computed', async () => {
  const store = tmpStore();
  store.put('b', 'k', 2);
  const events: string[] = [];
  const u = (id: string, value: number): RunUnit<number> => ({
    id,
    key: 'k',
    compute: async () => {
      events.push(`compute ${id}`);
      return value;
    },
    onReused: () => events.push(`reused ${id}`),
  });
  assert.deepEqual(await store.runAll([u('a', 1), u('b', 9), u('c', 3)]), [1, 2, 3]);
  assert.deepEqual(events, ['reused b', 'compute a', 'compute c']);
});
