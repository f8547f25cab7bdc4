/**
 * `kexue pretrain`: masked-LM pretraining of an encoder on text files, over `pretrain()` in
 * src/encoder. The run's settings are kept in OUT/run.json so that `--resume` continues with exactly
 * the same data, tokenizer and model (only --steps may be raised when resuming).
 */
import fs from 'node:fs';
import path from 'node:path';
import { initBackend } from '../../backend/index.js';
import { pretrain, type EvalRecord } from '../../encoder/pretrain.js';
import { findCheckpoint } from '../../encoder/io.js';
import { InputError } from '../../io/errors.js';
import { writeFileAtomic, writeJsonAtomic } from '../../io/atomic.js';
import { readJsonl, readText } from '../../io/text.js';
import { renderChart } from '../../report/svg.js';
import {
  CHINESE_CHAR,
  CharTokenizer,
  DEFAULT_WORDPIECE,
  ENGLISH_CHAR,
  WordPieceTokenizer,
  buildWordPieceVocab,
  loadTokenizer,
  type Tokenizer,
} from '../../tokenizers/index.js';
import { Progress } from '../progress.js';
import { numberOption, requireString, stringOption, type Command } from '../command.js';

export type DocSplit = 'lines' | 'paragraphs';

/**
 * Documents of text files: `.jsonl` files give each record's "text" field (CLUE files: the labels
 * are ignored); other files give their non-blank lines, or blank-line-separated paragraphs (lines
 * joined by a space) with `split: 'paragraphs'`, for prose whose lines are only wrapped.
 */
export function readCorpus(files: readonly string[], split: DocSplit = 'lines'): string[] {
  const docs: string[] = [];
  for (const file of files) {
    if (file.endsWith('.jsonl')) {
      for (const { line, value } of readJsonl(file)) {
        const text = (value as { text?: unknown } | null)?.text;
        if (typeof text !== 'string') throw new InputError('expected a string "text"', file, line, 'text');
        if (text.trim()) docs.push(text);
      }
      continue;
    }
    const content = readText(file);
    const parts = split === 'paragraphs' ? content.split(/\r?\n\s*\r?\n/) : content.split(/\r?\n/);
    for (const p of parts) {
      const doc = split === 'paragraphs' ? p.replace(/\s*\r?\n\s*/g, ' ').trim() : p;
      if (doc.trim()) docs.push(doc);
    }
  }
  return docs;
}

export type Lang = 'zh' | 'en';

export interface TokenizerSpec {
  lang: Lang;
  /** English only: WordPiece (default) or characters; Chinese is always character-level. */
  kind: 'wordpiece' | 'char';
  vocabSize: number;
  minCount: number;
}

/** Builds the tokenizer from the corpus itself. */
export function buildTokenizer(docs: readonly string[], spec: TokenizerSpec): Tokenizer {
  if (spec.lang === 'zh' || spec.kind === 'char') {
    const opts = spec.lang === 'zh' ? CHINESE_CHAR : ENGLISH_CHAR;
    return CharTokenizer.build(docs, opts, { minCount: spec.minCount, maxSize: spec.vocabSize });
  }
  const vocab = buildWordPieceVocab(docs, { vocabSize: spec.vocabSize, minCharCount: spec.minCount });
  return new WordPieceTokenizer(vocab, DEFAULT_WORDPIECE);
}

export function parseLang(v: unknown): Lang {
  const s = stringOption(v) ?? 'zh';
  if (s !== 'zh' && s !== 'en') throw new InputError(`--lang must be zh or en, got '${s}'`);
  return s;
}

/** Everything that defines a run; stored as run.json. */
interface RunSpec {
  corpus: string[];
  docs: DocSplit;
  tokenizer: TokenizerSpec;
  layers: number;
  hidden: number;
  heads: number;
  norm: 'post' | 'pre';
  position: 'learned' | 'rope';
  seq: number;
  batchSize: number;
  steps: number;
  lr: number;
  warmup: number;
  seed: number;
  heldOut: number;
  evalEvery: number;
  evalBatches: number;
  checkpointEvery: number;
}

