import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lateProgress, Progress } from './progress.js';

function sink() {
  const lines: string[] = [];
  return {
    lines,
    stream: { isTTY: false, write: (s: string) => lines.push(s) } as unknown as NodeJS.WriteStream,
  };
}

test('lateProgress: quiet for quick work, a bar (ETA from the start) once the work runs long', () => {
  const quick = sink();
  const q = lateProgress('quick', { afterMs: 60_000, stream: quick.stream });
  for (let i = 1; i <= 10; i++) q(i, 10);
  assert.deepEqual(quick.lines, []);

  const slow = sink();
  const s = lateProgress('slow', { afterMs: 0, stream: slow.stream });
  for (let i = 1; i <= 10; i++) s(i, 10);
  assert.ok(slow.lines.length >= 1);
  assert.match(slow.lines[slow.lines.length - 1], /^slow 100% 10\/10 /);

  const silent = sink();
  const z = lateProgress('silent', { afterMs: 0, silent: true, stream: silent.stream });
  z(10, 10);
  assert.deepEqual(silent.lines, []);
});

test('Progress.skip: reused steps advance the bar but not the rate the ETA extrapolates', () => {
  const out = sink();
  const startedAt = Date.now() - 10_000;
  const bar = new Progress({ label: 'job', total: 100, every: 0, startedAt, stream: out.stream });
  bar.skip(50);
  assert.match(out.lines[0], /^job {2}50% 50\/100 \d+s eta \?\n$/);
  // 10 steps worked in ~10 s, 40 left: ~40 s (counting the skipped 50 as work would say ~7 s).
  bar.tick(10);
  const eta = Number(/eta (\d+)s\n$/.exec(out.lines[1])![1]);
  assert.ok(eta >= 39 && eta <= 41, out.lines[1]);
  // Seconds are rounded before minutes are split off: 119.6 s is 2m00s.
  const late = sink();
  new Progress({
    label: 'x',
    total: 2,
    every: 0,
    startedAt: Date.now() - 59_600,
    stream: late.stream,
  }).tick();
  assert.match(late.lines[0], / 1\/2 1m00s eta 1m00s\n$/);
  bar.skip(40);
  assert.match(out.lines[2], /100% 100\/100 .* eta 0s\n$/);
});

test('Progress.grow: work planned along the way extends the total (the bar is not full early)', () => {
  const out = sink();
  const bar = new Progress({ label: 'job', total: 10, every: 0, stream: out.stream });
  bar.tick(10);
  assert.match(out.lines[0], /100% 10\/10 /);
  bar.grow(10);
  bar.tick(5);
  assert.match(out.lines[1], /^job {2}75% 15\/20 /);
});
