/**
 * A small SVG chart renderer for the report: line and bar charts with axes, ticks, a legend, error bars
 * and an optional log-scaled y axis. Output is a self-contained <svg> string usable both inline in
 * HTML and as a standalone .svg file. Non-finite points (and non-positive ones on a log axis) are
 * skipped: a line breaks there instead of drawing through a bogus value.
 */
import type { Chart, Series } from '../experiments/types.js';

/** Escapes text for XML/HTML content and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

/** Okabe–Ito colours: distinguishable for the common forms of colour blindness. */
export const PALETTE = [
  '#0072B2',
  '#E69F00',
  '#009E73',
  '#D55E00',
  '#CC79A7',
  '#56B4E9',
  '#F0E442',
  '#000000',
];

export interface Ticks {
  min: number;
  max: number;
  values: number[];
}

/** Round step of 1, 2 or 5 × 10^k giving about `count` intervals over [lo, hi]. */
function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

/** Cleans floating-point noise such as 0.30000000000000004 off a tick value. */
function clean(v: number, step: number): number {
  const digits = Math.max(0, -Math.floor(Math.log10(step)) + 1);
  return Number(v.toFixed(Math.min(20, digits)));
}

/** Linear ticks on round values whose range covers [lo, hi]; a degenerate range is widened. */
export function linearTicks(lo: number, hi: number, count = 5): Ticks {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return { min: 0, max: 1, values: [0, 0.5, 1] };
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const step = niceStep(hi - lo, count);
  const min = Math.floor(lo / step) * step;
  const max = Math.ceil(hi / step) * step;
  const values: number[] = [];
  for (let i = 0; min + i * step <= max + step * 1e-9; i++) values.push(clean(min + i * step, step));
  return { min: clean(min, step), max: clean(max, step), values };
}

/** Ticks at powers of ten covering [lo, hi] (both > 0); within one decade, 1-2-5 steps are added. */
export function logTicks(lo: number, hi: number): Ticks {
  if (!(lo > 0) || !(hi > 0) || !Number.isFinite(lo) || !Number.isFinite(hi)) {
    return { min: 1, max: 10, values: [1, 10] };
  }
  if (hi < lo) [lo, hi] = [hi, lo];
  let a = Math.floor(Math.log10(lo));
  let b = Math.ceil(Math.log10(hi));
  if (a === b) b += 1;
  const decades = b - a;
  // Too many labels crowd the axis: thin them to at most ~8 by labelling every k-th decade.
  const every = Math.ceil(decades / 8);
  a = Math.floor(a / every) * every;
  b = Math.ceil(b / every) * every;
  const values: number[] = [];
  for (let e = a; e <= b; e += every) {
    values.push(Number((10 ** e).toPrecision(12)));
    if (decades <= 2 && e < b)
      values.push(Number((2 * 10 ** e).toPrecision(12)), Number((5 * 10 ** e).toPrecision(12)));
  }
  return { min: 10 ** a, max: 10 ** b, values };
}

/** Short tick label: 4 significant digits, exponent form for very large/small magnitudes. */
export function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) {
    const [m, e] = v.toExponential(2).split('e');
    return `${Number(m)}e${Number(e)}`;
  }
  return String(Number(v.toPrecision(4)));
}

export interface ChartSize {
  width: number;
  height: number;
}

interface Frame {
  left: number;
  top: number;
  right: number;
  bottom: number;
  x: (v: number) => number;
  y: (v: number) => number;
  yTicks: Ticks;
  logY: boolean;
}

const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';

/** A point is drawable when its coordinates are finite and (on a log axis) y is positive. */
function drawable(y: number, logY: boolean): boolean {
  return Number.isFinite(y) && (!logY || y > 0);
}

function yExtent(chart: Chart, logY: boolean): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of chart.series) {
    s.y.forEach((y, i) => {
      if (!drawable(y, logY) || !Number.isFinite(s.x[i] ?? i)) return;
      const e = s.err?.[i];
      const d = e !== undefined && Number.isFinite(e) ? Math.abs(e) : 0;
      // On a log axis a lower error bar that reaches 0 or below cannot be drawn; keep the point itself.
      const low = logY && y - d <= 0 ? y : y - d;
      lo = Math.min(lo, low);
      hi = Math.max(hi, y + d);
    });
  }
  if (chart.kind === 'bar' && !logY) {
    lo = Math.min(lo, 0);
    hi = Math.max(hi, 0);
  }
  return [lo, hi];
}

