/**
 * `import 'kexue'` and the technique folders must bundle for a browser: nothing they import, directly or
 * through other kexue modules, may reach a Node built-in or `process`. Checked on the compiled import
 * graph (the esbuild bundle of test/browser checks the same end to end).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('..', import.meta.url));
const builtins = new Set(builtinModules);

/** Every problem reachable from `entry`: Node built-in imports and uses of `process`, with the path to them. */
function nodeOnlyReach(entry: string): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  const visit = (file: string, via: string[]) => {
    if (seen.has(file)) return;
    seen.add(file);
    const src = fs.readFileSync(file, 'utf8');
    const chain = [...via, path.relative(dist, file)].join(' → ');
    if (/\bprocess\.(env|argv|stdout|stderr|exit|cwd|platform|versions?)\b/.test(src))
      problems.push(`${chain} uses process`);
    for (const m of src.matchAll(
      /(?:^|\n)\s*(?:import|export)[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g,
    )) {
      const spec = m[1] ?? m[2];
      if (spec.startsWith('node:') || builtins.has(spec.split('/')[0]))
        problems.push(`${chain} imports ${spec}`);
      else if (spec.startsWith('.'))
        visit(path.resolve(path.dirname(file), spec), [...via, path.relative(dist, file)]);
    }
  };
  visit(entry, []);
  return problems;
}

// The root entry (what `import 'kexue'` loads) and each technique folder on its own.
const entries = [
  'index.js',
  ...[
    'can',
    'penalty',
    'childtuning',
    'density',
    'attention',
    'cosent',
    'encoder',
    'gan',
    'nn',
    'grad',
    'tokenizers',
    'hf',
  ].map((folder) => path.join(folder, 'index.js')),
];

for (const entry of entries) {
  test(`${entry} reaches no Node built-in and no process (browser-safe)`, () => {
    assert.deepEqual(nodeOnlyReach(path.join(dist, entry)), []);
  });
}

test('the checker finds what it must: kexue/node reaches node:fs and process', () => {
  const problems = nodeOnlyReach(path.join(dist, 'node.js'));
  assert.ok(problems.some((p) => p.endsWith('imports node:fs')));
  assert.ok(problems.some((p) => p.endsWith('uses process')));
});
