/**
 * Model cards: the README.md every saved model carries (as on the Hugging Face Hub), saying what the
 * model is, what it was trained from and on, with which settings, how well it did, and how to load it.
 * Pure strings (browser-safe); no dates, so a model saved twice with the same seed is byte-identical.
 */
import { VERSION } from '../version.js';

/** What a model card says. Absent parts are left out. */
export interface ModelCard {
  /** The heading, e.g. 'Sentence encoder (CoSENT)'. */
  title: string;
  /** One or two sentences on what the model does. */
  summary?: string;
  /** The model it was fine-tuned from (a folder, a Hub id). */
  baseModel?: string;
  /** The architecture in a few words, e.g. '4 × 128 Post-LN BERT, RoPE, vocabulary 8000'. */
  architecture?: string;
  /** Training data: name → file or description (with its example count). */
  data?: Record<string, string>;
  /** Training settings, name → value. */
  settings?: Record<string, unknown>;
  /** Measured results, name → value (numbers shown with 2 decimals). */
  metrics?: Record<string, number | string | undefined>;
  /** How to use it: lines of a fenced code block (shell or TypeScript), with its language. */
  usage?: { lang: string; lines: string[] }[];
  /** Front matter for the Hugging Face Hub (e.g. library_name, tags). */
  frontMatter?: Record<string, string | string[]>;
}

const value = (v: unknown) =>
  typeof v === 'string' || typeof v === 'number' ? String(v) : JSON.stringify(v);

function table(rows: Record<string, unknown>, format: (v: unknown) => string): string[] {
  const kept = Object.entries(rows).filter(([, v]) => v !== undefined);
  return kept.length ? ['| | |', '|---|---|', ...kept.map(([k, v]) => `| ${k} | ${format(v)} |`), ''] : [];
}

function frontMatter(fm: Record<string, string | string[]>): string[] {
  const lines = Object.entries(fm).flatMap(([k, v]) =>
    Array.isArray(v) ? [`${k}:`, ...v.map((x) => `- ${x}`)] : [`${k}: ${v}`],
  );
  return ['---', ...lines, '---', ''];
}

/**
 * The card as Markdown.
 *
 * @example
 * const md = renderModelCard({ title: 'Sentence encoder (CoSENT)', metrics: { 'dev Spearman': 78.4 } });
 */
export function renderModelCard(card: ModelCard): string {
  const metric = (v: unknown) => (typeof v === 'number' ? v.toFixed(2) : String(v));
  const section = (title: string, body: string[]) => (body.length ? [`## ${title}`, '', ...body] : []);
  return [
    ...(card.frontMatter ? frontMatter(card.frontMatter) : []),
    `# ${card.title}`,
    '',
    ...(card.summary ? [card.summary, ''] : []),
    ...section('Model', [
      ...(card.baseModel ? [`Fine-tuned from \`${card.baseModel}\`.`, ''] : []),
      ...(card.architecture ? [card.architecture, ''] : []),
    ]),
    ...section('Training data', table(card.data ?? {}, String)),
    ...section('Training settings', table(card.settings ?? {}, value)),
    ...section('Results', table(card.metrics ?? {}, metric)),
    ...section(
      'Usage',
      (card.usage ?? []).flatMap((u) => ['```' + u.lang, ...u.lines, '```', '']),
    ),
    `Made with kexue ${VERSION}.`,
    '',
  ].join('\n');
}

/** The architecture line of a kexue encoder's config. */
export function describeEncoder(c: {
  layers: number;
  hidden: number;
  heads: number;
  norm: string;
  position: string;
  vocabSize: number;
}): string {
  return `${c.layers} × ${c.hidden} ${c.norm === 'pre' ? 'Pre' : 'Post'}-LN BERT encoder, ${c.heads} heads, ${c.position === 'rope' ? 'RoPE' : 'learned'} positions, vocabulary ${c.vocabSize}.`;
}