function xExtent(chart: Chart): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of chart.series) {
    s.x.forEach((x, i) => {
      if (Number.isFinite(x) && Number.isFinite(s.y[i])) {
        lo = Math.min(lo, x);
        hi = Math.max(hi, x);
      }
    });
  }
  return [lo, hi];
}

function makeFrame(chart: Chart, size: ChartSize, legendRows: number): Frame {
  const logY = Boolean(chart.logY);
  const [ylo, yhi] = yExtent(chart, logY);
  const yTicks = logY ? logTicks(ylo, yhi) : linearTicks(ylo, yhi);
  const left = 64;
  const right = size.width - 16;
  const top = 36 + legendRows * 18;
  const bottom = size.height - 46;
  const ty = (v: number) => (logY ? Math.log10(v) : v);
  const y0 = ty(yTicks.min);
  const y1 = ty(yTicks.max);
  const y = (v: number) => bottom - ((ty(v) - y0) / (y1 - y0 || 1)) * (bottom - top);
  let x: (v: number) => number;
  if (chart.kind === 'bar') {
    const n = categoryCount(chart);
    x = (v: number) => left + ((v + 0.5) / n) * (right - left);
  } else {
    const [xlo, xhi] = xExtent(chart);
    const xt = linearTicks(xlo, xhi);
    x = (v: number) => left + ((v - xt.min) / (xt.max - xt.min || 1)) * (right - left);
  }
  return { left, top, right, bottom, x, y, yTicks, logY };
}

function categoryCount(chart: Chart): number {
  const fromSeries = Math.max(
    0,
    ...chart.series.flatMap((s) => s.x.filter(Number.isFinite).map((v) => v + 1)),
  );
  return Math.max(1, chart.categories?.length ?? 0, fromSeries);
}

function fmtN(v: number): string {
  return String(Math.round(v * 10) / 10);
}

function axes(chart: Chart, f: Frame): string {
  const parts: string[] = [];
  for (const v of f.yTicks.values) {
    const y = fmtN(f.y(v));
    parts.push(`<line class="grid" x1="${f.left}" x2="${f.right}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`);
    parts.push(
      `<text x="${f.left - 6}" y="${y}" dy="0.32em" text-anchor="end">${escapeXml(formatTick(v))}</text>`,
    );
  }
  if (chart.kind === 'bar') {
    const n = categoryCount(chart);
    for (let i = 0; i < n; i++) {
      const label = chart.categories?.[i] ?? String(i);
      parts.push(
        `<text x="${fmtN(f.x(i))}" y="${f.bottom + 16}" text-anchor="middle">${escapeXml(label)}</text>`,
      );
    }
  } else {
    const [xlo, xhi] = xExtent(chart);
    for (const v of linearTicks(xlo, xhi).values) {
      const x = fmtN(f.x(v));
      parts.push(`<line x1="${x}" x2="${x}" y1="${f.bottom}" y2="${f.bottom + 4}" stroke="#333"/>`);
      parts.push(
        `<text x="${x}" y="${f.bottom + 16}" text-anchor="middle">${escapeXml(formatTick(v))}</text>`,
      );
    }
  }
  parts.push(`<line x1="${f.left}" x2="${f.right}" y1="${f.bottom}" y2="${f.bottom}" stroke="#333"/>`);
  parts.push(`<line x1="${f.left}" x2="${f.left}" y1="${f.top}" y2="${f.bottom}" stroke="#333"/>`);
  const midX = fmtN((f.left + f.right) / 2);
  const midY = fmtN((f.top + f.bottom) / 2);
  parts.push(
    `<text class="x-label" x="${midX}" y="${f.bottom + 36}" text-anchor="middle">${escapeXml(chart.xLabel)}</text>`,
  );
  const yLabel = chart.yLabel + (f.logY ? ' (log scale)' : '');
  parts.push(
    `<text class="y-label" transform="translate(16 ${midY}) rotate(-90)" text-anchor="middle">${escapeXml(yLabel)}</text>`,
  );
  return `<g class="axes" font-size="11" fill="#333">${parts.join('')}</g>`;
}

function errorBar(x: number, y: number, err: number | undefined, f: Frame, color: string): string {
  if (err === undefined || !Number.isFinite(err) || err === 0) return '';
  const d = Math.abs(err);
  const lo = f.logY && y - d <= 0 ? y : y - d;
  const [y1, y2] = [fmtN(f.y(lo)), fmtN(f.y(y + d))];
  const xs = fmtN(x);
  const cap = (yy: string) => `<line x1="${fmtN(x - 4)}" x2="${fmtN(x + 4)}" y1="${yy}" y2="${yy}"/>`;
  return `<g class="err" stroke="${color}"><line x1="${xs}" x2="${xs}" y1="${y1}" y2="${y2}"/>${cap(y1)}${cap(y2)}</g>`;
}

