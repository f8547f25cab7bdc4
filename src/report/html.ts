/**
 * The report page: a header with versions and backends, a table of contents, then one section per
 * experiment (claim, verdict, settings, text, math, tables, charts). Pure string building; every piece
 * of result text is escaped (or rendered through KaTeX, which escapes its own output).
 */
import type { ExperimentResult, RunTimes, Table } from '../experiments/types.js';
import { renderMath, renderTextWithMath } from './math.js';
import { escapeXml, renderChart } from './svg.js';

export interface PageInput {
  results: ExperimentResult[];
  /** results/*.json files that could not be read, with the reason. */
  problems: { file: string; reason: string }[];
  /** Experiments that failed in the run that produced this report (lab), with the one-line reason. */
  failures: { name: string; reason: string }[];
  /** Where each result's charts were written (keyed by resultKey), relative to the page (same order as result.charts). */
  chartFiles: Map<string, string[]>;
  resultsDir: string;
  builtAt: string;
  kexueVersion: string;
}

/** A stable, URL- and file-name-safe form of an experiment name. */
export function slug(name: string): string {
  return (
    name
      .toLowerCase()
      .replace(/[^a-z0-9_-]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'experiment'
  );
}

/** Identifies a result on the page and in file names: its slug, with `-full` for a full-budget run. */
export function resultKey(r: Pick<ExperimentResult, 'name' | 'budget'>): string {
  return r.budget === 'full' ? `${slug(r.name)}-full` : slug(r.name);
}

/** Escapes text and turns http(s) URLs into links (trailing punctuation stays outside the link). */
export function linkify(text: string): string {
  const re = /https?:\/\/[^\s<>"']+/g;
  let out = '';
  let last = 0;
  for (const m of text.matchAll(re)) {
    const url = m[0].replace(/[).,;:]+$/, '');
    out += escapeXml(text.slice(last, m.index)) + `<a href="${escapeXml(url)}">${escapeXml(url)}</a>`;
    last = m.index + url.length;
  }
  return out + escapeXml(text.slice(last));
}

/** Numbers in tables: integers as they are, others to 4 significant digits. */
export function formatCell(v: string | number | null): string {
  if (v === null) return '—';
  if (typeof v === 'string') return escapeXml(v);
  if (!Number.isFinite(v)) return escapeXml(String(v));
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return a >= 1e6 || a < 1e-4 ? v.toExponential(3) : String(Number(v.toPrecision(4)));
}

function tableHtml(t: Table): string {
  const head = t.columns.map((c) => `<th>${escapeXml(c)}</th>`).join('');
  const rows = t.rows
    .map(
      (r) =>
        `<tr>${r.map((v) => `<td${typeof v === 'number' ? ' class="num"' : ''}>${formatCell(v)}</td>`).join('')}</tr>`,
    )
    .join('\n');
  const note = t.note ? `<p class="note">${renderTextWithMath(t.note)}</p>` : '';
  return `<figure class="table"><figcaption>${escapeXml(t.title)}</figcaption><table><thead><tr>${head}</tr></thead><tbody>\n${rows}\n</tbody></table>${note}</figure>`;
}

/** What the recorded runs cost, e.g. "2.58 h over 27 runs (27 reused from earlier passes or other processes)". */
export function runTimesText(t: RunTimes): string {
  const parts = [
    t.reused > 0 && `${t.reused} reused from earlier passes or other processes`,
    t.untimed > 0 && `${t.untimed} recorded without a time`,
  ].filter(Boolean);
  const h = t.seconds / 3600;
  const amount = h >= 1 ? `${h.toFixed(2)} h` : `${(t.seconds / 60).toFixed(1)} min`;
  return `${amount} over ${t.runs} runs${parts.length ? ` (${parts.join('; ')})` : ''}`;
}

function settingsHtml(r: ExperimentResult): string {
  const items: [string, string][] = [
    ['budget', r.budget],
    ['seeds', r.seeds.join(', ') || '—'],
    ['wall time', `${r.seconds.toFixed(1)} s`],
    ...(r.runTimes ? [['run compute', runTimesText(r.runTimes)] as [string, string]] : []),
    ...Object.entries(r.settings).map(([k, v]): [string, string] => [k, String(v)]),
  ];
  const env = r.env;
  items.push([
    'environment',
    [
      `kexue ${env.kexue}${env.commit ? ` (${env.commit})` : ''}`,
      `tfjs ${env.tfjs}`,
      `backend ${env.backend}`,
      `node ${env.node}`,
      `${env.platform}, ${env.cpus} CPUs${env.machine ? ` (${env.machine})` : ''}`,
      env.date,
    ].join(' · '),
  ]);
  return `<dl class="settings">${items.map(([k, v]) => `<dt>${escapeXml(k)}</dt><dd>${escapeXml(v)}</dd>`).join('')}</dl>`;
}

function imagesHtml(r: ExperimentResult): string {
  const figures = (r.images ?? []).map((img) => {
    const src = escapeXml(`images/${img.file}`);
    return `<figure class="image"><img src="${src}" alt="${escapeXml(img.title)}"><figcaption>${escapeXml(img.title)}</figcaption></figure>`;
  });
  return `<div class="gallery">${figures.join('')}</div>`;
}

function budgetBadge(r: ExperimentResult): string {
  return ` <span class="budget ${r.budget}">${r.budget} budget</span>`;
}

function experimentHtml(r: ExperimentResult, charts: string[]): string {
  const id = `exp-${resultKey(r)}`;
  const parts = [
    `<section class="experiment" id="${id}">`,
    `<h2>${escapeXml(r.title)} <span class="name">${escapeXml(r.name)}</span>${budgetBadge(r)}</h2>`,
    `<p class="claim"><strong>Claim.</strong> ${renderTextWithMath(r.claim)}</p>`,
    `<p class="source"><strong>Source.</strong> ${linkify(r.source)}</p>`,
    `<p class="verdict"><strong>Verdict.</strong> ${renderTextWithMath(r.verdict)}</p>`,
    settingsHtml(r),
    ...r.text.map((p) => `<p>${renderTextWithMath(p)}</p>`),
    ...r.math.map((m) => `<div class="math">${renderMath(m, true)}</div>`),
    ...r.tables.map(tableHtml),
    ...r.charts.map((c, i) => {
      const file = charts[i];
      const link = file ? ` <a href="${escapeXml(file)}">(SVG)</a>` : '';
      return `<figure class="chart">${renderChart(c)}<figcaption>${escapeXml(c.title)}${link}</figcaption></figure>`;
    }),
    ...(r.images?.length ? [imagesHtml(r)] : []),
    `</section>`,
  ];
  return parts.join('\n');
}

function headerHtml(input: PageInput): string {
  const uniq = (xs: string[]) => [...new Set(xs)].join(', ') || '—';
  const envs = input.results.map((r) => r.env);
  const rows: [string, string][] = [
    ['built', `${input.builtAt} by kexue ${input.kexueVersion}`],
    ['results', `${input.results.length} experiment(s) from ${input.resultsDir}`],
    ['backends', uniq(envs.map((e) => String(e.backend)))],
    ['tfjs', uniq(envs.map((e) => e.tfjs))],
    ['node', uniq(envs.map((e) => e.node))],
    ['machines', uniq(envs.map((e) => `${e.platform}, ${e.cpus} CPUs`))],
  ];
  const dl = rows.map(([k, v]) => `<dt>${escapeXml(k)}</dt><dd>${escapeXml(v)}</dd>`).join('');
  return `<header><h1>kexue lab report</h1><p class="lead">Reproductions of claims from the Scientific Spaces notes (<a href="https://kexue.fm">kexue.fm</a>) with TensorFlow.js.</p><dl class="settings">${dl}</dl></header>`;
}

/** One sentence: the first of a verdict, for experiments whose results carry no summary. */
function firstSentence(text: string): string {
  const m = /^.*?[.!?](\s|$)/.exec(text);
  return (m ? m[0] : text).trim();
}

/**
 * The verdict table at the top: one row per experiment, from its full-budget result when there is one
 * (the numbers that test the claim), else from the quick run.
 */
function verdictTableHtml(input: PageInput): string {
  const byName = new Map<string, ExperimentResult>();
  for (const r of input.results) {
    const seen = byName.get(r.name);
    if (!seen || (seen.budget === 'quick' && r.budget === 'full')) byName.set(r.name, r);
  }
  const rows = [...byName.values()].map((r) => {
    const s = r.summary;
    const status = s?.status ?? 'no summary';
    return (
      `<tr><td><a href="#exp-${resultKey(r)}">${escapeXml(r.name)}</a>${budgetBadge(r)}</td>` +
      `<td>${escapeXml(s?.note ?? '—')}</td><td>${escapeXml(s?.ours ?? '—')}</td>` +
      `<td><span class="status ${slug(status)}">${escapeXml(status)}</span></td>` +
      `<td>${renderTextWithMath(s?.reason ?? firstSentence(r.verdict))}</td></tr>`
    );
  });
  return (
    '<section class="verdicts"><h2>Verdicts</h2><table><thead><tr><th>experiment</th><th>the note</th>' +
    `<th>ours</th><th>verdict</th><th>why</th></tr></thead><tbody>${rows.join('')}</tbody></table></section>`
  );
}

function tocHtml(input: PageInput): string {
  const items = input.results.map(
    (r) =>
      `<li><a href="#exp-${resultKey(r)}">${escapeXml(r.title)}</a> <span class="name">${escapeXml(r.name)}</span>${budgetBadge(r)}</li>`,
  );
  return `<nav class="toc"><h2>Contents</h2><ol>${items.join('')}</ol></nav>`;
}

function noticesHtml(input: PageInput): string {
  const out: string[] = [];
  if (input.failures.length) {
    const li = input.failures
      .map((f) => `<li><b>${escapeXml(f.name)}</b>: ${escapeXml(f.reason)}</li>`)
      .join('');
    out.push(
      `<div class="notice failed"><p>These experiments failed in the last lab run (older results, if any, are shown below):</p><ul>${li}</ul></div>`,
    );
  }
  if (input.problems.length) {
    const li = input.problems.map((p) => `<li>${escapeXml(p.reason)}</li>`).join('');
    out.push(`<div class="notice"><p>Results files that could not be read:</p><ul>${li}</ul></div>`);
  }
  if (!input.results.length) {
    out.push(
      `<div class="notice empty"><p>No results yet: <code>${escapeXml(input.resultsDir)}</code> holds no experiment results. Run <code>kexue lab</code> (all experiments, quick budget) or <code>kexue experiment &lt;name&gt;</code>, then <code>kexue report</code>.</p></div>`,
    );
  }
  return out.join('\n');
}

const CSS = `
body{font:15px/1.55 system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#222;max-width:960px;margin:0 auto;padding:1.5em}
h1{margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
.name{font:12px ui-monospace,monospace;color:#777;font-weight:normal}
.budget{font-size:11px;font-weight:normal;padding:.05em .45em;border-radius:3px;background:#eee;color:#555}
.budget.full{background:#e3eefa;color:#0a4a8a}
.status{font-size:12px;padding:.05em .45em;border-radius:3px;background:#eee;white-space:nowrap}
.status.reproduces{background:#e2f4e4;color:#1d6b2a}.status.partly{background:#fdf3d8;color:#7a5a00}
.status.does-not-reproduce{background:#fbe3e1;color:#8a1f12}
.lead{color:#555;margin-top:0}
dl.settings{display:grid;grid-template-columns:max-content 1fr;gap:.15em 1em;font-size:13px;background:#f7f7f7;padding:.6em .9em;border-radius:4px}
dl.settings dt{color:#666}dl.settings dd{margin:0}
.verdict{background:#eef6ee;border-left:4px solid #3a8a3a;padding:.4em .8em}
.claim{border-left:4px solid #0072B2;padding:.1em .8em}
.math{overflow-x:auto;margin:.8em 0}
figure{margin:1.2em 0}figcaption{font-size:13px;color:#555;margin:.3em 0}
table{border-collapse:collapse;font-size:13px}th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left}
th{background:#f2f2f2}td.num{text-align:right;font-variant-numeric:tabular-nums}
.note{font-size:12px;color:#666}
figure.chart svg{max-width:100%;height:auto;border:1px solid #eee}
.gallery{display:flex;flex-wrap:wrap;gap:12px}
figure.image{margin:0;font-size:.85em;text-align:center}
figure.image img{width:180px;image-rendering:pixelated;border:1px solid #eee}
.notice{background:#fff7e6;border:1px solid #f0c36d;padding:.4em .9em;border-radius:4px;margin:1em 0}
.notice.failed{background:#fdecea;border-color:#e0a0a0}
code{font:13px ui-monospace,monospace;background:#f2f2f2;padding:0 .2em}
`;

export function renderPage(input: PageInput): string {
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<title>kexue lab report</title>',
    '<link rel="icon" href="data:,">',
    '<link rel="stylesheet" href="katex/katex.min.css">',
    `<style>${CSS}</style>`,
    '</head><body>',
    headerHtml(input),
    noticesHtml(input),
    input.results.length ? verdictTableHtml(input) : '',
    input.results.length ? tocHtml(input) : '',
    '<main>',
    ...input.results.map((r) => experimentHtml(r, input.chartFiles.get(resultKey(r)) ?? [])),
    '</main>',
    '</body></html>',
    '',
  ].join('\n');
}
