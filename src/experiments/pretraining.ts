/**
 * Pretraining runs on files: a run is fully described by a `PretrainSpec` (kept as OUT/run.json), so it
 * can be resumed and reproduced; the named recipes (`RECIPES`) are the encoders kexue's own
 * reproductions start from. Used by `kexue pretrain` and by experiments that need an encoder.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { createHash } from 'node:crypto';
import { prepareCorpus, pretrain, type EvalRecord, type PretrainResult } from '../encoder/pretrain.js';
import { mlmCountBaselines, type MlmBaselines } from '../encoder/baselines.js';
import { findCheckpoint } from '../io/encoder-files.js';
import type { EncoderConfig } from '../encoder/config.js';
import type { ScaleAt } from '../attention/scale.js';
import type { RopeScaling } from '../attention/rope.js';
import { InputError } from '../io/errors.js';
import { writeFileAtomic, writeJsonAtomic } from '../io/atomic.js';
import { readJsonFile, readJsonl, readText } from '../io/text.js';
import { renderChart } from '../report/svg.js';
import {
  CHINESE_CHAR,
  CharTokenizer,
  DEFAULT_WORDPIECE,
  ENGLISH_CHAR,
  WordPieceTokenizer,
  buildWordPieceVocab,
  type Tokenizer,
} from '../tokenizers/index.js';
import { loadTokenizer } from '../io/tokenizer-files.js';

export type DocSplit = 'lines' | 'paragraphs';
export type Lang = 'zh' | 'en';

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

/** Everything that defines a pretraining run; stored as run.json. */
export interface PretrainSpec {
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
  /**
   * Optional fields: absent means the standard setting, so run.json files written before they existed
   * still compare equal (`pretrainedEncoder`). Entropy-invariant scale (src/attention/scale.ts).
   */
  attentionScale?: { kind: 'log-n'; base: number | 'train-length'; at: ScaleAt; clamp: number };
  /** RoPE base (default 10,000) and an inference-time RoPE scaling (src/attention/rope.ts). */
  ropeBase?: number;
  ropeScaling?: RopeScaling;
}

/** The encoder config fields a spec's attention options set (none for a standard spec). */
export function attentionConfig(spec: PretrainSpec): Partial<EncoderConfig> {
  const a = spec.attentionScale;
  return {
    ...(a && {
      attentionScale: 'log-n',
      attentionScaleOptions: { base: a.base, at: a.at, clamp: a.clamp, trainLength: spec.seq },
    }),
    ...(spec.ropeBase !== undefined && { ropeBase: spec.ropeBase }),
    ...(spec.ropeScaling && { ropeScaling: spec.ropeScaling }),
  };
}

export interface Recipe {
  about: string;
  /** Corpus files relative to the data folder. */
  corpus: string[];
  spec: Omit<PretrainSpec, 'corpus'>;
  /** What the quick budget of an experiment changes: a smaller model trained briefly (a pipeline check). */
  quick: Partial<PretrainSpec>;
}

const SHARED = {
  layers: 4,
  hidden: 128,
  heads: 4,
  norm: 'post',
  // RoPE: on the toy language of encoder/pretrain.test.ts, 2 blocks reach 61% held-out MLM accuracy in 160
  // steps with RoPE but 24% with learned positions, which start as noise the attention must learn to read;
  // with learned positions the Chinese recipe stalled at 12% while a bigram count model gets 34%.
  position: 'rope',
  seq: 64,
  batchSize: 32,
  // 4,000 steps until the fused kernels halved the step time (0.35 → 0.19 s on 2 cores); the width stays
  // at 128 so that the fine-tuning experiments built on these encoders keep their cost.
  steps: 8000,
  lr: 1e-3,
  warmup: 300,
  seed: 1,
  heldOut: 0.02,
  evalEvery: 250,
  evalBatches: 8,
  checkpointEvery: 250,
} as const;

// The quick budget only checks the pipelines end to end (`kexue lab` must finish in minutes), so its
// encoder is a much smaller model trained briefly: ≈ 20 s instead of ≈ 26 min. It stays near the
// unigram plateau (held-out MLM accuracy ≈ 3.5% for the first ≈ 400 steps of the full model on the
// Chinese corpus), so quick fine-tuning numbers say nothing about the techniques: the full budget's do.
const QUICK: Partial<PretrainSpec> = {
  layers: 2,
  hidden: 64,
  heads: 2,
  seq: 32,
  batchSize: 16,
  steps: 250,
  warmup: 25,
  evalEvery: 50,
  checkpointEvery: 125,
};

