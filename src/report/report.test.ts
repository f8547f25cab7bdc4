import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildReport, readResults } from './build.js';
import { formatCell, linkify, slug } from './html.js';
import { renderTextWithMath } from './math.js';
import { parseResult } from './parse.js';
import { syntheticResult } from './fixture.test-util.js';

/** Debian's browser; KEXUE_CHROMIUM points elsewhere (e.g. to check the skip path). */
const CHROMIUM = process.env.KEXUE_CHROMIUM ?? '/usr/bin/chromium';

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'kexue-report-'));
}

/** Writes results the way the runner does: JSON.stringify turns NaN into null. */
function writeResults(dir: string, names: string[]): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const n of names) fs.writeFileSync(path.join(dir, `${n}.json`), JSON.stringify(syntheticResult(n)));
}

test('renderTextWithMath: escapes text, renders $...$ with KaTeX, keeps \\$ and lone $', () => {
  const html = renderTextWithMath('a <b> $x^2$ costs \\$5 and $ alone');
  assert.ok(html.startsWith('a &lt;b&gt; <span class="katex">'));
  assert.ok(html.includes('costs $5 and $ alone'));
  assert.equal((html.match(/class="katex"/g) ?? []).length, 1);
  assert.ok(!renderTextWithMath('<script>alert(1)</script>').includes('<script>'));
});

test('linkify, slug and formatCell', () => {
  assert.equal(
    linkify('see https://kexue.fm/archives/8728. <x>'),
    'see <a href="https://kexue.fm/archives/8728">https://kexue.fm/archives/8728</a>. &lt;x&gt;',
  );
  assert.equal(slug('CAN / IFLYTEK'), 'can-iflytek');
  assert.equal(formatCell(60.0612345), '60.06');
  assert.equal(formatCell(12000), '12000');
  assert.equal(formatCell(null), '—');
  assert.equal(formatCell('<i>'), '&lt;i&gt;');
});

test('parseResult: round trip through JSON, NaN comes back from null, bad fields are named', () => {
  const r = parseResult(JSON.parse(JSON.stringify(syntheticResult())), 'toy.json');
  assert.ok(Number.isNaN(r.charts[1].series[0].y[2]));
  assert.deepEqual(r.tables, syntheticResult().tables);
  const bad = JSON.parse(JSON.stringify(syntheticResult())) as Record<string, unknown>;
  (bad.charts as { kind: string }[])[0].kind = 'pie';
  assert.throws(
    () => parseResult(bad, 'toy.json'),
    /toy\.json, field charts\[0\]\.kind: expected 'line' or 'bar'/,
  );
  assert.throws(() => parseResult({ ...syntheticResult(), seconds: 'x' }, 'f.json'), /field seconds/);
});

