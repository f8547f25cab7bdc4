/**
 * The fallback path: the core tests again with the backend forced to wasm, as on a machine without
 * libtorch. One child `node --test` run, so the suite keeps a single summary.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('..', import.meta.url));
const CORE = ['can', 'grad', 'nn'];

test(
  'core tests pass with KEXUE_BACKEND=wasm',
  { skip: process.env.KEXUE_BACKEND === 'wasm' && 'already on wasm' },
  () => {
    const dirs = CORE.map((d) => `${dist}${d}`).filter((d) => fs.existsSync(d));
    // Without NODE_TEST_CONTEXT the child reports in TAP on stdout rather than to this runner.
    const env: NodeJS.ProcessEnv = { ...process.env, KEXUE_BACKEND: 'wasm', KEXUE_QUIET: '1' };
    delete env.NODE_TEST_CONTEXT;
    const r = spawnSync(process.execPath, ['--test', '--test-reporter=tap', ...dirs], {
      encoding: 'utf8',
      env,
    });
    const summary = r.stdout.split('\n').filter((l) => /^# (tests|pass|fail)/.test(l));
    assert.equal(
      r.status,
      0,
      `wasm run failed:\n${summary.join('\n')}\n${r.stdout
        .split('\n')
        .filter((l) => l.startsWith('not ok'))
        .join('\n')}`,
    );
    assert.ok(
      summary.some((l) => /^# pass [1-9]/.test(l)),
      'some tests ran',
    );
  },
);