/**
 * The encoders kexue's reproductions start from, sized to finish in ≤ 30 min on 2 cores with the aten
 * backend (measured timings are in the README).
 */
export const RECIPES: Record<Lang, Recipe> = {
  zh: {
    about:
      'Chinese characters: TNEWS unlabeled headlines plus the text (not the labels) of the CLUE TNEWS and IFLYTEK training sets',
    corpus: ['text/tnews-unlabeled.txt', 'clue/tnews/train.jsonl', 'clue/iflytek/train.jsonl'],
    spec: {
      docs: 'lines',
      tokenizer: { lang: 'zh', kind: 'char', vocabSize: 8000, minCount: 2 },
      ...SHARED,
    },
    quick: QUICK,
  },
  en: {
    about:
      "English WordPiece (8,000 pieces built from the text) on Jane Austen's novels, paragraphs as documents",
    corpus: ['text/janeausten.txt'],
    spec: {
      docs: 'paragraphs',
      tokenizer: { lang: 'en', kind: 'wordpiece', vocabSize: 8000, minCount: 2 },
      ...SHARED,
    },
    quick: QUICK,
  },
};

export function isRecipe(name: string): name is Lang {
  return Object.hasOwn(RECIPES, name);
}

/** A recipe's run with its corpus resolved against `dataDir`; `quick` applies the recipe's quick changes. */
export function recipeSpec(name: string, dataDir: string, quick = false): PretrainSpec {
  if (!isRecipe(name))
    throw new InputError(`unknown recipe '${name}' (available: ${Object.keys(RECIPES).join(', ')})`);
  const r = RECIPES[name];
  return {
    corpus: r.corpus.map((f) => path.resolve(dataDir, f)),
    ...r.spec,
    ...(quick ? r.quick : {}),
  };
}

/** Checks what the library would reject later, as input errors naming the option. */
export function checkSpec(spec: PretrainSpec): void {
  if (spec.hidden % spec.heads !== 0)
    throw new InputError(`--hidden (${spec.hidden}) must be divisible by --heads (${spec.heads})`);
  if (spec.warmup > spec.steps) throw new InputError(`--warmup (${spec.warmup}) exceeds --steps`);
}

export function readSpec(out: string): PretrainSpec {
  const file = path.join(out, 'run.json');
  if (!fs.existsSync(file)) throw new InputError('no run.json here: nothing to resume', out);
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as PretrainSpec;
  } catch (e) {
    throw new InputError(`not valid JSON (${(e as Error).message})`, file);
  }
}

function historyChart(history: EvalRecord[]): string {
  return renderChart({
    title: 'Held-out masked-LM accuracy',
    kind: 'line',
    xLabel: 'step',
    yLabel: 'accuracy',
    series: [
      { name: 'held-out MLM accuracy', x: history.map((h) => h.step), y: history.map((h) => h.evalAccuracy) },
    ],
  });
}

export interface RunOptions {
  /** Continue from OUT/checkpoint (whose tokenizer is reused) instead of starting afresh. */
  resume: boolean;
  onStep?: (s: { step: number; loss: number }) => void;
}

/** The documents a run trained on, as a hash: `--resume` refuses a corpus that changed since. */
interface CorpusFingerprint {
  sha256: string;
  documents: number;
}

const CORPUS_FILE = 'corpus.json';

export function corpusFingerprint(docs: readonly string[]): CorpusFingerprint {
  const h = createHash('sha256');
  // The length prefix keeps document boundaries in the hash: ['ab', 'c'] ≠ ['a', 'bc'].
  for (const d of docs) h.update(`${d.length}:${d}`);
  return { sha256: h.digest('hex'), documents: docs.length };
}

/** Throws when `out` records a different corpus than `now` (runs from before the record are not checked). */
function checkCorpusUnchanged(out: string, now: CorpusFingerprint, files: readonly string[]): void {
  const file = path.join(out, CORPUS_FILE);
  if (!fs.existsSync(file)) return;
  const then = readJsonFile(file) as CorpusFingerprint;
  if (then.sha256 !== now.sha256)
    throw new InputError(
      `the corpus changed since this run started (${then.documents} documents then, ${now.documents} now; ` +
        `${files.join(', ')}): resuming would train on other text; restore it or start a new run in another folder`,
      out,
    );
}

/**
 * Runs (or resumes) `spec` into `out`: run.json, checkpoint/, history.json, history.svg and, when the
 * last step is reached, model/. The caller disposes the returned model.
 */