test('buildReport: empty results say so; unreadable files are listed, not fatal', () => {
  const dir = tempDir();
  const empty = buildReport({ resultsDir: path.join(dir, 'none'), reportDir: path.join(dir, 'r1') });
  assert.deepEqual(empty.experiments, []);
  assert.match(fs.readFileSync(empty.index, 'utf8'), /No results yet/);
  writeResults(path.join(dir, 'res'), ['b', 'a']);
  fs.writeFileSync(path.join(dir, 'res', 'broken.json'), '{"name": ');
  const s = buildReport({ resultsDir: path.join(dir, 'res'), reportDir: path.join(dir, 'r2'), order: ['b'] });
  assert.deepEqual(s.experiments, ['b', 'a'], 'registry order first, then by name');
  assert.equal(s.problems.length, 1);
  assert.match(s.problems[0].reason, /broken\.json/);
  assert.equal(s.charts.length, 4);
  for (const c of s.charts) assert.match(fs.readFileSync(c, 'utf8'), /^<\?xml[^]*<svg xmlns/);
  assert.ok(fs.existsSync(path.join(dir, 'r2', 'katex', 'katex.min.css')));
  assert.ok(fs.readdirSync(path.join(dir, 'r2', 'katex', 'fonts')).some((f) => f.endsWith('.woff2')));
  // A rebuild without 'a' removes its stale chart files.
  fs.rmSync(path.join(dir, 'res', 'a.json'));
  const s2 = buildReport({ resultsDir: path.join(dir, 'res'), reportDir: path.join(dir, 'r2') });
  assert.deepEqual(fs.readdirSync(path.join(dir, 'r2', 'charts')).sort(), ['b-1.svg', 'b-2.svg']);
  assert.equal(readResults(path.join(dir, 'res')).results.length, 1);
  const html = fs.readFileSync(s2.index, 'utf8');
  assert.ok(!/(<link|<script|<img)[^>]*(href|src)="https?:/.test(html), 'no external resources');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the built report renders in headless Chromium without errors', async (t) => {
  if (!fs.existsSync(CHROMIUM)) {
    t.skip(`${CHROMIUM} not found (apt-get install chromium)`);
    return;
  }
  const { chromium } = await import('playwright-core');
  const dir = tempDir();
  writeResults(path.join(dir, 'results'), ['alpha', 'beta']);
  const summary = buildReport({
    resultsDir: path.join(dir, 'results'),
    reportDir: path.join(dir, 'report'),
    failures: [{ name: 'gamma', reason: 'InputError: data folder not found' }],
  });
  const context = await chromium.launchPersistentContext(path.join(dir, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  try {
    const page = await context.newPage();
    const errors: string[] = [];
    const external: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('requestfailed', (r) => errors.push(`requestfailed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
    page.on('request', (r) => {
      if (!/^(file|data):/.test(r.url())) external.push(r.url());
    });
    await page.goto(pathToFileURL(summary.index).href, { waitUntil: 'load' });
    await page.evaluate(() => document.fonts.ready);

    assert.equal(await page.locator('section.experiment').count(), 2);
    assert.equal(await page.locator('nav.toc li').count(), 2);
    assert.equal(await page.locator('.notice.failed li').count(), 1);
    // Every `$...$` span and display equation became KaTeX markup, and KaTeX's fonts loaded.
    // Per experiment: 2 spans in the claim, 1 in the verdict (and again in the verdict table, which shows
    // the verdict's first sentence when a result has no summary), 1 in the text, 1 in the table note, 2 displays.
    assert.equal(await page.locator('.katex').count(), 2 * 8);
    assert.equal(await page.locator('section.verdicts tbody tr').count(), 2);
    assert.equal(await page.locator('.katex .mfrac').count(), 2, 'the \\frac in each first display equation');
    assert.equal(await page.locator('.math .katex-display').count(), 4);
    // fonts.check() is true when no face is declared at all, so look for a loaded KaTeX face instead.
    const mathFont = await page.evaluate(() =>
      [...document.fonts].some((f) => f.family.replace(/"/g, '') === 'KaTeX_Math' && f.status === 'loaded'),
    );
    assert.ok(mathFont, 'KaTeX_Math font loaded from report/katex/fonts');
    assert.equal(await page.locator('figure.chart svg').count(), 4);
    // Per experiment: the bar chart has 2 series, the line chart 3 series paths.
    for (const id of ['#exp-alpha', '#exp-beta']) {
      const charts = page.locator(`${id} figure.chart svg`);
      assert.equal(await charts.nth(0).locator('g.series').count(), 2);
      assert.equal(await charts.nth(0).locator('rect.bar').count(), 4);
      assert.equal(await charts.nth(1).locator('path.series-line').count(), 3);
      const box = await charts.nth(1).boundingBox();
      assert.ok(box && box.width > 300 && box.height > 150, `chart laid out: ${JSON.stringify(box)}`);
    }
    assert.equal(await page.locator('section.experiment table tbody tr').count(), 4);
    assert.ok((await page.title()).includes('kexue'));
    await page.screenshot({ path: '/tmp/kexue-report.png', fullPage: true });

    // The standalone chart files parse as SVG documents.
    for (const file of summary.charts) {
      await page.goto(pathToFileURL(file).href);
      const ok = await page.evaluate(
        () => document.documentElement.tagName === 'svg' && !document.querySelector('parsererror'),
      );
      assert.ok(ok, `${file} is a valid SVG document`);
    }
    assert.deepEqual(errors, []);
    assert.deepEqual(external, [], 'no network requests');
  } finally {
    await context.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('buildReport: pictures named by results are copied and shown; missing ones are dropped', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kexue-report-img-'));
  const res = path.join(dir, 'res');
  fs.mkdirSync(path.join(res, 'toy'), { recursive: true });
  fs.writeFileSync(path.join(res, 'toy', 'a.png'), Uint8Array.from([0x89, 0x50, 0x4e, 0x47]));
  const r = {
    ...syntheticResult('toy'),
    images: [
      { title: 'samples <a>', file: 'toy/a.png' },
      { title: 'gone', file: 'toy/missing.png' },
    ],
  };
  fs.writeFileSync(path.join(res, 'toy.json'), JSON.stringify(r));
  const s = buildReport({ resultsDir: res, reportDir: path.join(dir, 'report') });
  const html = fs.readFileSync(s.index, 'utf8');
  assert.match(html, /<img src="images\/toy\/a.png" alt="samples &lt;a&gt;">/);
  assert.doesNotMatch(html, /missing.png/);
  assert.ok(fs.existsSync(path.join(dir, 'report', 'images', 'toy', 'a.png')));
});

test('buildReport: full-budget results from results/full/ sit beside the quick run, with their own charts', () => {
  const dir = tempDir();
  const res = path.join(dir, 'res');
  writeResults(res, ['toy']);
  fs.mkdirSync(path.join(res, 'full', 'toy'), { recursive: true });
  fs.writeFileSync(path.join(res, 'full', 'toy', 'f.png'), Uint8Array.from([0x89, 0x50, 0x4e, 0x47]));
  const full = { ...syntheticResult('toy'), budget: 'full', images: [{ title: 'full', file: 'toy/f.png' }] };
  fs.writeFileSync(path.join(res, 'full', 'toy.json'), JSON.stringify(full));
  // A quick result in full/ is a misfiled run: reported, not shown as a full one.
  fs.writeFileSync(path.join(res, 'full', 'other.json'), JSON.stringify(syntheticResult('other')));
  const s = buildReport({ resultsDir: res, reportDir: path.join(dir, 'report') });
  assert.deepEqual(s.experiments, ['toy', 'toy']);
  assert.equal(s.problems.length, 1);
  assert.match(s.problems[0].reason, /other\.json.*quick-budget result/);
  const html = fs.readFileSync(s.index, 'utf8');
  assert.ok(html.indexOf('id="exp-toy"') < html.indexOf('id="exp-toy-full"'));
  assert.match(html, /<span class="budget full">full budget<\/span>/);
  assert.match(html, /<img src="images\/full\/toy\/f.png"/);
  assert.ok(fs.existsSync(path.join(dir, 'report', 'images', 'full', 'toy', 'f.png')));
  assert.ok(fs.existsSync(path.join(dir, 'report', 'charts', 'toy-full-1.svg')));
  assert.ok(fs.existsSync(path.join(dir, 'report', 'charts', 'toy-1.svg')));
});

test('buildReport never deletes or overwrites files it did not write', () => {
  const dir = tempDir();
  const res = path.join(dir, 'res');
  writeResults(res, ['a', 'b']);
  const user = path.join(dir, 'mine');
  fs.mkdirSync(user);
  fs.writeFileSync(path.join(user, 'index.html'), 'my page');
  assert.throws(
    () => buildReport({ resultsDir: res, reportDir: user }),
    /mine: is not empty and was not written/,
  );
  assert.equal(fs.readFileSync(path.join(user, 'index.html'), 'utf8'), 'my page');
  const rep = path.join(dir, 'report');
  const first = buildReport({ resultsDir: res, reportDir: rep });
  assert.ok(first.charts.some((c) => c.endsWith('b-1.svg')));
  // The user's own files in a kexue report folder survive rebuilds; kexue's stale charts do not.
  fs.mkdirSync(path.join(rep, 'images'), { recursive: true });
  fs.writeFileSync(path.join(rep, 'images', 'photo.png'), 'x');
  fs.writeFileSync(path.join(rep, 'charts', 'extra.svg'), '<svg/>');
  fs.rmSync(path.join(res, 'b.json'));
  buildReport({ resultsDir: res, reportDir: rep });
  assert.ok(fs.existsSync(path.join(rep, 'images', 'photo.png')));
  assert.ok(fs.existsSync(path.join(rep, 'charts', 'extra.svg')));
  assert.ok(!fs.existsSync(path.join(rep, 'charts', 'b-1.svg')), 'stale chart of a removed result');
  assert.ok(fs.existsSync(path.join(rep, 'charts', 'a-1.svg')));
  const file = path.join(dir, 'afile');
  fs.writeFileSync(file, '');
  assert.throws(() => buildReport({ resultsDir: res, reportDir: file }), /afile: is not a folder/);
});

test('the verdict table: one row per experiment, from the full budget when there is one', () => {
  const dir = tempDir();
  const results = path.join(dir, 'results');
  fs.mkdirSync(path.join(results, 'full'), { recursive: true });
  const quick = {
    ...syntheticResult('alpha'),
    summary: { note: '+6.45', ours: '+0.1 ± 0.3', status: 'inconclusive', reason: 'quick budget' },
  };
  const full = {
    ...syntheticResult('alpha'),
    budget: 'full',
    summary: { note: '+6.45', ours: '+7.6 ± 1.0', status: 'reproduces', reason: 'ahead on 4 of 5 <tasks>' },
  };
  fs.writeFileSync(path.join(results, 'alpha.json'), JSON.stringify(quick));
  fs.writeFileSync(path.join(results, 'full', 'alpha.json'), JSON.stringify(full));
  fs.writeFileSync(
    path.join(results, 'beta.json'),
    JSON.stringify({ ...syntheticResult('beta'), verdict: 'First sentence. Second one.' }),
  );
  const { index } = buildReport({ resultsDir: results, reportDir: path.join(dir, 'report') });
  const html = fs.readFileSync(index, 'utf8');
  const table = /<section class="verdicts">(.*?)<\/section>/s.exec(html)?.[1] ?? '';
  const rows = table.split('<tr>').slice(2);
  assert.equal(rows.length, 2, table);
  assert.match(rows[0], /alpha.*full budget.*\+7\.6 ± 1\.0.*status reproduces.*4 of 5 &lt;tasks&gt;/);
  assert.match(rows[1], /beta.*no summary.*First sentence\.<\/td>/);
  assert.throws(
    () => parseResult({ ...full, summary: { ...full.summary, status: 'maybe' } }, 'a.json'),
    /a\.json, field summary\.status: expected 'reproduces', 'partly', 'does not reproduce', 'inconclusive'/,
  );
  fs.rmSync(dir, { recursive: true, force: true });
});
