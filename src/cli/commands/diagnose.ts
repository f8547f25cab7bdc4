/**
 * `kexue diagnose`: gradient-flow diagnostics of an encoder on a masked-LM batch of real text —
 * per-layer gradient norms, weight norms and update/weight ratios (src/nn/diagnose.ts), as a table,
 * JSON and an SVG chart. The encoder is built from flags (at initialization) or loaded with --model.
 */
import { initBackend } from '../../backend/index.js';
import { Encoder, MlmMasker, makeMlmBatch, disposeBatch, mlmLoss } from '../../encoder/index.js';
import { loadEncoder } from '../../io/encoder-files.js';
import { prepareCorpus } from '../../encoder/pretrain.js';
import { diagnoseGradients, type GradientReport } from '../../nn/diagnose.js';
import { INIT_NAMES, type InitName } from '../../nn/init.js';
import { InputError } from '../../io/errors.js';
import { checkOutputFile, writeFileAtomic } from '../../io/atomic.js';
import { renderChart } from '../../report/svg.js';
import type { Chart } from '../../experiments/types.js';
import type { Tokenizer } from '../../tokenizers/index.js';
import { Rng } from '../../util/rng.js';
import { numberOption, requireString, stringOption, type Command } from '../command.js';
import { buildTokenizer, readCorpus } from '../../experiments/pretraining.js';
import { parseLang } from './pretrain.js';
import { checkEncoderStep } from '../memory.js';

const usage = `
Usage: kexue diagnose --corpus FILE [--model DIR | model flags] [options]

Computes the masked-LM loss on one batch of text and reports, for each layer (embeddings, layers.0,
…, mlm), the gradient norm, the weight norm and the relative size ‖Δw‖/‖w‖ of one optimizer step.
Without --model, a fresh encoder is built (a character vocabulary from the corpus) — the state at
initialization, where Post-LN's depth-dependent gradients show.

  --corpus FILE      text (one document a line; .jsonl: the "text" field)
  --model DIR        an encoder directory (saveEncoder / kexue pretrain's model/) with its tokenizer
  --lang L           zh (default) | en: character vocabulary for a fresh encoder
  --layers L         (default 6)   --hidden H (default 128)   --heads A (default 4)
  --norm N           post (default) | pre
  --init I           ${INIT_NAMES.join(' | ')} (default truncated-normal)
  --init-std X       σ of truncated-normal (default 0.02)
  --seq N            tokens per sequence (default 64)
  --batch-size N     sequences (default 8)
  --rule R           adam (default) | sgd: the update the ratio describes
  --lr X             learning rate of that update (default 1e-4)
  --seed N           weights and masking seed (default 1)
  --chart FILE       write an SVG bar chart of the per-layer norms
  --json             print the report as JSON
`;

function freshModel(
  v: Record<string, unknown>,
  docs: string[],
  seed: number,
  run: { seq: number; batch: number },
) {
  const tokenizer = buildTokenizer(docs, {
    lang: parseLang(v.lang),
    kind: 'char',
    vocabSize: 8000,
    minCount: 1,
  });
  const init = stringOption(v.init) ?? 'truncated-normal';
  if (!INIT_NAMES.includes(init as InitName)) {
    throw new InputError(`--init must be one of ${INIT_NAMES.join(', ')}, got '${init}'`);
  }
  const norm = stringOption(v.norm) ?? 'post';
  if (norm !== 'post' && norm !== 'pre') throw new InputError(`--norm must be post or pre, got '${norm}'`);
  const hidden = numberOption(v.hidden, 'hidden', 128, { integer: true, min: 1 });
  const heads = numberOption(v.heads, 'heads', 4, { integer: true, min: 1 });
  if (hidden % heads !== 0)
    throw new InputError(`--hidden (${hidden}) must be divisible by --heads (${heads})`);
  const layers = numberOption(v.layers, 'layers', 6, { integer: true, min: 1 });
  const vocabSize = tokenizer.vocab.size;
  checkEncoderStep(
    { vocabSize, layers, hidden, heads, intermediate: 4 * hidden },
    { ...run, outputVocab: vocabSize },
    'this diagnosis step',
    ['batch-size', 'seq', 'hidden', 'layers'],
  );
  const model = new Encoder({
    vocabSize,
    padId: tokenizer.vocab.special.pad,
    layers,
    hidden,
    heads,
    norm,
    init: init as InitName,
    initStd: numberOption(v['init-std'], 'init-std', 0.02, { above: 0 }),
    dropout: 0,
    attentionDropout: 0,
    seed,
  });
  return { model, tokenizer };
}