const usage = `
Usage: kexue pretrain --corpus FILE [--corpus FILE …] --out DIR [options]
       kexue pretrain --out DIR --resume [--steps S]

Masked-LM pretraining (15% of tokens chosen; 80% [MASK], 10% random, 10% kept) with AdamW under a
linear warmup and decay. Documents whose hash falls in the held-out share are kept out of training and
give the MLM accuracy reported over time. Writes to DIR: run.json (the settings), checkpoint/ (resumable,
every --checkpoint-every steps), history.json and history.svg (held-out loss/accuracy over time) and,
at the end, model/ (weights, config and tokenizer, loadable with loadEncoder).

  --corpus FILE      text file(s): one document a line (or see --docs); .jsonl: each record's "text"
  --docs D           lines (default) | paragraphs (blank-line separated, for wrapped prose)
  --lang L           zh (character-level, default) | en
  --tokenizer T      en only: wordpiece (default, vocab built from the corpus) | char
  --vocab-size N     maximum vocabulary size (default 8000)
  --min-count N      characters seen fewer times become [UNK] (default 2)
  --layers L         Transformer blocks (default 4)
  --hidden H         hidden size (default 256)
  --heads A          attention heads (default 4)
  --norm N           post (BERT, default) | pre
  --position P       learned (default) | rope
  --seq N            tokens per training sequence incl. [CLS]/[SEP] (default 128)
  --batch-size N     sequences per step (default 32)
  --steps S          training steps (default 1000)
  --lr X             peak learning rate (default 5e-4)
  --warmup N         warmup steps (default 6% of --steps)
  --seed N           seed for weights, data order, masking and dropout (default 1)
  --held-out X       share of documents held out (default 0.02)
  --eval-every N     evaluate every N steps (default 100)
  --eval-batches N   held-out batches per evaluation (default 8)
  --checkpoint-every N  (default 200)
  --out DIR          output directory
  --resume           continue the run in DIR from its checkpoint
  --json             print the final history as JSON on stdout
`;

const posInt = (x: number) => Number.isInteger(x) && x >= 1;

function oneOf<T extends string>(v: unknown, name: string, allowed: readonly T[], fallback: T): T {
  const s = stringOption(v) ?? fallback;
  if (!allowed.includes(s as T))
    throw new InputError(`--${name} must be ${allowed.join(' or ')}, got '${s}'`);
  return s as T;
}

function specFromFlags(v: Record<string, unknown>): RunSpec {
  const corpus = (v.corpus as string[] | undefined) ?? [];
  if (!corpus.length) throw new InputError('--corpus is required');
  const steps = numberOption(v.steps, 'steps', 1000, posInt);
  const lang = parseLang(v.lang);
  return {
    corpus: corpus.map((f) => path.resolve(f)),
    docs: oneOf(v.docs, 'docs', ['lines', 'paragraphs'], 'lines'),
    tokenizer: {
      lang,
      kind: oneOf(v.tokenizer, 'tokenizer', ['wordpiece', 'char'], lang === 'en' ? 'wordpiece' : 'char'),
      vocabSize: numberOption(v['vocab-size'], 'vocab-size', 8000, (x) => Number.isInteger(x) && x >= 6),
      minCount: numberOption(v['min-count'], 'min-count', 2, posInt),
    },
    layers: numberOption(v.layers, 'layers', 4, posInt),
    hidden: numberOption(v.hidden, 'hidden', 256, posInt),
    heads: numberOption(v.heads, 'heads', 4, posInt),
    norm: oneOf(v.norm, 'norm', ['post', 'pre'], 'post'),
    position: oneOf(v.position, 'position', ['learned', 'rope'], 'learned'),
    seq: numberOption(v.seq, 'seq', 128, (x) => Number.isInteger(x) && x >= 3 && x <= 512),
    batchSize: numberOption(v['batch-size'], 'batch-size', 32, posInt),
    steps,
    lr: numberOption(v.lr, 'lr', 5e-4, (x) => x > 0),
    warmup: numberOption(v.warmup, 'warmup', Math.round(0.06 * steps), (x) => Number.isInteger(x) && x >= 0),
    seed: numberOption(v.seed, 'seed', 1, Number.isInteger),
    heldOut: numberOption(v['held-out'], 'held-out', 0.02, (x) => x > 0 && x < 1),
    evalEvery: numberOption(v['eval-every'], 'eval-every', 100, posInt),
    evalBatches: numberOption(v['eval-batches'], 'eval-batches', 8, posInt),
    checkpointEvery: numberOption(v['checkpoint-every'], 'checkpoint-every', 200, posInt),
  };
}

function readSpec(out: string): RunSpec {
  const file = path.join(out, 'run.json');
  if (!fs.existsSync(file)) throw new InputError('no run.json here: nothing to resume', out);
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as RunSpec;
  } catch (e) {
    throw new InputError(`not valid JSON (${(e as Error).message})`, file);
  }
}

const RESUME_FLAGS = ['out', 'resume', 'steps', 'json', 'help'];

/** The run to do: a new one from the flags, or the stored one (with a possibly raised --steps). */
function resolveSpec(v: Record<string, unknown>, out: string): { spec: RunSpec; resume: boolean } {
  const ckpt = findCheckpoint(path.join(out, 'checkpoint'));
  if (!v.resume) {
    if (ckpt) throw new InputError('already holds a checkpoint; pass --resume or choose another --out', out);
    return { spec: specFromFlags(v), resume: false };
  }
  const extra = Object.keys(v).filter((k) => v[k] !== undefined && !RESUME_FLAGS.includes(k));
  if (extra.length) {
    throw new InputError(
      `with --resume the run's stored settings apply; only --steps may change (got --${extra[0]})`,
    );
  }
  const spec = readSpec(out);
  if (!ckpt) throw new InputError('no checkpoint to resume from', path.join(out, 'checkpoint'));
  if (v.steps !== undefined) spec.steps = numberOption(v.steps, 'steps', spec.steps, posInt);
  return { spec, resume: true };
}

