import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lateProgress } from './progress.js';

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
