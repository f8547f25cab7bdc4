import { test } from 'node:test';
import assert from 'node:assert/strict';
import { warmupSchedule } from './schedule.js';

const close = (a: number, b: number) => Math.abs(a - b) < 1e-12;

test('linear warmup then linear decay to min', () => {
  const s = warmupSchedule({ peak: 1e-3, warmupSteps: 10, totalSteps: 110, decay: 'linear', min: 1e-4 });
  assert.ok(close(s(0), 1e-4));
  assert.ok(close(s(4), 5e-4));
  assert.ok(close(s(9), 1e-3));
  assert.ok(close(s(10), 1e-3));
  assert.ok(close(s(60), 1e-4 + 0.9e-3 * 0.5));
  assert.ok(close(s(110), 1e-4));
  assert.ok(close(s(500), 1e-4));
});

test('cosine decay: half-way is the mid value, end is min, monotone after warmup', () => {
  const s = warmupSchedule({ peak: 2, warmupSteps: 0, totalSteps: 100, decay: 'cosine' });
  assert.ok(close(s(0), 2));
  assert.ok(close(s(50), 1));
  assert.ok(close(s(25), 1 + Math.cos(Math.PI / 4)));
  assert.ok(close(s(100), 0));
  for (let i = 1; i <= 100; i++) assert.ok(s(i) <= s(i - 1));
});

test('constant after warmup; bad arguments throw', () => {
  const s = warmupSchedule({ peak: 1, warmupSteps: 4, totalSteps: 10, decay: 'constant' });
  assert.deepEqual([0, 1, 2, 3, 4, 9, 20].map(s), [0.25, 0.5, 0.75, 1, 1, 1, 1]);
  assert.throws(
    () => warmupSchedule({ peak: 1, warmupSteps: 10, totalSteps: 5 }),
    /schedule: needs peak ≥ 0/,
  );
});