function historyChart(history: EvalRecord[]): string {
  const x = history.map((h) => h.step);
  return renderChart({
    title: 'Held-out masked-LM accuracy',
    kind: 'line',
    xLabel: 'step',
    yLabel: 'accuracy',
    series: [{ name: 'held-out MLM accuracy', x, y: history.map((h) => h.evalAccuracy) }],
  });
}

function formatHistory(history: EvalRecord[]): string {
  const rows = history.map(
    (h) =>
      `${String(h.step).padStart(7)}  ${h.seconds.toFixed(0).padStart(7)}  ${h.trainLoss.toFixed(3).padStart(10)}` +
      `  ${h.evalLoss.toFixed(3).padStart(9)}  ${(100 * h.evalAccuracy).toFixed(1).padStart(8)}%`,
  );
  return ['   step  seconds  train loss  eval loss  eval acc', ...rows].join('\n') + '\n';
}

export const pretrainCommand: Command = {
  name: 'pretrain',
  summary: 'masked-LM pretraining of an encoder on text (resumable)',
  usage,
  options: {
    corpus: { type: 'string', multiple: true },
    docs: { type: 'string' },
    lang: { type: 'string' },
    tokenizer: { type: 'string' },
    'vocab-size': { type: 'string' },
    'min-count': { type: 'string' },
    layers: { type: 'string' },
    hidden: { type: 'string' },
    heads: { type: 'string' },
    norm: { type: 'string' },
    position: { type: 'string' },
    seq: { type: 'string' },
    'batch-size': { type: 'string' },
    steps: { type: 'string' },
    lr: { type: 'string' },
    warmup: { type: 'string' },
    seed: { type: 'string' },
    'held-out': { type: 'string' },
    'eval-every': { type: 'string' },
    'eval-batches': { type: 'string' },
    'checkpoint-every': { type: 'string' },
    out: { type: 'string' },
    resume: { type: 'boolean' },
    json: { type: 'boolean' },
  },
  async run(v) {
    const out = path.resolve(requireString(v.out, 'out'));
    const { spec, resume } = resolveSpec(v, out);
    if (spec.hidden % spec.heads !== 0) {
      throw new InputError(`--hidden (${spec.hidden}) must be divisible by --heads (${spec.heads})`);
    }
    if (spec.warmup > spec.steps) throw new InputError(`--warmup (${spec.warmup}) exceeds --steps`);
    const docs = readCorpus(spec.corpus, spec.docs);
    if (docs.length < 2) throw new InputError('the corpus has fewer than two documents', spec.corpus[0]);
    const tokenizer = resume
      ? loadTokenizer(path.join(out, 'checkpoint'))
      : buildTokenizer(docs, spec.tokenizer);
    fs.mkdirSync(out, { recursive: true });
    writeJsonAtomic(path.join(out, 'run.json'), spec);
    await initBackend();
    const progress = new Progress({ label: 'pretrain', total: spec.steps, silent: Boolean(v.json) });
    let ticked = false;
    let result;
    try {
      result = await pretrain({
        texts: docs,
        tokenizer,
        model: {
          layers: spec.layers,
          hidden: spec.hidden,
          heads: spec.heads,
          norm: spec.norm,
          position: spec.position,
          maxPositions: Math.max(512, spec.seq),
        },
        seqLen: spec.seq,
        batchSize: spec.batchSize,
        steps: spec.steps,
        lr: spec.lr,
        warmupSteps: spec.warmup,
        seed: spec.seed,
        heldOut: spec.heldOut,
        evalEvery: spec.evalEvery,
        evalBatches: spec.evalBatches,
        checkpointEvery: spec.checkpointEvery,
        outDir: out,
        onStep: (s) => {
          // The bar counts all steps; a resumed run starts it at the checkpoint's step.
          progress.tick(ticked ? 1 : s.step, `loss ${s.loss.toFixed(3)}`);
          ticked = true;
        },
      });
    } catch (e) {
      // The library reports corpus-size problems as plain errors; they are the user's input.
      if (/fewer than one batch|too short/.test((e as Error).message))
        throw new InputError((e as Error).message);
      throw e;
    }
    result.model.dispose();
    if (result.history.length) writeFileAtomic(path.join(out, 'history.svg'), historyChart(result.history));
    if (v.json) {
      process.stdout.write(
        JSON.stringify({ ...spec, history: result.history, vocabSize: tokenizer.vocab.size }) + '\n',
      );
      return 0;
    }
    process.stdout.write(
      `${result.trainSequences} training and ${result.heldOutSequences} held-out sequences of ≤ ${spec.seq} tokens; ` +
        `vocabulary ${tokenizer.vocab.size}${result.resumedFrom !== undefined ? `; resumed at step ${result.resumedFrom}` : ''}\n`,
    );
    process.stdout.write(formatHistory(result.history));
    process.stdout.write(`model written to ${path.join(out, 'model')}\n`);
    return 0;
  },
};
