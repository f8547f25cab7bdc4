/**
 * `kexue pretrain`: masked-LM pretraining of an encoder on text files, over `runPretraining()` in
 * src/experiments/pretraining.ts. The run's settings are kept in OUT/run.json so that `--resume`
 * continues with exactly the same data, tokenizer and model (only --steps may be raised when resuming).
 * `--recipe zh|en` starts from one of kexue's named recipes; any other flag given overrides it.
 */
import path from 'node:path';
import { initBackend } from '../../backend/index.js';
import type { EvalRecord } from '../../encoder/pretrain.js';
import { findCheckpoint } from '../../io/encoder-files.js';
import { InputError } from '../../io/errors.js';
import { defaultDataDir } from '../../experiments/run.js';
import {
  RECIPES,
  readSpec,
  recipeBaselines,
  recipeSpec,
  runPretraining,
  type Lang,
  type PretrainSpec,
} from '../../experiments/pretraining.js';
import { Progress } from '../progress.js';
import { numberOption, requireString, stringOption, type Command } from '../command.js';
import { ATTENTION_OPTIONS, ATTENTION_USAGE, parseAttentionFlags } from './attention-flags.js';
import { checkEncoderStep } from '../memory.js';

export function parseLang(v: unknown): Lang {
  const s = stringOption(v) ?? 'zh';
  if (s !== 'zh' && s !== 'en') throw new InputError(`--lang must be zh or en, got '${s}'`);
  return s;
}

const usage = `
Usage: kexue pretrain --corpus FILE [--corpus FILE …] --out DIR [options]
       kexue pretrain --recipe NAME --out DIR [options]
       kexue pretrain --out DIR --resume [--steps S]

Masked-LM pretraining (15% of tokens chosen; 80% [MASK], 10% random, 10% kept) with AdamW under a
linear warmup and decay. Documents whose hash falls in the held-out share are kept out of training and
give the MLM accuracy reported over time. Writes to DIR: run.json (the settings), checkpoint/ (resumable,
every --checkpoint-every steps), history.json and history.svg (held-out loss/accuracy over time) and,
at the end, model/ (weights, config and tokenizer, loadable with loadEncoder).

  --recipe NAME      kexue's encoder recipes: ${Object.keys(RECIPES).join(' | ')} (corpus from --data and
                     every setting below; flags given override them; see the README)
  --data DIR         data folder for --recipe (default ../shared/data beside the package, or $KEXUE_DATA)
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
${ATTENTION_USAGE.slice(1)}
                     (train-length refers to --seq; the settings are saved in the model's config)
  --out DIR          output directory
  --resume           continue the run in DIR from its checkpoint
  --json             print the final history as JSON on stdout
`;

function oneOf<T extends string>(v: unknown, name: string, allowed: readonly T[], fallback: T): T {
  const s = stringOption(v) ?? fallback;
  if (!allowed.includes(s as T))
    throw new InputError(`--${name} must be ${allowed.join(' or ')}, got '${s}'`);
  return s as T;
}

/** The base run: a recipe's, or the built-in defaults with the corpus from --corpus. */
function baseSpec(v: Record<string, unknown>): PretrainSpec {
  const recipe = stringOption(v.recipe);
  if (recipe !== undefined) return recipeSpec(recipe, stringOption(v.data) ?? defaultDataDir());
  if (v.data !== undefined) throw new InputError('--data is only used with --recipe');
  const lang = parseLang(v.lang);
  return {
    corpus: [],
    docs: 'lines',
    tokenizer: { lang, kind: lang === 'en' ? 'wordpiece' : 'char', vocabSize: 8000, minCount: 2 },
    layers: 4,
    hidden: 256,
    heads: 4,
    norm: 'post',
    position: 'learned',
    seq: 128,
    batchSize: 32,
    steps: 1000,
    lr: 5e-4,
    warmup: 60,
    seed: 1,
    heldOut: 0.02,
    evalEvery: 100,
    evalBatches: 8,
    checkpointEvery: 200,
  };
}

/** The attention fields of the spec: only the non-default ones, so older run.json files still match. */
function attentionSpec(v: Record<string, unknown>, base: PretrainSpec, seq: number, position: string) {
  const f = parseAttentionFlags(v, seq);
  if ((f.ropeBase !== undefined || f.ropeScaling) && position !== 'rope')
    throw new InputError('--rope-base and --rope-scaling need --position rope');
  const scale = f.scale ?? (v['attention-scale'] === undefined ? base.attentionScale : undefined);
  return {
    ...(scale && { attentionScale: scale }),
    ...(f.ropeBase !== undefined && f.ropeBase !== 10000 && { ropeBase: f.ropeBase }),
    ...(f.ropeScaling && { ropeScaling: f.ropeScaling }),
  };
}

