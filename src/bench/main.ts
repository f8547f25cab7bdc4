/**
 * `npm run bench -- <name> [args]`: runs src/bench/<name>.ts. Benchmarks print our timings beside a
 * reference implementation run in the same script, as ratios; they are never part of the test suite.
 */
import fs from 'node:fs';

const [name, ...args] = process.argv.slice(2);
const here = new URL('.', import.meta.url);
const available = fs
  .readdirSync(here)
  .filter((f) => f.endsWith('.js') && f !== 'main.js' && !f.endsWith('.test.js') && !f.startsWith('_'))
  .map((f) => f.replace(/\.js$/, ''));

if (!name || !available.includes(name)) {
  process.stderr.write(`usage: npm run bench -- <${available.join('|')}> [options]\n`);
  process.exit(2);
}
const mod = (await import(new URL(`./${name}.js`, here).href)) as { run(args: string[]): Promise<void> };
await mod.run(args);