/** One MLM batch of `batchSize` random sequences of the corpus. */
function corpusBatch(docs: string[], tok: Tokenizer, seq: number, batchSize: number, seed: number) {
  const { train } = prepareCorpus(docs, tok, seq, 0);
  if (!train.length) throw new InputError('the corpus gives no token sequence');
  const rng = new Rng(seed);
  const picked = rng
    .shuffle([...train.keys()])
    .slice(0, batchSize)
    .map((i) => train[i]);
  const masker = new MlmMasker({
    vocabSize: tok.vocab.size,
    maskId: tok.vocab.special.mask,
    specialIds: tok.vocab.specialIdSet(),
  });
  return makeMlmBatch(picked, masker, tok.vocab.special.pad, rng);
}

function formatTable(r: GradientReport): string {
  const w = Math.max(5, ...r.groups.map((g) => g.group.length));
  const e = (x: number) => x.toExponential(3).padStart(11);
  const lines = [`${'layer'.padEnd(w)}   grad norm  weight norm  update/weight`];
  for (const g of r.groups)
    lines.push(`${g.group.padEnd(w)} ${e(g.gradNorm)}  ${e(g.weightNorm)}    ${e(g.updateRatio)}`);
  return `MLM loss ${r.loss.toFixed(4)}\n${lines.join('\n')}\n`;
}

export function diagnoseChart(r: GradientReport): Chart {
  const x = r.groups.map((_, i) => i);
  return {
    title: 'Per-layer gradient diagnostics',
    kind: 'bar',
    xLabel: 'layer',
    yLabel: 'norm / ratio (log scale)',
    logY: true,
    categories: r.groups.map((g) => g.group),
    series: [
      { name: 'gradient norm', x, y: r.groups.map((g) => g.gradNorm) },
      { name: 'weight norm', x, y: r.groups.map((g) => g.weightNorm) },
      { name: 'update/weight', x, y: r.groups.map((g) => g.updateRatio) },
    ],
  };
}

export const diagnoseCommand: Command = {
  name: 'diagnose',
  summary: 'per-layer gradient norms, weight norms and update ratios of an encoder on text',
  usage,
  options: {
    corpus: { type: 'string' },
    model: { type: 'string' },
    lang: { type: 'string' },
    layers: { type: 'string' },
    hidden: { type: 'string' },
    heads: { type: 'string' },
    norm: { type: 'string' },
    init: { type: 'string' },
    'init-std': { type: 'string' },
    seq: { type: 'string' },
    'batch-size': { type: 'string' },
    rule: { type: 'string' },
    lr: { type: 'string' },
    seed: { type: 'string' },
    chart: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(v) {
    const corpus = requireString(v.corpus, 'corpus');
    const chartFile = stringOption(v.chart);
    if (chartFile) checkOutputFile(chartFile, '--chart', { extensions: ['.svg'], inputs: [corpus] });
    const docs = readCorpus([corpus]);
    if (!docs.length) throw new InputError('no text', corpus);
    const seq = numberOption(v.seq, 'seq', 64, { integer: true, min: 3 });
    const batchSize = numberOption(v['batch-size'], 'batch-size', 8, { integer: true, min: 1 });
    const lr = numberOption(v.lr, 'lr', 1e-4, { above: 0 });
    const seed = numberOption(v.seed, 'seed', 1, { integer: true });
    const rule = stringOption(v.rule) ?? 'adam';
    if (rule !== 'adam' && rule !== 'sgd') throw new InputError(`--rule must be adam or sgd, got '${rule}'`);
    await initBackend();
    const modelDir = stringOption(v.model);
    const loaded = modelDir ? loadEncoder(modelDir) : freshModel(v, docs, seed, { seq, batch: batchSize });
    if (!loaded.tokenizer) throw new InputError('the model directory has no tokenizer (vocab.txt)', modelDir);
    const { model, tokenizer } = loaded;
    // A loaded model fits (it was saved); its step at this size might not.
    const run = { seq, batch: batchSize, outputVocab: model.config.vocabSize };
    if (modelDir) checkEncoderStep(model.config, run, 'this diagnosis step', ['batch-size', 'seq']);
    if (model.config.position === 'learned' && seq > model.config.maxPositions) {
      throw new InputError(`--seq ${seq} exceeds the model's maxPositions ${model.config.maxPositions}`);
    }
    const batch = corpusBatch(docs, tokenizer, seq, batchSize, seed);
    const report = diagnoseGradients(model, batch, (m, b) => mlmLoss(m, b, false).loss, { lr, rule });
    disposeBatch(batch);
    model.dispose();
    if (chartFile)
      writeFileAtomic(chartFile, renderChart(diagnoseChart(report), { width: 720, height: 400 }));
    if (v.json) {
      process.stdout.write(JSON.stringify({ config: model.config, rule, lr, ...report }) + '\n');
    } else {
      process.stdout.write(formatTable(report));
      if (chartFile) process.stdout.write(`chart written to ${chartFile}\n`);
    }
    return 0;
  },
};