export async function runPretraining(
  spec: PretrainSpec,
  out: string,
  o: RunOptions,
): Promise<PretrainResult & { tokenizer: Tokenizer }> {
  checkSpec(spec);
  const docs = readCorpus(spec.corpus, spec.docs);
  if (docs.length < 2) throw new InputError('the corpus has fewer than two documents', spec.corpus[0]);
  const fingerprint = corpusFingerprint(docs);
  if (o.resume) checkCorpusUnchanged(out, fingerprint, spec.corpus);
  const tokenizer = o.resume
    ? loadTokenizer(path.join(out, 'checkpoint'))
    : buildTokenizer(docs, spec.tokenizer);
  const created = !fs.existsSync(out);
  fs.mkdirSync(out, { recursive: true });
  writeJsonAtomic(path.join(out, 'run.json'), spec);
  if (!o.resume) writeJsonAtomic(path.join(out, CORPUS_FILE), fingerprint);
  // A fresh run that fails before its first checkpoint leaves nothing behind (not even run.json).
  const undo = () => {
    if (o.resume || findCheckpoint(path.join(out, 'checkpoint'))) return;
    for (const f of ['run.json', 'history.json', CORPUS_FILE]) fs.rmSync(path.join(out, f), { force: true });
    if (created && fs.readdirSync(out).length === 0) fs.rmdirSync(out);
  };
  let result: PretrainResult;
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
        ...attentionConfig(spec),
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
      onStep: o.onStep,
    });
  } catch (e) {
    undo();
    // The library reports corpus-size problems as plain errors; they are the user's input.
    if (/fewer than one batch|too short/.test((e as Error).message))
      throw new InputError((e as Error).message);
    throw e;
  }
  if (result.history.length) writeFileAtomic(path.join(out, 'history.svg'), historyChart(result.history));
  return { ...result, tokenizer };
}

/**
 * The model directory of `spec` trained into `out`: reused when that run has finished, resumed when it
 * was interrupted, started when `out` is empty. A different run already in `out` is an error, so an
 * experiment never silently starts from an encoder other than the one it names.
 */
export async function pretrainedEncoder(
  spec: PretrainSpec,
  out: string,
  onStep?: RunOptions['onStep'],
): Promise<{ modelDir: string; history: EvalRecord[]; baselines: MlmBaselines }> {
  const modelDir = path.join(out, 'model');
  const started = fs.existsSync(path.join(out, 'run.json'));
  if (started && !isDeepStrictEqual(readSpec(out), spec))
    throw new InputError(
      'holds a different pretraining run (run.json); move it or choose another folder',
      out,
    );
  const historyFile = path.join(out, 'history.json');
  let history: EvalRecord[];
  if (started && fs.existsSync(path.join(modelDir, 'config.json')) && fs.existsSync(historyFile)) {
    history = JSON.parse(fs.readFileSync(historyFile, 'utf8')) as EvalRecord[];
  } else {
    const resume = started && findCheckpoint(path.join(out, 'checkpoint')) !== undefined;
    const r = await runPretraining(spec, out, { resume, onStep });
    r.model.dispose();
    history = r.history;
  }
  return { modelDir, history, baselines: recipeBaselines(spec, out) };
}

/**
 * The unigram and two-neighbour count baselines on the held-out text the run evaluates on (the same
 * sequences), counted on its training sequences; kept in `out/baselines.json`.
 */
export function recipeBaselines(spec: PretrainSpec, out: string): MlmBaselines {
  const file = path.join(out, 'baselines.json');
  if (fs.existsSync(file)) return readJsonFile(file) as MlmBaselines;
  const tok = loadTokenizer(path.join(out, 'model'));
  const docs = readCorpus(spec.corpus, spec.docs);
  const { train, eval: held } = prepareCorpus(docs, tok, spec.seq, spec.heldOut);
  const b = mlmCountBaselines(
    train,
    held.slice(0, spec.evalBatches * spec.batchSize),
    tok.vocab.specialIdSet(),
  );
  writeJsonAtomic(file, b);
  return b;
}

/** One phrase for a result's text: held-out MLM accuracy beside the count baselines. */
export function accuracyWithBaselines(history: EvalRecord[], b: MlmBaselines): string {
  const last = history[history.length - 1];
  return `held-out MLM accuracy ${(100 * last.evalAccuracy).toFixed(1)}% (on the same held-out text a unigram model gets ${(100 * b.unigram).toFixed(1)}%, a two-neighbour count model ${(100 * b.neighbours).toFixed(1)}%)`;
}
