import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeXml, formatTick, linearTicks, logTicks, renderChart } from './svg.js';
import type { Chart } from '../experiments/types.js';

const count = (s: string, re: RegExp) => (s.match(re) ?? []).length;

test('escapeXml escapes the five XML specials', () => {
  assert.equal(escapeXml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  assert.equal(escapeXml('plain ü 测试'), 'plain ü 测试');
});

test('linearTicks: round steps that cover the data range', () => {
  for (const [lo, hi] of [
    [0, 1],
    [0.013, 0.87],
    [-3.2, 17.9],
    [1234, 98765],
    [0.6006, 0.6052],
  ]) {
    const t = linearTicks(lo, hi);
    assert.ok(t.min <= lo && t.max >= hi, `[${lo}, ${hi}] inside [${t.min}, ${t.max}]`);
    assert.ok(t.values.length >= 3 && t.values.length <= 12, `${t.values.length} ticks for [${lo}, ${hi}]`);
    const step = t.values[1] - t.values[0];
    const mant = step / 10 ** Math.floor(Math.log10(step));
    assert.ok(
      [1, 2, 5].some((m) => Math.abs(mant - m) < 1e-9),
      `step ${step} is 1, 2 or 5 × 10^k`,
    );
    for (let i = 1; i < t.values.length; i++)
      assert.ok(Math.abs(t.values[i] - t.values[i - 1] - step) < step * 1e-9);
  }
  assert.deepEqual(linearTicks(0, 1).values, [0, 0.2, 0.4, 0.6, 0.8, 1]);
  // Floating-point noise is cleaned off: 0.1 + 0.2 must print as 0.3.
  assert.ok(linearTicks(0, 0.9).values.every((v) => String(v).length <= 4));
});

test('linearTicks: degenerate and non-finite ranges still give an axis', () => {
  const flat = linearTicks(5, 5);
  assert.ok(flat.min < 5 && flat.max > 5);
  const zero = linearTicks(0, 0);
  assert.ok(zero.min < 0 && zero.max > 0);
  assert.deepEqual(linearTicks(Infinity, -Infinity), { min: 0, max: 1, values: [0, 0.5, 1] });
  assert.deepEqual(linearTicks(NaN, 1).values, [0, 0.5, 1]);
});

test('logTicks: powers of ten around the data; 1-2-5 within narrow ranges', () => {
  const t = logTicks(0.003, 250);
  assert.deepEqual(t.values, [0.001, 0.01, 0.1, 1, 10, 100, 1000]);
  assert.equal(t.min, 0.001);
  assert.equal(t.max, 1000);
  assert.deepEqual(logTicks(2, 7).values, [1, 2, 5, 10]);
  const wide = logTicks(1e-12, 1e12);
  assert.ok(wide.values.length <= 14 && wide.min <= 1e-12 && wide.max >= 1e12);
  assert.deepEqual(logTicks(0, 10).values, [1, 10], 'non-positive range falls back');
});

test('formatTick: short labels', () => {
  assert.equal(formatTick(0), '0');
  assert.equal(formatTick(0.30000000000000004), '0.3');
  assert.equal(formatTick(12345.678), '12350');
  assert.equal(formatTick(2e-5), '2e-5');
  assert.equal(formatTick(1.5e6), '1.5e6');
});

const line: Chart = {
  title: 'acc <vs> "epoch" & more',
  kind: 'line',
  xLabel: 'epoch',
  yLabel: 'accuracy',
  series: [
    { name: 'a<b>', x: [1, 2, 3, 4, 5], y: [0.1, 0.2, NaN, 0.4, 0.5], err: [0.01, 0.02, 0.03, NaN, 0.05] },
    { name: 'b', x: [1, 2, 3], y: [0.3, 0.3, 0.35] },
  ],
};

test('renderChart (line): one path per series, a NaN breaks the line, text escaped', () => {
  const svg = renderChart(line);
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  assert.equal(count(svg, /class="series-line"/g), 2);
  assert.equal(count(svg, /class="series"/g), 2);
  const d0 = /class="series-line" d="([^"]*)"/.exec(svg)![1];
  assert.equal(count(d0, /M/g), 2, 'the NaN at x=3 splits series 0 into two sub-paths');
  assert.equal(count(d0, /L/g), 2);
  assert.ok(!/NaN|Infinity|undefined/.test(svg), 'no NaN leaks into coordinates');
  assert.ok(svg.includes('acc &lt;vs&gt; &quot;epoch&quot; &amp; more'));
  assert.ok(svg.includes('a&lt;b&gt;') && !svg.includes('a<b>'));
  // Error bars: points 1, 2 and 5 of series 0 have finite errors (point 3 is NaN, point 4 has NaN err).
  assert.equal(count(svg, /class="err"/g), 3);
});

test('renderChart (bar): grouped bars with category labels and error bars', () => {
  const bar: Chart = {
    title: 'before/after',
    kind: 'bar',
    xLabel: 'dataset',
    yLabel: 'accuracy',
    categories: ['IFLYTEK', 'TNEWS', 'x<y'],
    series: [
      { name: 'before', x: [0, 1, 2], y: [0.6, 0.56, 0.5], err: [0.01, 0.01, 0] },
      { name: 'after', x: [0, 1, 2], y: [0.61, NaN, 0.52], err: [0.01, 0.02, 0.01] },
    ],
  };
  const svg = renderChart(bar);
  assert.equal(count(svg, /class="series"/g), 2);
  assert.equal(count(svg, /class="bar"/g), 5, 'the NaN bar is skipped');
  assert.equal(count(svg, /class="err"/g), 4, 'zero errors and skipped bars draw no error bar');
  assert.ok(svg.includes('>IFLYTEK<') && svg.includes('x&lt;y'));
  assert.ok(!/NaN|Infinity/.test(svg));
});

test('renderChart (logY): non-positive values are skipped, axis marked', () => {
  const svg = renderChart({
    title: 'loss',
    kind: 'line',
    xLabel: 'step',
    yLabel: 'loss',
    logY: true,
    series: [{ name: 'loss', x: [0, 1, 2, 3], y: [10, 1, 0, 0.01] }],
  });
  const d = /class="series-line" d="([^"]*)"/.exec(svg)![1];
  assert.equal(count(d, /M/g), 2);
  assert.ok(svg.includes('loss (log scale)'));
  assert.ok(svg.includes('>0.01<') && svg.includes('>10<'));
});

test('renderChart: all-NaN or empty charts render an explicit "no data"', () => {
  const svg = renderChart({
    title: 't',
    kind: 'line',
    xLabel: 'x',
    yLabel: 'y',
    series: [{ name: 's', x: [0, 1], y: [NaN, NaN] }],
  });
  assert.ok(svg.includes('no data'));
  assert.ok(!/NaN/.test(svg));
  const empty = renderChart({ title: 't', kind: 'bar', xLabel: 'x', yLabel: 'y', series: [] });
  assert.ok(empty.includes('no data'));
});
