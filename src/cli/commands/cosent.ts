/** `kexue cosent train|eval`: fine-tune a sentence encoder on sentence pairs (CoSENT or a baseline) and evaluate it. */
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../backend/index.js';
import { OBJECTIVES, evaluatePairs, trainSentenceEncoder, type ObjectiveName } from '../../cosent/index.js';
import { stepsPerEpochOf } from '../../cosent/trainer.js';
import {
  loadSentenceCheckpoint,
  loadSentenceModel,
  saveTrainingTo,
  sentenceCard,
  sentenceCheckpointTo,
} from '../../io/sentence-files.js';
import type { SentenceTrainingState } from '../../cosent/trainer.js';
import { findCheckpoint } from '../../io/encoder-files.js';
import { checkOutputFolder, writeFileAtomic } from '../../io/atomic.js';
import { renderModelCard } from '../../util/model-card.js';
import { fileSha256, readJsonFile } from '../../io/text.js';
import { POOLINGS } from '../../encoder/index.js';
import { InputError } from '../../io/errors.js';
import { readSentencePairs } from '../../io/sts.js';
import { Progress } from '../progress.js';
import { numberOption, requireString, stringOption, type Command } from '../command.js';
import { sentenceOverride } from './encode.js';
import { checkEncoderStep } from '../memory.js';

const usage = `
Usage: kexue cosent train --train FILE --dev FILE --encoder DIR --out DIR [options]
       kexue cosent train ... --resume     (the same command again, to continue an interrupted run)
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
  --seed N             data order, dropout and the softmax classifier's initialisation (default 1)
  --checkpoint-every N steps between checkpoints in DIR/checkpoint (default 200; also after every
                       epoch); the checkpoint is removed when training finishes
  --resume             continue the run in --out from its checkpoint; the files and settings must be
                       the same (checked), and the result is the one an uninterrupted run gives
eval:
  --model DIR          a model written by 'cosent train' (or a plain encoder, with --pooling)
  --data FILE          pairs to evaluate
  --pooling P, --max-len N   override the model's settings
  --json               print a JSON summary on stdout
`;

/** The checkpoint to continue (or undefined for a new run), refusing a run that does not match it. */
function checkResume(
  v: Record<string, unknown>,
  ckptDir: string,
  settings: Record<string, unknown>,
): string | undefined {
  const found = findCheckpoint(ckptDir);
  if (!v.resume) {
    if (found)
      throw new InputError(
        'holds an unfinished run (checkpoint/); add --resume to continue it or choose another --out',
        path.dirname(ckptDir),
      );
    return undefined;
  }
  if (!found) throw new InputError('no checkpoint to resume from', ckptDir);
  const stateFile = path.join(found, 'state.json');
  const saved =
    readJsonFile<{ extra?: { settings?: Record<string, unknown> } }>(stateFile).extra?.settings ?? {};
  for (const [key, val] of Object.entries(settings)) {
    if (JSON.stringify(saved[key]) !== JSON.stringify(val))
      throw new InputError(
        `the run was started with ${key} = ${JSON.stringify(saved[key])}, this command gives ${JSON.stringify(val)}; resume with the same files and flags`,
        stateFile,
      );
  }
  return found;
}

/** Pairs to evaluate Spearman on need at least two different labels (else it is undefined). */
function checkRankable(pairs: readonly { label: number }[], file: string): void {
  if (pairs.every((p) => p.label === pairs[0].label))
    throw new InputError(
      `every pair has the label ${pairs[0].label}: Spearman's correlation is undefined; evaluation needs at least two different labels`,
      file,
    );
}

