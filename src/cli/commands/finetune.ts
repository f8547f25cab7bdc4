/**
 * `kexue finetune`: a text classifier from a kexue encoder (pooling + dense softmax head) fine-tuned
 * with AdamW under warmup + linear decay, optionally with ChildTuning (F, D or update dropout); the
 * best epoch by dev accuracy is saved, and `--save-probs` writes dev/test probabilities as .npy.
 */
import fs from 'node:fs';
import path from 'node:path';
import { initBackend } from '../../backend/index.js';
import { POOLINGS, type Pooling } from '../../encoder/index.js';
import { loadEncoder } from '../../io/encoder-files.js';
import { InputError } from '../../io/errors.js';
import { writeFileAtomic, writeFolderAtomic, writeJsonAtomic } from '../../io/atomic.js';
import { describeEncoder, renderModelCard } from '../../util/model-card.js';
import { writeNpy } from '../../io/npy.js';
import {
  labelSpace,
  readLabelNames,
  readRawExamples,
  resolveLabels,
  saveClassifier,
} from '../../io/textcls.js';
import {
  CHILD_TUNING_MODES,
  TextClassifier,
  fewShot,
  finetuneClassifier,
  top1Accuracy,
  type ChildTuningMode,
} from '../../childtuning/index.js';
import { Progress } from '../progress.js';
import { numberOption, requireString, stringOption, type Command } from '../command.js';
import { checkEncoderStep } from '../memory.js';

const usage = `
Usage: kexue finetune --encoder DIR --train FILE --dev FILE [--test FILE] --out DIR [options]

Fine-tunes a text classifier ([CLS] or mean pooling → dropout → softmax head) from a kexue encoder
directory (with its tokenizer, e.g. 'kexue pretrain' OUT/model). Files are CLUE-style JSONL
({"text": ..., "label": ...} a line; .jsonl) or TSV ('text<TAB>label' a line; any other extension);
labels are class indices 0…K−1 or class names. The epoch with the best dev accuracy is kept.

  --encoder DIR        pretrained kexue encoder directory
  --train FILE         training examples
  --dev FILE           dev examples (choose the epoch)
  --test FILE          test examples (evaluated once, with the best epoch)
  --labels FILE        labels.json (JSON array of class names; default: labels.json beside --train
                       if present, else the training file's labels)
  --out DIR            writes the classifier (encoder files, head-*.npy, classifier.json), train-log.json
                       and, with --save-probs, dev-probs.npy / test-probs.npy [N, K] and their labels
  --child-tuning M     ${CHILD_TUNING_MODES.join(' | ')} (ChildTuning-F, -D or update dropout; default off)
  --p X                keep probability of ChildTuning, in (0, 1] (default 0.3)
  --few-shot N         train (and choose the epoch) on N examples per class, drawn with --seed
  --epochs N           (default 3)
  --batch-size N       (default 32)
  --lr X               peak learning rate of AdamW (default 5e-5)
  --warmup R           fraction of steps of linear warmup (default 0.1), then linear decay
  --weight-decay X     decoupled weight decay on matrices (default 0.01)
  --max-len N          tokens per text incl. [CLS]/[SEP] (default 64)
  --pooling P          ${POOLINGS.join(' | ')} (default cls)
  --seed N             few-shot draw, head init, data order, dropout and masks (default 1)
  --save-probs         also write dev/test probabilities as .npy (for 'kexue can')
  --json               print a JSON summary on stdout
`;

function oneOf<T extends string>(v: unknown, name: string, allowed: readonly T[]): T | undefined {
  const s = stringOption(v);
  if (s === undefined) return undefined;
  if (!allowed.includes(s as T))
    throw new InputError(`--${name} must be one of ${allowed.join(', ')}, got '${s}'`);
  return s as T;
}

/** The output folder must be new or empty (or a previous finetune's), checked before any work. */
function checkOut(out: string): void {
  if (fs.existsSync(out)) {
    if (!fs.statSync(out).isDirectory()) throw new InputError('--out exists and is not a directory', out);
    const entries = fs.readdirSync(out);
    if (entries.length > 0 && !entries.includes('classifier.json'))
      throw new InputError('--out is a non-empty directory that is not a previous finetune output', out);
  }
  const parent = path.dirname(path.resolve(out));
  if (!fs.existsSync(parent)) throw new InputError('the parent folder of --out does not exist', parent);
  try {
    fs.accessSync(parent, fs.constants.W_OK);
  } catch {
    throw new InputError('the parent folder of --out is not writable', parent);
  }
}

