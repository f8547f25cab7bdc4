/**
 * The shell blocks of README.md (the TypeScript ones run in readme.test.ts):
 *  - every `kexue …` command line parses with that command's own flags and subcommands, so a renamed or
 *    removed flag cannot stay in the README;
 *  - the cheap ones run for real on small fixtures (`--help`, `kexue can …`) and must exit 0;
 *  - `npm run X` names a script of package.json, `make X` a Makefile target, and the Debian packages an
 *    `apt-get install` line names are the ones scripts/setup.sh installs.
 * The long commands (pretraining, full-budget experiments, training on real data) are not run here: their
 * flags are checked, and the commands themselves are tested with small inputs in src/cli/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { codeBlocks } from './readme.test-util.js';
import { commands } from './cli/commands/index.js';
import { parseCommandArgs } from './cli/command.js';
import { writeNpy } from './io/npy.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');

interface ShellLine {
  /** 1-based README line where the command starts. */
  line: number;
  argv: string[];
}

/** Splits a shell block into commands: continuations joined, comments dropped, `VAR=x` lines applied. */
export function shellCommands(code: string, firstLine: number): ShellLine[] {
  const vars: Record<string, string> = {};
  const out: ShellLine[] = [];
  const lines = code.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let text = lines[i];
    while (text.endsWith('\\') && i + 1 < lines.length) text = text.slice(0, -1) + ' ' + lines[++i];
    const argv = splitWords(text, vars);
    const assign = argv.length === 1 ? /^(\w+)=(.*)$/.exec(argv[0]) : null;
    if (assign) vars[assign[1]] = assign[2];
    else if (argv.length) out.push({ line: firstLine + 1 + start, argv });
  }
  return out;
}

function splitWords(text: string, vars: Record<string, string>): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = '';
      else word = (word ?? '') + c;
    } else if (c === '"' || c === "'") {
      quote = c;
      word ??= '';
    } else if (c === '#' && word === undefined) break;
    else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (c === '$') {
      const name = /^\w+/.exec(text.slice(i + 1))![0];
      word = (word ?? '') + (vars[name] ?? '');
      i += name.length;
    } else word = (word ?? '') + c;
  }
  if (word !== undefined) words.push(word);
  return words;
}

const blocks = codeBlocks(readme).filter((b) => b.lang === 'sh');
const all = blocks.flatMap((b) => shellCommands(b.code, b.line));
const kexueArgs = (argv: string[]) =>
  argv[0] === 'kexue'
    ? argv.slice(1)
    : argv[0] === 'node' && argv[1] === 'bin/kexue.js'
      ? argv.slice(2)
      : null;

test('README shell blocks: the splitter joins continuations, drops comments and applies variables', () => {
  assert.deepEqual(
    shellCommands('D=a/b\nkexue x --in $D/c "q r" \\\n  --k 5   # note\n# only a comment', 10),
    [{ line: 12, argv: ['kexue', 'x', '--in', 'a/b/c', 'q r', '--k', '5'] }],
  );
});

test('README shell blocks: every kexue command line parses with its own flags', () => {
  const lines = all.filter((l) => kexueArgs(l.argv));
  assert.ok(lines.length >= 20, `only ${lines.length} kexue lines found`);
  for (const l of lines) {
    const args = kexueArgs(l.argv)!;
    if (args[0] === '--help') continue;
    const cmd = commands.find((c) => c.name === args[0]);
    assert.ok(cmd, `README.md line ${l.line}: no command 'kexue ${args[0]}'`);
    const where = `README.md line ${l.line}: kexue ${args.join(' ')}`;
    let positionals: string[] = [];
    try {
      positionals = parseCommandArgs(cmd, args.slice(1)).positionals;
    } catch (e) {
      assert.fail(`${where}: ${(e as Error).message}`);
    }
    if (!cmd.positionals && !cmd.subcommands)
      assert.equal(positionals.length, 0, `${where}: takes no positional argument`);
  }
});

test('README shell blocks: npm scripts, make targets and apt packages exist', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const makefile = fs.readFileSync(path.join(root, 'Makefile'), 'utf8');
  const setup = fs.readFileSync(path.join(root, 'scripts', 'setup.sh'), 'utf8');
  let checked = 0;
  for (const { line, argv } of all) {
    const where = `README.md line ${line}: ${argv.join(' ')}`;
    if (argv[0] === 'npm' && argv[1] === 'run') assert.ok(pkg.scripts[argv[2]], `${where}: no npm script`);
    else if (argv[0] === 'npm' && ['test', 'start'].includes(argv[1]))
      assert.ok(pkg.scripts[argv[1]], `${where}: no npm script`);
    else if (argv[0] === 'make')
      assert.match(makefile, new RegExp(`^${argv[1]}:`, 'm'), `${where}: no Makefile target`);
    else if (argv[0] === 'apt-get')
      for (const p of argv.slice(2))
        assert.match(setup, new RegExp(`\\b${p}\\b`), `${where}: setup.sh lacks ${p}`);
    else continue;
    checked++;
  }
  assert.ok(checked >= 6, `only ${checked} npm/make/apt lines found`);
});

/** The files the README's `kexue can` lines name, small and valid. */
function canFixtures(dir: string): void {
  const probs = Float32Array.from({ length: 8 * 3 }, (_, i) => [0.6, 0.3, 0.1][i % 3]);
  for (const f of ['test_probs.npy', 'test.npy', 'dev.npy']) writeNpy(path.join(dir, f), probs, [8, 3]);
  const labels = [0, 1, 2, 0, 1, 2, 0, 0].join('\n') + '\n';
  for (const f of ['train_labels.txt', 'test_labels.txt', 'dev_labels.txt'])
    fs.writeFileSync(path.join(dir, f), labels);
  fs.writeFileSync(path.join(dir, 'logits.csv'), 'a,b,c\n' + Array(8).fill('2,1,0').join('\n') + '\n');
}

test('README shell blocks: the cheap commands run (--help, kexue can) and exit 0', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kexue-readme-sh-'));
  canFixtures(dir);
  // `kexue can` on the fixtures (not the line that post-processes `kexue finetune`'s output).
  const runs = all.filter((l) => {
    const a = kexueArgs(l.argv);
    return (
      a &&
      (a[0] === '--help' || (a[0] === 'can' && fs.existsSync(path.join(dir, a[a.indexOf('--probs') + 1]))))
    );
  });
  assert.ok(runs.length >= 4, `only ${runs.length} runnable lines`);
  for (const { line, argv } of runs) {
    const r = spawnSync(process.execPath, [path.join(root, 'bin', 'kexue.js'), ...kexueArgs(argv)!], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, KEXUE_QUIET: '1' },
    });
    assert.equal(r.status, 0, `README.md line ${line}: ${argv.join(' ')} exited ${r.status}: ${r.stderr}`);
  }
  assert.ok(fs.existsSync(path.join(dir, 'adjusted.npy')), 'the --out file was written');
});
