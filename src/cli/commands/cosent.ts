/** `kexue cosent train|eval`: fine-tune a sentence encoder on sentence pairs (CoSENT or a baseline) and evaluate it. */
import path from 'node:path';
import { initBackend } from '../../backend/index.js';
import { OBJECTIVES, evaluatePairs, trainSentenceEncoder, type ObjectiveName } from '../../cosent/index.js';
import { stepsPerEpochOf } from '../../cosent/trainer.js';
import { loadSentenceModel, saveTrainingTo } from '../../io/sentence-files.js';
import { POOLINGS } from '../../encoder/index.js';
import { InputError } from '../../io/errors.js';
import { readSentencePairs } from '../../io/sts.js';
import { Progress } from '../progress.js';
import { numberOption, requireString, stringOption, type Command } from '../command.js';
import { sentenceOverride } from './encode.js';
import { checkEncoderStep } from '../memory.js';

const usage = `
Usage: kexue cosent train --train FILE --dev FILE --encoder DIR --out DIR [options]
       kexue cosent eval --model DIR --data FILE [--json]

Sentence embeddings trained with CoSENT (https://kexue.fm/archives/8847) or, for comparison, the
Sentence-BERT softmax objective or cosine-MSE regression, under one trainer. Data files are TSV
's1 <tab> s2 <tab> label' (also 'id <tab> s1 <tab> s2 <tab> label', or the English STS-B file with
its header row); labels are binary or graded (e.g. 0–5). Evaluation: Spearman ×100 between the
cosine of the two sentence vectors and the labels.

train:
  --train FILE         training pairs
  --dev FILE           dev pairs: evaluated after every epoch; the best epoch is kept
  --encoder DIR        a kexue encoder directory (with its tokenizer) to fine-tune
  --out DIR            where the best model, sentence.json and train-log.json go
  --objective NAME     ${OBJECTIVES.join(' | ')} (default cosent)
  --pooling P          ${POOLINGS.join(' | ')} (default cls)
  --epochs N           (default 1)
  --batch-size N       pairs per batch (default 32)
  --lr X               peak learning rate of AdamW (default 2e-5)
  --warmup R           fraction of steps of linear warmup (default 0.1), then linear decay
  --max-len N          tokens per sentence incl. [CLS]/[SEP] (default 64)
  --scale X            CoSENT's λ (default 20)
  --seed N             data order and the softmax classifier's initialisation (default 1)
eval:
  --model DIR          a model written by 'cosent train' (or a plain encoder, with --pooling)
  --data FILE          pairs to evaluate
  --pooling P, --max-len N   override the model's settings
  --json               print a JSON summary on stdout
`;

async function train(v: Record<string, unknown>): Promise<number> {
  const trainFile = requireString(v.train, 'train');
  const devFile = requireString(v.dev, 'dev');
  const encoderDir = requireString(v.encoder, 'encoder');
  const out = requireString(v.out, 'out');
  const objective = (stringOption(v.objective) ?? 'cosent') as ObjectiveName;
  if (!OBJECTIVES.includes(objective))
    throw new InputError(`--objective must be one of ${OBJECTIVES.join(', ')}, got '${objective}'`);
  const opts = {
    objective,
    epochs: numberOption(v.epochs, 'epochs', 1, { integer: true, min: 1 }),
    batchSize: numberOption(v['batch-size'], 'batch-size', 32, { integer: true, min: 2 }),
    lr: numberOption(v.lr, 'lr', 2e-5, { above: 0 }),
    warmupRatio: numberOption(v.warmup, 'warmup', 0.1, { min: 0, max: 1 }),
    scale: numberOption(v.scale, 'scale', 20, { above: 0 }),
    seed: numberOption(v.seed, 'seed', 1, { integer: true }),
  };
  const trainPairs = readSentencePairs(trainFile);
  const devPairs = readSentencePairs(devFile);
  if (trainPairs.length < 2) throw new InputError('needs at least 2 pairs', trainFile);
  if (objective === 'softmax') {
    const bad = trainPairs.findIndex((p) => p.label < 0);
    if (bad >= 0)
      throw new InputError(
        `the softmax objective needs labels ≥ 0 (pair ${bad + 1} has ${trainPairs[bad].label})`,
        trainFile,
      );
  }
  const backend = await initBackend();
  const model = loadSentenceModel(encoderDir, sentenceOverride(v));
  // Both sides of every pair go through the encoder in one batch.
  const run = { seq: model.config.maxLen, batch: 2 * Math.min(opts.batchSize, trainPairs.length) };
  checkEncoderStep(model.encoder.config, run, 'a training step', ['batch-size', 'max-len']);
  const steps = opts.epochs * stepsPerEpochOf(trainPairs.length, opts.batchSize);
  const progress = new Progress({ label: `cosent train (${objective}, ${backend})`, total: steps });
  let recent = 0;
  const res = await trainSentenceEncoder(model, trainPairs, devPairs, {
    ...opts,
    ...saveTrainingTo(out),
    onStep: (s) => {
      recent = recent === 0 ? s.loss : 0.9 * recent + 0.1 * s.loss;
      progress.tick(1, `loss ${recent.toFixed(4)}`);
    },
    onEpoch: (r) =>
      process.stderr.write(
        `epoch ${r.epoch}: mean loss ${r.meanLoss.toFixed(4)}, dev Spearman ${r.devSpearman?.toFixed(2)} (${r.seconds.toFixed(1)} s)\n`,
      ),
  });
  model.dispose();
  process.stdout.write(
    `best epoch ${res.bestEpoch}: dev Spearman ${res.bestSpearman?.toFixed(2)}; model saved to ${path.resolve(out)}\n`,
  );
  return 0;
}

async function evaluate(v: Record<string, unknown>): Promise<number> {
  const modelDir = requireString(v.model, 'model');
  const dataFile = requireString(v.data, 'data');
  const pairs = readSentencePairs(dataFile);
  await initBackend();
  const model = loadSentenceModel(modelDir, sentenceOverride(v));
  const rho = evaluatePairs(model, pairs);
  const summary = {
    data: dataFile,
    pairs: pairs.length,
    spearman: rho,
    pooling: model.config.pooling,
    maxLen: model.config.maxLen,
  };
  model.dispose();
  process.stdout.write(
    v.json
      ? JSON.stringify(summary) + '\n'
      : `${dataFile}: Spearman ${rho.toFixed(2)} over ${pairs.length} pairs\n`,
  );
  return 0;
}

export const cosentCommand: Command = {
  name: 'cosent',
  summary: 'train (CoSENT / Sentence-BERT / cosine-MSE) and evaluate sentence embeddings',
  usage,
  interruptible: true,
  subcommands: {
    train: [
      'train',
      'dev',
      'encoder',
      'out',
      'objective',
      'pooling',
      'epochs',
      'batch-size',
      'lr',
      'warmup',
      'max-len',
      'scale',
      'seed',
      'json',
    ],
    eval: ['model', 'data', 'pooling', 'max-len', 'json'],
  },
  options: {
    train: { type: 'string' },
    dev: { type: 'string' },
    encoder: { type: 'string' },
    out: { type: 'string' },
    objective: { type: 'string' },
    pooling: { type: 'string' },
    epochs: { type: 'string' },
    'batch-size': { type: 'string' },
    lr: { type: 'string' },
    warmup: { type: 'string' },
    'max-len': { type: 'string' },
    scale: { type: 'string' },
    seed: { type: 'string' },
    model: { type: 'string' },
    data: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(v, [sub]) {
    return sub === 'train' ? train(v) : evaluate(v);
  },
};
