/**
 * initBackend without surprises, each case in a fresh Node process (backends and TF.js's banner are
 * per process): a backend the user set is kept unless `force` or a named backend says otherwise; no
 * "Hi, looks like you are running TensorFlow.js in Node.js" banner after initBackend or from the CLI
 * (checked against a plain tfjs process that does print it); the one-line notice without the native
 * backend, silenced by `quiet` or KEXUE_QUIET=1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { initBackend } from './index.js';

const dist = fileURLToPath(new URL('..', import.meta.url));
const bin = fileURLToPath(new URL('../../bin/kexue.js', import.meta.url));
const BANNER = /looks like you are running TensorFlow\.js in Node\.js/;
const NOTICE = /^kexue: native ATen backend not built; using '(\w+)'/m;

/** Runs an ES module script in a child process from dist/ (KEXUE_BACKEND and KEXUE_QUIET unset unless given). */
function run(script: string, env: Record<string, string> = {}): { out: string; err: string } {
  const base = { ...process.env };
  delete base.KEXUE_BACKEND;
  delete base.KEXUE_QUIET;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: dist,
    env: { ...base, ...env },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  return { out: r.stdout, err: r.stderr };
}

const last = (out: string): unknown => JSON.parse(out.trim().split('\n').pop()!);

test('initBackend keeps a backend the user set; { force } and a named backend replace it', () => {
  const { out } = run(`
    import * as tf from '@tensorflow/tfjs-core';
    const { initBackend } = await import('./node.js');
    await tf.setBackend('cpu');
    const kept = await initBackend({ quiet: true });
    const keptActive = tf.getBackend();
    const forced = await initBackend({ force: true, quiet: true });
    const forcedActive = tf.getBackend();
    const again = await initBackend({ quiet: true });
    const named = await initBackend({ backend: 'cpu', quiet: true });
    let bad = '';
    try { await initBackend({ backend: 'webgl' }); } catch (e) { bad = e.message; }
    console.log(JSON.stringify({ kept, keptActive, forced, forcedActive, again, named, active: tf.getBackend(), bad }));
  `);
  const r = last(out) as Record<string, string>;
  assert.equal(r.kept, 'cpu');
  assert.equal(r.keptActive, 'cpu');
  // With force, kexue's order applies: the native backend here, else tfjs-node or wasm, never plain cpu.
  assert.notEqual(r.forced, 'cpu');
  assert.equal(r.forcedActive, r.forced);
  assert.equal(r.again, r.forced, 'a later call keeps the backend now active');
  assert.equal(r.named, 'cpu');
  assert.equal(r.active, 'cpu');
  assert.match(r.bad, /backend 'webgl' is not one of aten, tensorflow, wasm, cpu/);
});

test('without a backend set, initBackend picks by BACKEND_ORDER and repeats its answer', () => {
  const { out } = run(`
    import * as tf from '@tensorflow/tfjs-core';
    const { initBackend, BACKEND_ORDER } = await import('./node.js');
    const aten = await import('./backend/aten/index.js');
    const [a, b] = await Promise.all([initBackend({ quiet: true }), initBackend({ quiet: true })]);
    console.log(JSON.stringify({ a, b, active: tf.getBackend(), aten: aten.isAvailable(), order: BACKEND_ORDER }));
  `);
  const r = last(out) as { a: string; b: string; active: string; aten: boolean };
  assert.equal(r.a, r.b);
  assert.equal(r.active, r.a);
  if (r.aten) assert.equal(r.a, 'aten');
  else assert.notEqual(r.a, 'cpu');
});

test('no TF.js "running in Node.js" banner after initBackend on cpu (a plain tfjs process prints it)', () => {
  const plain = run(`
    import * as tf from '@tensorflow/tfjs-core';
    import '@tensorflow/tfjs-backend-cpu';
    await tf.setBackend('cpu');
    tf.tensor([1, 2]).dataSync();
  `);
  assert.match(
    plain.err + plain.out,
    BANNER,
    'the control prints the banner, so its absence below means something',
  );
  for (const [how, script, env] of [
    ['KEXUE_BACKEND=cpu', `await initBackend();`, { KEXUE_BACKEND: 'cpu' }],
    ["{ backend: 'cpu' }", `await initBackend({ backend: 'cpu' });`, {}],
    ['user set cpu first', `await tf.setBackend('cpu'); await initBackend();`, {}],
    // The native backend's fallbacks run cpu kernels: their first write must be quiet too.
    [
      'native backend',
      `await initBackend({ quiet: true }); tf.findBackend('cpu').write(new Float32Array(1), [1], 'float32');`,
      {},
    ],
  ] as const) {
    const r = run(
      `import * as tf from '@tensorflow/tfjs-core';
       const { initBackend } = await import('./node.js');
       ${script}
       tf.add(tf.tensor([1, 2]), 1).dataSync();
       tf.tensor([3]).dataSync();
       console.log(JSON.stringify(tf.env().getBool('IS_TEST')));`,
      env,
    );
    assert.doesNotMatch(r.err + r.out, BANNER, how);
    assert.equal(last(r.out), false, `${how}: IS_TEST is restored`);
  }
});

test('no banner from the CLI on the cpu backend (kexue encode runs a model)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kexue-banner-'));
  try {
    await initBackend({ quiet: true }); // this process makes the model the child reads
    const { saveTinyEncoder } = await import('../encoder/tiny.test-util.js');
    const { encoderDir } = await saveTinyEncoder(dir, ['the cat sat', 'a dog']);
    const texts = path.join(dir, 'texts.txt');
    fs.writeFileSync(texts, 'the cat\na dog sat\n');
    const out = path.join(dir, 'v.npy');
    const r = spawnSync(
      process.execPath,
      [bin, 'encode', '--model', encoderDir, '--pooling', 'mean', '--in', texts, '--out', out],
      { encoding: 'utf8', env: { ...process.env, KEXUE_BACKEND: 'cpu', KEXUE_QUIET: '' } },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr + r.stdout, BANNER);
    assert.ok(fs.existsSync(out));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('without the native backend: one notice line on stderr, silenced by quiet or KEXUE_QUIET=1', () => {
  const noAten = { KEXUE_ATEN_ADDON: '/nonexistent/kexue_aten.node' };
  const script = (opts: string) =>
    `const { initBackend } = await import('./node.js');
     console.log(JSON.stringify(await initBackend(${opts})));`;
  const loud = run(script(''), noAten);
  const chosen = last(loud.out) as string;
  assert.notEqual(chosen, 'aten');
  const lines = loud.err.split('\n').filter((l) => NOTICE.test(l));
  assert.equal(lines.length, 1, loud.err);
  assert.equal(NOTICE.exec(lines[0])![1], chosen);
  assert.doesNotMatch(run(script('{ quiet: true }'), noAten).err, NOTICE);
  assert.doesNotMatch(run(script(''), { ...noAten, KEXUE_QUIET: '1' }).err, NOTICE);
});
