/**
 * Every TypeScript/JavaScript code block of README.md runs, as a user would run it: transpiled on its own
 * into a module of a scratch project where `kexue` is this package and the TF.js packages are ours, then
 * executed by node. The project holds what the blocks name: a small encoder in `zh-encoder/model`, also
 * served over HTTP where a block says `http://localhost:8080/models/zh-encoder/`, and a tiny Hugging Face
 * BERT checkpoint (config.json, model.safetensors, vocab.txt) in `bert-tiny/`. A block that throws,
 * or writes to stderr, fails. So the README can never again show a snippet that does not work.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import ts from 'typescript';
import { saveTinyEncoder } from './encoder/tiny.test-util.js';
import { initBackend } from './backend/index.js';
import { Encoder } from './encoder/model.js';
import { exportHuggingFaceBert } from './io/hf-files.js';
import { WordPieceTokenizer, DEFAULT_WORDPIECE } from './tokenizers/wordpiece.js';
import { Vocab } from './tokenizers/vocab.js';
import { codeBlocks } from './readme.test-util.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');

/** A scratch project: node_modules/kexue → this package, the TF.js packages (@tensorflow/tfjs too) → ours. */
function scratchProject(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kexue-readme-'));
  const nm = path.join(dir, 'node_modules');
  fs.mkdirSync(path.join(nm, '@tensorflow'), { recursive: true });
  fs.symlinkSync(root, path.join(nm, 'kexue'), 'dir');
  const ours = path.join(root, 'node_modules', '@tensorflow');
  for (const p of fs.readdirSync(ours))
    fs.symlinkSync(path.join(ours, p), path.join(nm, '@tensorflow', p), 'dir');
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  return dir;
}

await initBackend({ quiet: true });
const project = scratchProject();
const encoderDir = path.join(project, 'zh-encoder', 'model');
await saveTinyEncoder(path.join(project, 'zh-encoder'), ['你好 再见 hello world'], { hidden: 16 });
fs.renameSync(path.join(project, 'zh-encoder', 'encoder'), encoderDir);
// A tiny BERT in Hugging Face's layout, written by kexue's exporter (its parity with PyTorch is tested in io/).
const bertVocab = [
  '[PAD]',
  '[UNK]',
  '[CLS]',
  '[SEP]',
  '[MASK]',
  ...new Set('一个男人在弹吉他有人演奏乐器下雨了'),
];
const bert = new Encoder({
  vocabSize: bertVocab.length,
  hidden: 16,
  layers: 1,
  heads: 2,
  intermediate: 32,
  maxPositions: 64,
  seed: 3,
});
await exportHuggingFaceBert(
  { encoder: bert, tokenizer: new WordPieceTokenizer(new Vocab(bertVocab), DEFAULT_WORDPIECE) },
  path.join(project, 'bert-tiny'),
);
bert.dispose();
// The encoder folder over HTTP, as a static file server would serve it.
const server = http.createServer((req, res) => {
  const name = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).replace(
    /^\/models\/zh-encoder\//,
    '',
  );
  const file = path.join(encoderDir, path.basename(name));
  if (!fs.existsSync(file)) return void res.writeHead(404).end();
  res.writeHead(200).end(fs.readFileSync(file));
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const port = (server.address() as AddressInfo).port;
after(() => {
  server.close();
  fs.rmSync(project, { recursive: true, force: true });
});

/** Runs a module file with node; resolves with its exit code and output (the server stays responsive). */
function runNode(file: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file], {
      cwd: project,
      env: { ...process.env, KEXUE_QUIET: '1' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const TFJS_BANNER = /=+\nHi, looks like you are running TensorFlow\.js in Node\.js\.[^\n]*\n=+\n?/;

const runnable = codeBlocks(readme).filter((b) => ['ts', 'typescript', 'js', 'javascript'].includes(b.lang));

test('README.md has code blocks to run', () => {
  assert.ok(runnable.length >= 4, `found ${runnable.length}`);
});

for (const block of runnable) {
  test(`README.md line ${block.line}: the ${block.lang} block runs`, async () => {
    const code = block.code.replaceAll('http://localhost:8080/', `http://127.0.0.1:${port}/`);
    const js = ts.transpileModule(code, {
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
      reportDiagnostics: true,
    });
    assert.deepEqual(js.diagnostics ?? [], [], 'the block parses');
    const file = path.join(project, `block-${block.line}.mjs`);
    fs.writeFileSync(file, js.outputText);
    const r = await runNode(file);
    assert.equal(r.code, 0, `README.md line ${block.line} failed:\n${r.stderr}`);
    // TF.js itself greets Node users of its cpu backend with a banner; anything else on stderr is ours.
    const stderr = r.stderr.replace(TFJS_BANNER, '').trim();
    assert.equal(stderr, '', `README.md line ${block.line} wrote to stderr:\n${r.stderr}`);
  });
}
