/**
 * The technique folders must bundle for a browser: nothing they import, directly or through other kexue
 * modules, may reach a Node built-in or `process`. Checked on the compiled import graph.
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

// Folders that still reach Node through the encoder's disk I/O are listed as todo until the platform
// split moves file formats to the Node layer (the browser issue); they are reported, not hidden.
const NOT_YET = new Set(['cosent', 'encoder', 'gan']);

for (const folder of ['can', 'penalty', 'childtuning', 'density', 'attention', 'hf', ...NOT_YET]) {
  const entry = path.join(dist, folder, 'index.js');
  const todo = NOT_YET.has(folder)
    ? 'reaches Node through disk I/O; the platform split will fix it'
    : undefined;
  test(`src/${folder} reaches no Node built-in and no process (browser-safe)`, { todo }, () => {
    assert.deepEqual(nodeOnlyReach(entry), []);
  });
}
