/** The full-budget results committed in results/full/ parse as results and say where they came from. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseResult } from './parse.js';
import { experiments } from '../experiments/index.js';

const dir = fileURLToPath(new URL('../../results/full/', import.meta.url));
const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.json')) : [];

test('committed full-budget results: schema, budget, versions, one per known experiment', () => {
  assert.ok(files.length > 0, `no results in ${dir}`);
  const names = new Set(experiments.map((e) => e.name));
  for (const f of files) {
    const file = path.join(dir, f);
    const r = parseResult(JSON.parse(fs.readFileSync(file, 'utf8')), file);
    assert.equal(`${r.name}.json`, f, 'file named after its experiment');
    assert.ok(names.has(r.name), `${r.name} is a registered experiment`);
    assert.equal(r.budget, 'full', f);
    assert.ok(r.seconds > 0, f);
    for (const key of ['kexue', 'tfjs', 'node', 'backend', 'platform', 'date'] as const)
      assert.ok(r.env[key], `${f}: env.${key}`);
    assert.ok(r.tables.length > 0 && r.verdict.length > 0, f);
  }
});

// Results run before the runner recorded provenance lack commit and machine; they are reported here until
// rerun, not hidden.
const missing = files.filter((f) => {
  const env = (JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as { env: Record<string, unknown> })
    .env;
  return !env.commit || !env.machine;
});
test(
  'committed full-budget results record the commit and machine that produced them',
  {
    todo: missing.length ? `rerun for provenance: ${missing.join(', ')}` : undefined,
  },
  () => {
    assert.deepEqual(missing, []);
  },
);