function readDataset(v: Record<string, unknown>) {
  const trainFile = requireString(v.train, 'train');
  const devFile = requireString(v.dev, 'dev');
  const testFile = stringOption(v.test);
  const labelsFile =
    stringOption(v.labels) ??
    (fs.existsSync(path.join(path.dirname(trainFile), 'labels.json'))
      ? path.join(path.dirname(trainFile), 'labels.json')
      : undefined);
  const rawTrain = readRawExamples(trainFile);
  const labels = labelSpace(rawTrain, labelsFile ? readLabelNames(labelsFile) : undefined);
  return {
    labels,
    train: resolveLabels(rawTrain, labels, trainFile),
    dev: resolveLabels(readRawExamples(devFile), labels, devFile),
    test: testFile ? resolveLabels(readRawExamples(testFile), labels, testFile) : undefined,
  };
}

/** The model card of a fine-tuned classifier. */
function classifierCard(
  meta: Record<string, unknown>,
  summary: Record<string, unknown>,
  labels: string[],
  out: string,
  architecture: string,
): string {
  const { encoder, childTuning, ...settings } = meta;
  const ct = childTuning as { mode: string; p: number } | undefined;
  const pct = (x: unknown) => (typeof x === 'number' ? x : undefined);
  return renderModelCard({
    title: `Text classifier, ${labels.length} classes${ct ? ` (ChildTuning-${ct.mode}, p = ${ct.p})` : ''}`,
    summary: `A softmax head on the encoder's pooled vector, fine-tuned end to end; classes: ${labels.slice(0, 20).join(', ')}${labels.length > 20 ? ', …' : ''}.`,
    baseModel: String(encoder),
    architecture,
    data: {
      training: `${String(summary.trainExamples)} examples`,
      dev: `${String(summary.devExamples)} examples`,
      ...(summary.testExamples !== undefined ? { test: `${String(summary.testExamples)} examples` } : {}),
    },
    settings: { ...settings, childTuning: ct ? `${ct.mode}, p = ${ct.p}` : 'none' },
    metrics: {
      [`dev accuracy % (best epoch ${String(summary.bestEpoch)})`]: pct(summary.devAccuracy),
      'test accuracy %': pct(summary.testAccuracy),
    },
    usage: [
      {
        lang: 'ts',
        lines: [
          "import { loadClassifier } from 'kexue/node';",
          `const { model, meta } = loadClassifier('${out}');`,
          "const probs = await model.predictProbaAsync(['一段新闻标题']); // Float32Array, n × meta.labels.length",
        ],
      },
    ],
  });
}