/** One path per series; a new sub-path (M) starts after every skipped point. */
function lineSeries(s: Series, i: number, f: Frame): string {
  const color = PALETTE[i % PALETTE.length];
  let d = '';
  let pen = false;
  const marks: string[] = [];
  s.y.forEach((y, j) => {
    const xv = s.x[j];
    if (xv === undefined || !Number.isFinite(xv) || !drawable(y, f.logY)) {
      pen = false;
      return;
    }
    const [px, py] = [f.x(xv), f.y(y)];
    d += `${pen ? 'L' : 'M'}${fmtN(px)} ${fmtN(py)}`;
    pen = true;
    marks.push(`<circle cx="${fmtN(px)}" cy="${fmtN(py)}" r="2.5" fill="${color}"/>`);
    marks.push(errorBar(px, y, s.err?.[j], f, color));
  });
  const path = `<path class="series-line" d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`;
  return `<g class="series" data-series="${i}">${path}${marks.join('')}<title>${escapeXml(s.name)}</title></g>`;
}

function barSeries(s: Series, i: number, chart: Chart, f: Frame): string {
  const color = PALETTE[i % PALETTE.length];
  const group = (f.right - f.left) / categoryCount(chart);
  const w = (group * 0.8) / chart.series.length;
  const base = f.logY ? f.yTicks.min : 0;
  const parts: string[] = [];
  s.y.forEach((y, j) => {
    const xv = s.x[j];
    if (xv === undefined || !Number.isFinite(xv) || !drawable(y, f.logY)) return;
    const cx = f.x(xv) - group * 0.4 + w * (i + 0.5);
    const [ya, yb] = [f.y(y), f.y(base)];
    const tip = `<title>${escapeXml(`${s.name}: ${formatTick(y)}`)}</title>`;
    const geom = `x="${fmtN(cx - w / 2)}" y="${fmtN(Math.min(ya, yb))}" width="${fmtN(Math.max(0.5, w - 1))}" height="${fmtN(Math.abs(yb - ya))}"`;
    parts.push(`<rect class="bar" ${geom} fill="${color}">${tip}</rect>`);
    parts.push(errorBar(cx, y, s.err?.[j], f, '#222'));
  });
  return `<g class="series" data-series="${i}">${parts.join('')}</g>`;
}

/** Legend entries laid out left to right, wrapping onto new rows; returns the markup and row count. */
function legend(chart: Chart, size: ChartSize): { svg: string; rows: number } {
  const items: string[] = [];
  let x = 64;
  let row = 0;
  chart.series.forEach((s, i) => {
    const w = 24 + Math.min(40, s.name.length) * 6.5;
    if (x + w > size.width - 16 && x > 64) {
      x = 64;
      row += 1;
    }
    const y = 34 + row * 18;
    const color = PALETTE[i % PALETTE.length];
    items.push(
      `<rect x="${x}" y="${y - 9}" width="12" height="12" fill="${color}"/><text x="${x + 17}" y="${y}" dy="-0.1em">${escapeXml(s.name)}</text>`,
    );
    x += w;
  });
  return {
    svg: `<g class="legend" font-size="11" fill="#333">${items.join('')}</g>`,
    rows: chart.series.length ? row + 1 : 0,
  };
}

/** Renders a chart as a complete <svg> element (with xmlns, so it also stands alone as a file). */
export function renderChart(chart: Chart, size: ChartSize = { width: 640, height: 360 }): string {
  const lg = legend(chart, size);
  const f = makeFrame(chart, size, lg.rows);
  const body = chart.series
    .map((s, i) => (chart.kind === 'bar' ? barSeries(s, i, chart, f) : lineSeries(s, i, f)))
    .join('');
  const empty = chart.series.every((s) => !s.y.some((y) => drawable(y, f.logY)))
    ? `<text x="${size.width / 2}" y="${size.height / 2}" text-anchor="middle" fill="#888">no data</text>`
    : '';
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 ${size.width} ${size.height}" width="${size.width}" height="${size.height}" role="img" ${FONT}>`,
    `<title>${escapeXml(chart.title)}</title>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text class="chart-title" x="${size.width / 2}" y="18" text-anchor="middle" font-size="13" font-weight="600">${escapeXml(chart.title)}</text>`,
    lg.svg,
    axes(chart, f),
    `<g class="plot">${body}</g>`,
    empty,
    `</svg>`,
  ].join('');
}
