import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { syntheticResult } from '../report/fixture.test-util.js';

const bin = fileURLToPath(new URL('../../bin/kexue.js', import.meta.url));

function kexue(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, KEXUE_QUIET: '1' },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('kexue experiment: bad input exits 2 with one line', () => {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'kexue-cli-'));
  for (const args of [
    ['experiment', 'no-such'],
    ['experiment'],
    ['lab', '--budget', 'huge'],
    ['lab', '--only', 'no-such'],
  ]) {
    const r = kexue(args, cwd);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
    assert.match(r.err, /^kexue: /);
  }
  const list = kexue(['experiment', '--list', '--json'], cwd);
  assert.equal(list.code, 0);
  assert.ok(Array.isArray(JSON.parse(list.out)));
  fs.rmSync(cwd, { recursive: true, force: true });
});

test('kexue report rebuilds report/index.html from results/*.json', () => {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'kexue-cli-'));
  fs.mkdirSync(path.join(cwd, 'results'));
  fs.writeFileSync(path.join(cwd, 'results', 'toy.json'), JSON.stringify(syntheticResult('toy')));
  const r = kexue(['report', '--json'], cwd);
  assert.equal(r.code, 0, r.err);
  const s = JSON.parse(r.out) as { index: string; experiments: string[]; charts: string[] };
  assert.deepEqual(s.experiments, ['toy']);
  assert.equal(s.charts.length, 2);
  assert.match(fs.readFileSync(path.join(cwd, 'report', 'index.html'), 'utf8'), /Toy experiment &lt;toy&gt;/);
  fs.rmSync(cwd, { recursive: true, force: true });
});