/** `--out` must not overwrite the encoder or a folder of the user's that holds something else. */
function checkOut(out: string, encoderDir: string): void {
  const o = path.resolve(out);
  const e = path.resolve(encoderDir);
  if (o === e || o.startsWith(e + path.sep))
    throw new InputError(
      'is the --encoder folder or inside it, which would be overwritten; choose another --out',
      out,
    );
  if (fs.existsSync(o) && fs.statSync(o).isDirectory()) {
    const entries = fs.readdirSync(o);
    // Ours: a finished run's log, or a checkpoint (also one a killed run left half-written).
    const ours = entries.some((f) => f === 'train-log.json' || f.startsWith('checkpoint'));
    if (entries.length && !ours)
      throw new InputError(
        'is a non-empty folder that is not a cosent train output; choose another --out',
        out,
      );
  }
}

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
  const checkpointEvery = numberOption(v['checkpoint-every'], 'checkpoint-every', 200, {
    integer: true,
    min: 1,
  });
  const trainPairs = readSentencePairs(trainFile);
  const devPairs = readSentencePairs(devFile);
  checkRankable(devPairs, devFile);
  if (trainPairs.length < 2) throw new InputError('needs at least 2 pairs', trainFile);
  if (objective === 'softmax') {
    const bad = trainPairs.findIndex((p) => p.label < 0);
    if (bad >= 0)
      throw new InputError(
        `the softmax objective needs labels ≥ 0 (pair ${bad + 1} has ${trainPairs[bad].label})`,
        trainFile,
      );
  }
  const ckptDir = path.join(out, 'checkpoint');
  const override = sentenceOverride(v);
  const settings = {
    ...opts,
    ...override,
    encoder: path.resolve(encoderDir),
    // Digests: a resumed run refuses data that changed since the checkpoint.
    train: fileSha256(trainFile),
    dev: fileSha256(devFile),
  };
  checkOut(out, encoderDir);
  const found = checkResume(v, ckptDir, settings);
  const backend = await initBackend();
  let model = loadSentenceModel(encoderDir, override);
  let resumeFrom: SentenceTrainingState | undefined;
  if (found) {
    const config = model.config;
    model.dispose();
    ({ model, resumeFrom } = await loadSentenceCheckpoint(ckptDir, config));
  }
  // Both sides of every pair go through the encoder in one batch.
  const run = { seq: model.config.maxLen, batch: 2 * Math.min(opts.batchSize, trainPairs.length) };
  checkEncoderStep(model.encoder.config, run, 'a training step', ['batch-size', 'max-len']);
  const created = !fs.existsSync(out);
  checkOutputFolder(out, '--out');
  const steps = opts.epochs * stepsPerEpochOf(trainPairs.length, opts.batchSize);
  const progress = new Progress({ label: `cosent train (${objective}, ${backend})`, total: steps });
  progress.tick(resumeFrom?.step ?? 0);
  let recent = 0;
  try {
    const res = await trainSentenceEncoder(model, trainPairs, devPairs, {
      ...opts,
      ...saveTrainingTo(out),
      ...sentenceCheckpointTo(ckptDir, { settings }),
      checkpointEvery,
      resumeFrom,
      onStep: (s) => {
        recent = recent === 0 ? s.loss : 0.9 * recent + 0.1 * s.loss;
        progress.tick(1, `loss ${recent.toFixed(4)}`);
      },
      onEpoch: (r) =>
        process.stderr.write(
          `epoch ${r.epoch}: mean loss ${r.meanLoss.toFixed(4)}, dev Spearman ${r.devSpearman?.toFixed(2)} (${r.seconds.toFixed(1)} s)\n`,
        ),
    });
    // Finished: the best model is in --out, and the checkpoint has nothing left to resume.
    for (const d of [ckptDir, `${ckptDir}.old`]) fs.rmSync(d, { recursive: true, force: true });
    writeFileAtomic(
      path.join(out, 'README.md'),
      renderModelCard(
        sentenceCard(
          out,
          model,
          {},
          {
            title: `Sentence encoder (${objective})`,
            baseModel: encoderDir,
            data: {
              training: `${path.basename(trainFile)} (${trainPairs.length} pairs)`,
              dev: `${path.basename(devFile)} (${devPairs.length} pairs)`,
            },
            settings: { ...opts, pooling: model.config.pooling, maxLen: model.config.maxLen },
            metrics: {
              [`dev Spearman ×100 (best epoch ${res.bestEpoch} of ${opts.epochs})`]: res.bestSpearman,
            },
            usage: [
              {
                lang: 'sh',
                lines: [`kexue encode --model ${out} --in sentences.txt --out vectors.npy --normalize`],
              },
              {
                lang: 'ts',
                lines: [
                  "import { loadSentenceModel } from 'kexue/node';",
                  `const model = loadSentenceModel('${out}');`,
                  "const vectors = await model.encodeAsync(['第一句', '第二句'], { normalize: true });",
                ],
              },
            ],
          },
        ),
      ),
    );
    process.stdout.write(
      `${resumeFrom ? `resumed at step ${resumeFrom.step}; ` : ''}best epoch ${res.bestEpoch}: dev Spearman ${res.bestSpearman?.toFixed(2)}; model saved to ${path.resolve(out)}\n`,
    );
  } catch (e) {
    // A new run that failed before saving anything (no checkpoint, no best epoch) leaves no folder.
    if (created && !findCheckpoint(ckptDir) && !fs.existsSync(path.join(out, 'config.json')))
      fs.rmSync(out, { recursive: true, force: true });
    throw e;
  } finally {
    model.dispose();
    if (resumeFrom)
      tf.dispose(
        [...resumeFrom.optimizer, ...resumeFrom.objective, ...resumeFrom.bestWeights].map((w) => w.tensor),
      );
  }
  return 0;
}

async function evaluate(v: Record<string, unknown>): Promise<number> {
  const modelDir = requireString(v.model, 'model');
  const dataFile = requireString(v.data, 'data');
  const pairs = readSentencePairs(dataFile);
  checkRankable(pairs, dataFile);
  await initBackend();
  const model = loadSentenceModel(modelDir, sentenceOverride(v));
  const rho = evaluatePairs(model, pairs);
  if (Number.isNaN(rho)) {
    model.dispose();
    throw new InputError("gives every pair the same cosine: Spearman's correlation is undefined", modelDir);
  }
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
      'checkpoint-every',
      'resume',
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
    'checkpoint-every': { type: 'string' },
    resume: { type: 'boolean' },
    model: { type: 'string' },
    data: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(v, [sub]) {
    return sub === 'train' ? train(v) : evaluate(v);
  },
};