function specFromFlags(v: Record<string, unknown>): PretrainSpec {
  const base = baseSpec(v);
  const corpus = (v.corpus as string[] | undefined)?.map((f) => path.resolve(f)) ?? base.corpus;
  if (!corpus.length) throw new InputError('--corpus (or --recipe) is required');
  const steps = numberOption(v.steps, 'steps', base.steps, { integer: true, min: 1 });
  const lang = v.lang === undefined ? base.tokenizer.lang : parseLang(v.lang);
  const t = base.tokenizer;
  const spec: PretrainSpec = {
    corpus,
    docs: oneOf(v.docs, 'docs', ['lines', 'paragraphs'], base.docs),
    tokenizer: {
      lang,
      kind: oneOf(v.tokenizer, 'tokenizer', ['wordpiece', 'char'], lang === t.lang ? t.kind : 'char'),
      vocabSize: numberOption(v['vocab-size'], 'vocab-size', t.vocabSize, { integer: true, min: 6 }),
      minCount: numberOption(v['min-count'], 'min-count', t.minCount, { integer: true, min: 1 }),
    },
    layers: numberOption(v.layers, 'layers', base.layers, { integer: true, min: 1 }),
    hidden: numberOption(v.hidden, 'hidden', base.hidden, { integer: true, min: 1 }),
    heads: numberOption(v.heads, 'heads', base.heads, { integer: true, min: 1 }),
    norm: oneOf(v.norm, 'norm', ['post', 'pre'], base.norm),
    position: oneOf(v.position, 'position', ['learned', 'rope'], base.position),
    seq: numberOption(v.seq, 'seq', base.seq, { integer: true, min: 3, max: 512 }),
    batchSize: numberOption(v['batch-size'], 'batch-size', base.batchSize, { integer: true, min: 1 }),
    steps,
    lr: numberOption(v.lr, 'lr', base.lr, { above: 0 }),
    warmup: numberOption(
      v.warmup,
      'warmup',
      v.recipe !== undefined && v.steps === undefined ? base.warmup : Math.round(0.06 * steps),
      { integer: true, min: 0 },
    ),
    seed: numberOption(v.seed, 'seed', base.seed, { integer: true }),
    heldOut: numberOption(v['held-out'], 'held-out', base.heldOut, { above: 0, below: 1 }),
    evalEvery: numberOption(v['eval-every'], 'eval-every', base.evalEvery, { integer: true, min: 1 }),
    evalBatches: numberOption(v['eval-batches'], 'eval-batches', base.evalBatches, { integer: true, min: 1 }),
    checkpointEvery: numberOption(v['checkpoint-every'], 'checkpoint-every', base.checkpointEvery, {
      integer: true,
      min: 1,
    }),
  };
  return { ...spec, ...attentionSpec(v, base, spec.seq, spec.position) };
}

const RESUME_FLAGS = ['out', 'resume', 'steps', 'json', 'help'];

/** The run to do: a new one from the flags, or the stored one (with a possibly raised --steps). */
function resolveSpec(v: Record<string, unknown>, out: string): { spec: PretrainSpec; resume: boolean } {
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
  if (v.steps !== undefined)
    spec.steps = numberOption(v.steps, 'steps', spec.steps, { integer: true, min: 1 });
  return { spec, resume: true };
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
  interruptible: true,
  options: {
    recipe: { type: 'string' },
    data: { type: 'string' },
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
    ...ATTENTION_OPTIONS,
    out: { type: 'string' },
    resume: { type: 'boolean' },
    json: { type: 'boolean' },
  },
  async run(v) {
    const out = path.resolve(requireString(v.out, 'out'));
    const { spec, resume } = resolveSpec(v, out);
    const vocab = spec.tokenizer.vocabSize;
    checkEncoderStep(
      {
        vocabSize: vocab,
        layers: spec.layers,
        hidden: spec.hidden,
        heads: spec.heads,
        intermediate: 4 * spec.hidden,
      },
      { seq: spec.seq, batch: spec.batchSize, outputVocab: vocab },
      'this pretraining step',
      ['batch-size', 'seq', 'hidden', 'layers', 'vocab-size'],
    );
    await initBackend();
    const progress = new Progress({ label: 'pretrain', total: spec.steps, silent: Boolean(v.json) });
    let ticked = false;
    const result = await runPretraining(spec, out, {
      resume,
      onStep: (s) => {
        // The bar counts all steps; a resumed run starts it at the checkpoint's step.
        progress.tick(ticked ? 1 : s.step, `loss ${s.loss.toFixed(3)}`);
        ticked = true;
      },
    });
    result.model.dispose();
    const tokenizer = result.tokenizer;
    // What the held-out accuracy means: count models on the same held-out text (saved in baselines.json).
    const baselines = result.finished ? recipeBaselines(spec, out) : undefined;
    if (v.json) {
      process.stdout.write(
        JSON.stringify({ ...spec, history: result.history, vocabSize: tokenizer.vocab.size, baselines }) +
          '\n',
      );
      return 0;
    }
    process.stdout.write(
      `${result.trainSequences} training and ${result.heldOutSequences} held-out sequences of ≤ ${spec.seq} tokens; ` +
        `vocabulary ${tokenizer.vocab.size}${result.resumedFrom !== undefined ? `; resumed at step ${result.resumedFrom}` : ''}\n`,
    );
    process.stdout.write(formatHistory(result.history));
    if (baselines)
      process.stdout.write(
        `baselines on the same held-out text: unigram ${(100 * baselines.unigram).toFixed(1)}%, two-neighbour counts ${(100 * baselines.neighbours).toFixed(1)}%\n`,
      );
    process.stdout.write(`model written to ${path.join(out, 'model')}\n`);
    return 0;
  },
};