async function run(v: Record<string, unknown>): Promise<number> {
  const encoderDir = requireString(v.encoder, 'encoder');
  const out = requireString(v.out, 'out');
  const ct = stringOption(v['child-tuning']);
  const mode = oneOf<ChildTuningMode>(
    ct && /^[fd]$/.test(ct) ? ct.toUpperCase() : ct,
    'child-tuning',
    CHILD_TUNING_MODES,
  );
  const pooling = oneOf<Pooling>(v.pooling, 'pooling', POOLINGS) ?? 'cls';
  const p = numberOption(v.p, 'p', 0.3, { above: 0, max: 1 });
  if (v.p !== undefined && !mode) throw new InputError('--p needs --child-tuning F, D or update');
  const shots =
    v['few-shot'] === undefined
      ? undefined
      : numberOption(v['few-shot'], 'few-shot', 0, { integer: true, min: 1 });
  const o = {
    epochs: numberOption(v.epochs, 'epochs', 3, { integer: true, min: 1 }),
    batchSize: numberOption(v['batch-size'], 'batch-size', 32, { integer: true, min: 1 }),
    lr: numberOption(v.lr, 'lr', 5e-5, { above: 0 }),
    warmupRatio: numberOption(v.warmup, 'warmup', 0.1, { min: 0, max: 1 }),
    weightDecay: numberOption(v['weight-decay'], 'weight-decay', 0.01, { min: 0 }),
    seed: numberOption(v.seed, 'seed', 1, { integer: true, min: 0 }),
  };
  const maxLen = numberOption(v['max-len'], 'max-len', 64, { integer: true, min: 3 });
  if (!fs.existsSync(path.join(encoderDir, 'config.json')))
    throw new InputError('not an encoder directory (no config.json)', encoderDir);
  checkOut(out);
  const data = readDataset(v);
  const train = shots ? fewShot(data.train, shots, o.seed) : data.train;
  const dev = shots ? fewShot(data.dev, shots, o.seed + 1000) : data.dev;
  const backend = await initBackend();
  const { model: encoder, tokenizer } = loadEncoder(encoderDir);
  if (!tokenizer) {
    encoder.dispose();
    throw new InputError('the encoder directory has no tokenizer (vocab.txt)', encoderDir);
  }
  const model = new TextClassifier(encoder, tokenizer, {
    classes: data.labels.length,
    pooling,
    maxLen,
    seed: o.seed,
  });
  try {
    const batch = Math.min(o.batchSize, train.length);
    checkEncoderStep(encoder.config, { seq: maxLen, batch }, 'a fine-tuning step', ['batch-size', 'max-len']);
    // Written into <out>.partial and renamed at the end: a failed or interrupted run leaves no partial output.
    let message = '';
    await writeFolderAtomic(path.resolve(out), async (tmp) => {
      const total = o.epochs * Math.ceil(train.length / o.batchSize);
      const label = `finetune${mode ? ` ChildTuning-${mode} p=${p}` : ''} (${backend})`;
      const progress = new Progress({ label, total });
      let recent = 0;
      let fisher: Progress | undefined;
      const meta = {
        encoder: path.resolve(encoderDir),
        ...o,
        maxLen,
        pooling,
        fewShot: shots,
        childTuning: mode && { mode, p },
      };
      const res = await finetuneClassifier(model, train, dev, {
        ...o,
        childTuning: mode && { mode, p },
        onFisher: (_done, n) => {
          fisher ??= new Progress({ label: 'Fisher information', total: n });
          fisher.tick();
        },
        onStep: (s) => {
          recent = recent === 0 ? s.loss : 0.9 * recent + 0.1 * s.loss;
          progress.tick(1, `loss ${recent.toFixed(4)}`);
        },
        onEpoch: (r) =>
          process.stderr.write(
            `epoch ${r.epoch}: mean loss ${r.meanLoss.toFixed(4)}, dev accuracy ${r.devAccuracy.toFixed(2)}% (${r.seconds.toFixed(1)} s)\n`,
          ),
        onBest: (r) => saveClassifier(tmp, model, data.labels, { training: { ...meta, bestEpoch: r.epoch } }),
      });
      const summary: Record<string, unknown> = {
        bestEpoch: res.bestEpoch,
        devAccuracy: res.bestDevAccuracy,
        trainExamples: train.length,
        devExamples: dev.length,
      };
      let testProbs: Float32Array | undefined;
      if (data.test) {
        testProbs = model.predictProba(data.test.map((e) => e.text));
        summary.testAccuracy = top1Accuracy(
          testProbs,
          data.test.map((e) => e.label),
          data.labels.length,
        );
        summary.testExamples = data.test.length;
      }
      if (v['save-probs']) {
        const k = data.labels.length;
        const devProbs = model.predictProba(dev.map((e) => e.text));
        writeNpy(path.join(tmp, 'dev-probs.npy'), devProbs, [dev.length, k]);
        writeNpy(
          path.join(tmp, 'dev-labels.npy'),
          Int32Array.from(dev, (e) => e.label),
          [dev.length],
        );
        if (data.test && testProbs) {
          writeNpy(path.join(tmp, 'test-probs.npy'), testProbs, [data.test.length, k]);
          writeNpy(
            path.join(tmp, 'test-labels.npy'),
            Int32Array.from(data.test, (e) => e.label),
            [data.test.length],
          );
        }
      }
      writeJsonAtomic(path.join(tmp, 'train-log.json'), { ...meta, ...summary, history: res.history });
      writeFileAtomic(
        path.join(tmp, 'README.md'),
        classifierCard(meta, summary, data.labels, out, describeEncoder(encoder.config)),
      );
      message = v.json
        ? JSON.stringify(summary) + '\n'
        : `best epoch ${res.bestEpoch}: dev accuracy ${res.bestDevAccuracy.toFixed(2)}%` +
          (summary.testAccuracy !== undefined
            ? `, test accuracy ${(summary.testAccuracy as number).toFixed(2)}%`
            : '') +
          `; classifier saved to ${path.resolve(out)}\n`;
    });
    process.stdout.write(message);
  } finally {
    model.dispose();
  }
  return 0;
}

export const finetuneCommand: Command = {
  name: 'finetune',
  summary: 'fine-tune a text classifier from a kexue encoder (optionally with ChildTuning)',
  usage,
  interruptible: true,
  options: {
    encoder: { type: 'string' },
    train: { type: 'string' },
    dev: { type: 'string' },
    test: { type: 'string' },
    labels: { type: 'string' },
    out: { type: 'string' },
    'child-tuning': { type: 'string' },
    p: { type: 'string' },
    'few-shot': { type: 'string' },
    epochs: { type: 'string' },
    'batch-size': { type: 'string' },
    lr: { type: 'string' },
    warmup: { type: 'string' },
    'weight-decay': { type: 'string' },
    'max-len': { type: 'string' },
    pooling: { type: 'string' },
    seed: { type: 'string' },
    'save-probs': { type: 'boolean' },
    json: { type: 'boolean' },
  },
  run: (v) => run(v),
};
