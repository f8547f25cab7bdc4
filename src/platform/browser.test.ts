/**
 * kexue in a browser, end to end: a page importing `kexue` (its "browser" export) is bundled by esbuild
 * with --platform=browser, served with a tiny saved encoder from a local HTTP server, and run in
 * Debian's headless Chromium (playwright-core) on the cpu and the webgl backend (SwiftShader's software
 * WebGL, so no GPU is needed). On each, its numbers must equal Node's within
 * 1e-4 (CAN, CoSENT loss, a gradient-normalized tf.LayersModel critic, and the encoder's inference on
 * the model loaded over HTTP), with no console error and no leaked tensor. A Vite production build of
 * the same page must succeed. Skipped, with the reason, only when Chromium is not installed
 * (scripts/setup.sh installs it).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { Encoder } from '../encoder/index.js';
import { CharTokenizer, ENGLISH_CHAR } from '../tokenizers/index.js';
import { saveEncoder } from '../io/encoder-files.js';
import { scenario, type ScenarioResult } from './scenario.test-util.js';

const CHROMIUM = process.env.KEXUE_CHROMIUM ?? '/usr/bin/chromium';
const skip = fs.existsSync(CHROMIUM)
  ? false
  : `Chromium not found at ${CHROMIUM} (apt-get install chromium, as scripts/setup.sh does; or set KEXUE_CHROMIUM)`;
const TOL = 1e-4;

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
let tmp = '';
let www = '';
let server: http.Server | undefined;
let base = '';

/** A user's project: node_modules/kexue → this package, node_modules/@tensorflow → ours; the page's sources. */
function makeProject(dir: string): void {
  fs.mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
  fs.symlinkSync(root, path.join(dir, 'node_modules', 'kexue'), 'dir');
  fs.symlinkSync(
    path.join(root, 'node_modules', '@tensorflow'),
    path.join(dir, 'node_modules', '@tensorflow'),
    'dir',
  );
  for (const f of ['page.test-util.js', 'scenario.test-util.js'])
    fs.copyFileSync(path.join(here, f), path.join(dir, f));
}

const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.json': 'application/json',
  '.txt': 'text/plain',
};

