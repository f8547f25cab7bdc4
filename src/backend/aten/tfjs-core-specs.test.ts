/**
 * tfjs-core's own op specs against the native backend (`npm run test:tfjs-core`), as part of the suite:
 * at least 95% of the specs the cpu backend passes must pass on aten.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isAvailable } from './index.js';

const runner = fileURLToPath(new URL('./tfjs-core-specs/run.js', import.meta.url));

test(
  'tfjs-core op specs pass on the aten backend',
  { skip: !isAvailable() && 'native addon not built' },
  () => {
    const env: NodeJS.ProcessEnv = { ...process.env, KEXUE_QUIET: '1' };
    delete env.NODE_TEST_CONTEXT;
    const r = spawnSync(process.execPath, [runner], { encoding: 'utf8', env, maxBuffer: 64 << 20 });
    const verdict = r.stdout.split('\n').find((l) => l.startsWith('aten passes')) ?? r.stderr.slice(-2000);
    assert.equal(r.status, 0, verdict);
    assert.match(verdict, /aten passes \d+ of the \d+ specs cpu passes/);
  },
);
