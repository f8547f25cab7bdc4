import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { kexue, scratch } from './cli.test-util.js';

const bin = fileURLToPath(new URL('../../bin/kexue.js', import.meta.url));
const { dir, put } = scratch('interrupt');

/** Every temporary kexue writes: `<file>.tmp-<pid>-<time>` and `<checkpoint>.partial`. */
function temporaries(root: string): string[] {
  return fs
    .readdirSync(root, { recursive: true })
    .map(String)
    .filter((f) => /\.tmp-|\.partial/.test(f));
}

test('SIGINT during training exits 130 and leaves no temporaries; SIGTERM exits 143', async () => {
  const corpus = put('c.txt', Array.from({ length: 200 }, (_, i) => `the cat sat on mat ${i}`).join('\n'));
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    const out = path.join(dir, `run-${signal}`);
    const child = spawn(
      process.execPath,
      [
        bin,
        'pretrain',
        '--corpus',
        corpus,
        '--lang',
        'en',
        '--layers',
        '1',
        '--hidden',
        '16',
        '--heads',
        '2',
      ].concat([
        '--seq',
        '16',
        '--batch-size',
        '4',
        '--steps',
        '100000',
        '--checkpoint-every',
        '1',
        '--out',
        out,
      ]),
      { env: { ...process.env, KEXUE_QUIET: '1' }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let err = '';
    const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    // Interrupt once training has started (the first progress line), checkpoints being written often.
    const started = await new Promise<boolean>((resolve) => {
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        if (/pretrain/.test(err)) resolve(true);
      });
      child.on('exit', () => resolve(false));
    });
    assert.ok(started, `training did not start: ${err}`);
    child.kill(signal);
    // A child that ignored the signal would hang the suite: kill it hard and fail instead.
    const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const exitCode = await exited;
    clearTimeout(guard);
    assert.equal(exitCode, code, err);
    assert.match(err, new RegExp(`interrupted \\(${signal}\\)`));
    assert.deepEqual(temporaries(dir), []);
  }
});

test('temporaries left by a killed run are removed by the next write beside them', () => {
  const probs = put('p.csv', '0.5,0.5\n0.1,0.9\n');
  const out = path.join(dir, 'adjusted.npy');
  const stale = put('adjusted.npy.tmp-99999999-1', 'half');
  const r = kexue('can', '--probs', probs, '--prior', 'uniform', '--topk', '2', '--out', out);
  assert.equal(r.code, 0, r.err);
  assert.ok(fs.existsSync(out));
  assert.ok(!fs.existsSync(stale));
});

test('runCli removes its signal handlers when an interruptible command returns', async () => {
  const { main } = await import('./main.js');
  const before = [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')];
  const write = process.stderr.write;
  process.stderr.write = () => true; // the command's one-line error
  try {
    for (let i = 0; i < 12; i++) assert.equal(await main(['pretrain', '--corpus', 'no-such-file.txt']), 2);
  } finally {
    process.stderr.write = write;
  }
  assert.deepEqual([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')], before);
});