function serve(dir: string): Promise<string> {
  server = http.createServer((req, res) => {
    const url = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = path.join(dir, url.endsWith('/') ? `${url}index.html` : url);
    if (!file.startsWith(dir) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
    res.end(fs.readFileSync(file));
  });
  return new Promise((resolve) =>
    server!.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server!.address() as AddressInfo).port}/`),
    ),
  );
}

const backend = await initBackend({ quiet: true });

before(async () => {
  if (skip) return;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kexue-browser-'));
  makeProject(tmp);
  www = path.join(tmp, 'www');
  const tok = CharTokenizer.build(['the cat sat on the mat', 'a dog'], ENGLISH_CHAR);
  const enc = new Encoder({ vocabSize: tok.vocab.size, hidden: 16, layers: 2, heads: 2, seed: 7 });
  await saveEncoder(path.join(www, 'model'), enc, tok);
  enc.dispose();
  fs.writeFileSync(
    path.join(www, 'index.html'),
    '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>kexue</title><script type="module" src="app.js"></script>\n',
  );
  base = await serve(www);
});

after(() => {
  server?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

function maxAbsDiff(a: number[], b: number[]): number {
  assert.equal(a.length, b.length);
  return a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
}

test(
  'esbuild --platform=browser bundle of a page importing kexue runs in headless Chromium and equals Node within 1e-4',
  { skip, timeout: 300_000 },
  async (t) => {
    const esbuild = await import('esbuild');
    const built = await esbuild.build({
      entryPoints: [path.join(tmp, 'page.test-util.js')],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      outfile: path.join(www, 'app.js'),
      metafile: true,
      logLevel: 'silent',
    });
    // What went in: kexue's root entry and technique modules, nothing of the Node layer.
    const inputs = Object.keys(built.metafile.inputs);
    assert.ok(
      inputs.some((f) => f.endsWith('dist/index.js')),
      'kexue root entry bundled',
    );
    assert.deepEqual(
      inputs.filter((f) => !f.includes('node_modules/') && /dist\/(node|backend|cli|io\/(?!errors))/.test(f)),
      [],
      'no Node-layer module in the bundle',
    );

    const { chromium } = await import('playwright-core');
    // SwiftShader gives headless Chromium a software WebGL, so the webgl backend runs without a GPU.
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--use-angle=swiftshader',
        '--enable-unsafe-swiftshader',
        '--ignore-gpu-blocklist',
      ],
    });
    const nodeBefore = tf.memory().numTensors;
    const expected = await scenario(new URL('model/', base).href);
    assert.equal(tf.memory().numTensors, nodeBefore, 'tensors leaked in Node');
    // The comparison can fail: CAN must have adjusted something and the outputs must not be constant.
    assert.ok(expected.canAdjusted.some((a) => a === 1));
    assert.ok(new Set(expected.encoderMean.map((x) => x.toFixed(6))).size > 4);
    try {
      for (const name of ['cpu', 'webgl']) {
        await t.test(`on the ${name} backend`, async (st) => {
          const got = await runPage(browser, name);
          assert.deepEqual(Object.keys(got).sort(), Object.keys(expected).sort());
          for (const [key, values] of Object.entries(expected)) {
            assert.ok(values.every(Number.isFinite), `${key} finite`);
            const d = maxAbsDiff(got[key], values);
            st.diagnostic(
              `${key}: ${values.length} values, max |browser(${name}) − node(${backend})| = ${d.toExponential(2)}`,
            );
            assert.ok(d <= TOL, `${key}: browser (${name}) and Node differ by ${d} > ${TOL}`);
          }
        });
      }
    } finally {
      await browser.close();
    }
  },
);

/** Runs the page on `backendName`; fails on console errors, failed requests, page errors or leaks. */
async function runPage(
  browser: import('playwright-core').Browser,
  backendName: string,
): Promise<ScenarioResult> {
  const problems: string[] = [];
  const page = await browser.newPage();
  try {
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console.error: ${m.text()}`);
    });
    page.on('response', (r) => {
      if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    // Only the navigation is awaited here; the page signals its end through __kexue (a slow load is fine).
    await page.goto(`${base}?backend=${backendName}`, { waitUntil: 'commit', timeout: 120_000 });
    await page.waitForFunction(() => (globalThis as { __kexue?: unknown }).__kexue !== undefined, null, {
      timeout: 120_000,
    });
    const got = (await page.evaluate(() => (globalThis as { __kexue?: unknown }).__kexue)) as {
      error?: string;
      backend: string;
      result: ScenarioResult;
      leaked: number;
    };
    assert.equal(got.error, undefined, got.error);
    assert.equal(got.backend, backendName);
    assert.equal(got.leaked, 0, 'tensors leaked in the page');
    assert.deepEqual(problems, []);
    return got.result;
  } finally {
    await page.close();
  }
}

test('a Vite production build of the same page succeeds', { timeout: 90_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kexue-vite-'));
  try {
    makeProject(dir);
    fs.writeFileSync(
      path.join(dir, 'index.html'),
      '<!doctype html><meta charset="utf-8"><title>kexue</title><script type="module" src="./page.test-util.js"></script>\n',
    );
    const { build } = await import('vite');
    await build({
      root: dir,
      configFile: false,
      logLevel: 'silent',
      build: { outDir: path.join(dir, 'dist'), emptyOutDir: true, chunkSizeWarningLimit: 10_000 },
    });
    const assets = fs.readdirSync(path.join(dir, 'dist', 'assets'));
    assert.ok(fs.existsSync(path.join(dir, 'dist', 'index.html')));
    const js = assets.filter((f) => f.endsWith('.js'));
    assert.ok(js.length >= 1, `JavaScript in dist/assets: ${assets.join(', ')}`);
    const code = js.map((f) => fs.readFileSync(path.join(dir, 'dist', 'assets', f), 'utf8')).join('\n');
    // kexue's code is in (its model format name), its Node layer is not (the CLI's help text).
    assert.ok(code.includes('kexue-encoder'));
    assert.ok(!code.includes('Usage: kexue'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
