/**
 * Fault injection across commands: full and read-only disks (small tmpfs mounts, when this process may
 * mount), outputs under a file or onto a folder, SIGKILL at seeded random moments during checkpoint
 * writes, damaged model folders and malformed text encodings. Every failure must be the user's kind:
 * exit 2, one line on stderr naming the place, no stack trace, no output file, no temporaries left.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { kexue, scratch } from './cli.test-util.js';
import { encodeNpy } from '../io/npy.js';
import { Rng } from '../util/rng.js';

const { dir, put } = scratch('faults');
const mounts: string[] = [];
after(() => {
  for (const m of mounts) spawnSync('umount', [m]);
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A tmpfs of `size` mounted at dir/name (read-only with ro), or undefined where mounting is not allowed. */
function tmpfs(name: string, size: string, ro = false): string | undefined {
  const at = path.join(dir, name);
  fs.mkdirSync(at);
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}${ro ? ',ro' : ''}`, 'tmpfs', at]);
  if (r.status !== 0) return undefined;
  mounts.push(at);
  return at;
}

/** Files whose name marks a half-written temporary, anywhere under `root`. */
function temporaries(root: string): string[] {
  if (!fs.existsSync(root)) return [];
  return (fs.readdirSync(root, { recursive: true }) as string[]).filter((f) => /\.tmp-|\.partial/.test(f));
}

/** The command fails as the user's problem: exit 2, one line matching `message`, nothing at `absent`. */
function failsCleanly(args: string[], message: RegExp, absent: string[] = []): void {
  const r = kexue(...args);
  assert.equal(r.code, 2, `${args.join(' ')}\n${r.err}`);
  // Progress lines may come first (stderr is not a terminal here); the error is one line, the last.
  const lines = r.err.trim().split('\n');
  const errors = lines.filter((l) => l.startsWith('kexue: '));
  assert.equal(errors.length, 1, r.err);
  assert.equal(errors[0], lines[lines.length - 1]);
  assert.match(errors[0], message);
  assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
  for (const p of absent) assert.ok(!fs.existsSync(p), `${p} must not exist`);
}

// Inputs: a probability matrix big enough to overflow a 64 KiB disk, and a tiny image set for density.
const rng = new Rng(3);
const rows = 4000;
const probs = new Float32Array(rows * 4);
for (let i = 0; i < rows; i++) {
  const w = [rng.next() + 0.1, rng.next() + 0.1, rng.next() + 0.1, rng.next() + 0.1];
  const s = w.reduce((a, b) => a + b, 0);
  w.forEach((x, j) => (probs[i * 4 + j] = x / s));
}
const probsFile = put('probs.npy', encodeNpy(probs, [rows, 4]));
const images = new Float32Array(40 * 16).map(() => (rng.next() < 0.3 ? 1 : 0));
const imagesFile = put('images.npy', encodeNpy(images, [40, 16]));
const densityArgs = ['density', 'train', '--data', imagesFile, '--epochs', '3', '--batch-size', '10'];

test('a full disk: one line naming the output, no partial file, no temporaries', (t) => {
  const full = tmpfs('full', '64k');
  if (!full) return t.skip('cannot mount a tmpfs here (not root)');
  const out = path.join(full, 'adjusted.npy');
  failsCleanly(
    ['can', '--probs', probsFile, '--prior', 'uniform', '--out', out],
    /the disk is full \(ENOSPC\)/,
    [out],
  );
  assert.deepEqual(temporaries(full), []);
  // A model folder (VAE checkpoints of ~270 KB) on the same disk.
  const model = path.join(full, 'vae');
  failsCleanly([...densityArgs, '--out', model], /the disk is full \(ENOSPC\)/, [
    path.join(model, 'model.json'),
  ]);
  assert.deepEqual(temporaries(full), []);
});

test('a read-only disk: refused before any work', (t) => {
  const ro = tmpfs('ro', '1m', true);
  if (!ro) return t.skip('cannot mount a tmpfs here (not root)');
  failsCleanly(
    ['can', '--probs', probsFile, '--prior', 'uniform', '--out', path.join(ro, 'a.npy')],
    /read-only/,
  );
  failsCleanly([...densityArgs, '--out', path.join(ro, 'vae')], /read-only/);
});

test('outputs under a file, onto a folder, or onto an input are refused', () => {
  const file = put('plain.txt', 'x\n');
  failsCleanly(
    ['can', '--probs', probsFile, '--prior', 'uniform', '--out', path.join(file, 'a.npy')],
    /plain\.txt/,
  );
  const folder = path.join(dir, 'folder.npy');
  fs.mkdirSync(folder);
  failsCleanly(['can', '--probs', probsFile, '--prior', 'uniform', '--out', folder], /folder\.npy/);
  failsCleanly(['can', '--probs', probsFile, '--prior', 'uniform', '--out', probsFile], /probs\.npy/);
  assert.equal(fs.statSync(probsFile).size, encodeNpy(probs, [rows, 4]).length, 'the input is intact');
});

test('SIGKILL at random moments of training: the next run resumes, finishes and leaves no temporaries', async () => {
  const bin = fileURLToPath(new URL('../../bin/kexue.js', import.meta.url));
  const out = path.join(dir, 'killed');
  const args = [...densityArgs, '--epochs', '40', '--out', out];
  const kill = new Rng(11);
  for (let round = 0; round < 3; round++) {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, KEXUE_QUIET: '1' } });
    // Listen before the kill: on a fast machine the last rounds may finish before it.
    const exited = new Promise((r) => child.once('exit', r));
    await new Promise((r) => setTimeout(r, 700 + kill.int(1500)));
    child.kill('SIGKILL');
    await exited;
  }
  const r = kexue(...args, '--json');
  assert.equal(r.code, 0, r.err);
  const summary = JSON.parse(r.out) as { epochs: number };
  assert.equal(summary.epochs, 40);
  assert.ok(fs.existsSync(path.join(out, 'model.json')));
  assert.deepEqual(temporaries(out), []);
  const scores = path.join(dir, 'scores.npy');
  const s = kexue('density', 'score', '--model', out, '--in', imagesFile, '--k', '3', '--out', scores);
  assert.equal(s.code, 0, s.err);
});

test('damaged model folders: one line naming the file', () => {
  const good = path.join(dir, 'good');
  assert.equal(kexue(...densityArgs, '--epochs', '1', '--out', good).code, 0);
  const damaged = (name: string, damage: (d: string) => void) => {
    const d = path.join(dir, name);
    fs.cpSync(good, d, { recursive: true });
    damage(d);
    return d;
  };
  const weights = (d: string) => path.join(d, 'weights.bin');
  const cases: [string, (d: string) => void, RegExp][] = [
    ['no-weights', (d) => fs.rmSync(weights(d)), /weights\.bin/],
    ['short-weights', (d) => fs.truncateSync(weights(d), 100), /weights are 100 bytes/],
    [
      'nan-weights',
      (d) => {
        const b = fs.readFileSync(weights(d));
        new Float32Array(b.buffer, b.byteOffset, 4).fill(NaN);
        fs.writeFileSync(weights(d), b);
      },
      /weights\.bin: weight .* = NaN is not finite: the model is damaged/,
    ],
    ['bad-json', (d) => fs.writeFileSync(path.join(d, 'model.json'), '{"modelTopology": '), /model\.json/],
    [
      'null-json',
      (d) => fs.writeFileSync(path.join(d, 'model.json'), 'null'),
      /model\.json.*weightsManifest/,
    ],
    [
      'empty-group',
      (d) => fs.writeFileSync(path.join(d, 'model.json'), '{"weightsManifest": [{}]}'),
      /model\.json.*weightsManifest\[0\]/,
    ],
  ];
  for (const [name, damage, message] of cases) {
    const d = damaged(name, damage);
    const out = path.join(dir, `${name}.npy`);
    failsCleanly(['density', 'score', '--model', d, '--in', imagesFile, '--k', '2', '--out', out], message, [
      out,
    ]);
  }
});

test('malformed text encodings: one line naming the file and line', () => {
  // GBK bytes for 你好 in a labels file, then a Latin-1 byte in a CSV of probabilities.
  const gbk = put(
    'labels.txt',
    Buffer.concat([Buffer.from('0\n1\n'), Buffer.from([0xc4, 0xe3, 0xba, 0xc3, 0x0a])]),
  );
  const csv = put(
    'p.csv',
    Buffer.concat([Buffer.from('0.5,0.5\n0.2,0.8\n0.4'), Buffer.from([0xe9]), Buffer.from(',0.6\n')]),
  );
  failsCleanly(['can', '--probs', csv, '--prior', 'uniform'], /p\.csv, line 3: .*UTF-8/);
  const two = put('two.npy', encodeNpy(new Float32Array([0.5, 0.5, 0.2, 0.8, 0.4, 0.6]), [3, 2]));
  failsCleanly(['can', '--probs', two, '--prior', gbk], /labels\.txt, line 3: .*UTF-8/);
});
