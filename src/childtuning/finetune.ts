/**
 * Fine-tuning a `TextClassifier` the BERT way: AdamW (global-norm clip 1, decoupled weight decay),
 * linear warmup then linear decay, dropout on while training, dev accuracy after every epoch and the
 * best epoch's weights kept — optionally with ChildTuning (F, D, or update dropout). Browser-safe:
 * the caller persists the best model (see `onBest`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { DivergenceError } from '../io/errors.js';
import { yieldToEventLoop } from '../util/yield.js';
import { AdamW, readLossAndNorm } from '../nn/optim.js';
import { warmupSchedule } from '../nn/schedule.js';
import { Rng } from '../util/rng.js';
import { top1Accuracy, type TextClassifier } from './classifier.js';
import type { LabelledText } from './data.js';
import { fisherInformation } from './fisher.js';
import { encoderBlocks, fisherMaskAsync, keptFractionAsync, type NameFilter } from './masks.js';
import { childTuning, type ChildTuningAdamW, type ChildTuningMode } from './optimizer.js';

/** ChildTuning for `finetuneClassifier` (`FinetuneOptions.childTuning`); D masks are computed for you. */
export interface ChildTuningSetting {
  mode: ChildTuningMode;
  /** Keep probability (default 0.3). */
  p?: number;
  /** Divide by p (defaults as in `childTuning`). */
  rescale?: boolean;
  /** D: which parameters may be masked (default: the encoder blocks). */
  candidates?: NameFilter;
}

/** Settings of `finetuneClassifier`; the defaults are BERT's (3 epochs, batch 32, lr 5e-5, warmup 10%). */
export interface FinetuneOptions {
  epochs?: number;
  batchSize?: number;
  /** Peak learning rate (default 5e-5). */
  lr?: number;
  /** Fraction of all steps spent warming up linearly (default 0.1), then linear decay to 0. */
  warmupRatio?: number;
  weightDecay?: number;
  /** Global gradient-norm clip (default 1, as BERT); 0 turns it off. */
  clipNorm?: number;
  /** Data order, dropout and ChildTuning masks (the head's init is the classifier's own seed). */
  seed?: number;
  childTuning?: ChildTuningSetting;
  evalBatchSize?: number;
  /** Record the mean |Δθ| per step (for the note's √p analysis); costs a copy of the weights per step. */
  trackUpdates?: boolean;
  onStep?: (s: { step: number; steps: number; loss: number; lr: number }) => void;
  onFisher?: (done: number, total: number) => void;
  onEpoch?: (r: FinetuneEpoch) => void;
  /** Called when an epoch improves dev accuracy, while the model holds that epoch's weights. */
  onBest?: (r: FinetuneEpoch) => void | Promise<void>;
}

/** One epoch of `finetuneClassifier`: mean training loss, dev accuracy in percent, wall time in seconds. */
export interface FinetuneEpoch {
  epoch: number;
  meanLoss: number;
  devAccuracy: number;
  seconds: number;
}

/** What `finetuneClassifier` returns: the history and the best epoch (whose weights the model keeps). */
export interface FinetuneResult {
  history: FinetuneEpoch[];
  bestEpoch: number;
  bestDevAccuracy: number;
  steps: number;
  /** Mean over steps of mean_i |Δθ_i| over all fine-tuned parameters (with `trackUpdates`). */
  meanUpdate?: number;
  /** D: the fraction of all fine-tuned parameters the mask keeps trainable (candidates masked to p). */
  keptFraction?: number;
}

function batches<T>(items: readonly T[], order: number[], size: number): T[][] {
  const out: T[][] = [];
  for (let s = 0; s < order.length; s += size) out.push(order.slice(s, s + size).map((i) => items[i]));
  return out;
}

/** Mean |a − b| over all elements of the paired tensors (one asynchronous read-back). */
async function meanAbsChange(
  after: Map<string, tf.Variable>,
  before: Map<string, tf.Tensor>,
): Promise<number> {
  let n = 0;
  for (const v of after.values()) n += v.size;
  const sum = tf.tidy(() =>
    tf.addN([...after].map(([name, v]) => tf.sum(tf.abs(tf.sub(v, before.get(name)!))))),
  );
  try {
    return (await sum.data())[0] / n;
  } finally {
    sum.dispose();
  }
}

function snapshot(params: Map<string, tf.Variable>): Map<string, tf.Tensor> {
  return new Map([...params].map(([n, v]) => [n, tf.clone(v)]));
}

async function childTunedOptimizer(
  model: TextClassifier,
  params: Map<string, tf.Variable>,
  train: readonly LabelledText[],
  opts: FinetuneOptions,
  adamw: AdamW,
): Promise<{ opt: ChildTuningAdamW; kept?: number }> {
  const ct = opts.childTuning!;
  const seed = opts.seed ?? 1;
  if (ct.mode !== 'D')
    return { opt: childTuning(adamw, { mode: ct.mode, p: ct.p, rescale: ct.rescale, seed }) };
  // The reference computes the Fisher information over one shuffled pass of the training set, in
  // training mode (dropout on), with its training batch size.
  const bs = opts.batchSize ?? 32;
  const order = new Rng(seed ^ 0x6a09e667).shuffle(Array.from(train.keys()));
  const list = batches(train, order, bs);
  model.train(true);
  const fisher = await fisherInformation(
    (b: LabelledText[]) =>
      model.loss(
        b.map((e) => e.text),
        b.map((e) => e.label),
      ),
    params,
    list,
    { onBatch: (d) => opts.onFisher?.(d, list.length) },
  );
  let masks: Map<string, tf.Tensor>;
  try {
    masks = await fisherMaskAsync(fisher, ct.p ?? 0.3, { candidates: ct.candidates ?? encoderBlocks });
  } finally {
    tf.dispose([...fisher.values()]);
  }
  const total = [...params.values()].reduce((s, v) => s + v.size, 0);
  const candidates = [...masks.values()].reduce((s, m) => s + m.size, 0);
  const kept = (total - candidates + (await keptFractionAsync(masks)) * candidates) / total;
  return { opt: childTuning(adamw, { mode: 'D', p: ct.p, rescale: ct.rescale, masks }), kept };
}

/**
 * Fine-tunes `model` in place on `train`, choosing the epoch by accuracy on `dev`; afterwards the
 * model holds the best epoch's weights. A non-finite loss stops training with an Error.
 *
 * @example
 * const clf = new TextClassifier(encoder, tokenizer, { classes: 2 });
 * const r = await finetuneClassifier(clf, train, dev, {
 *   epochs: 3,
 *   lr: 2e-5,
 *   childTuning: { mode: 'D', p: 0.3 },
 * });
 * r.bestDevAccuracy; // percent, e.g. 88.1 at r.bestEpoch
 */
export async function finetuneClassifier(
  model: TextClassifier,
  train: readonly LabelledText[],
  dev: readonly LabelledText[],
  opts: FinetuneOptions = {},
): Promise<FinetuneResult> {
  const epochs = opts.epochs ?? 3;
  const batchSize = opts.batchSize ?? 32;
  const seed = opts.seed ?? 1;
  if (!(Number.isInteger(epochs) && epochs >= 1))
    throw new Error(`epochs must be a positive integer (got ${epochs})`);
  if (!(Number.isInteger(batchSize) && batchSize >= 1))
    throw new Error(`batchSize must be a positive integer (got ${batchSize})`);
  if (train.length === 0) throw new Error('no training examples');
  if (dev.length === 0) throw new Error('no dev examples');
  for (const e of [...train, ...dev])
    if (!(Number.isInteger(e.label) && e.label >= 0 && e.label < model.classes))
      throw new Error(`label ${e.label} is outside 0…${model.classes - 1}`);
  const params = model.fineTunedParameters();
  const adamw = new AdamW(params, { weightDecay: opts.weightDecay ?? 0.01, clipNorm: opts.clipNorm ?? 1 });
  model.reseedDropout(seed ^ 0x510e527f);
  let opt: AdamW | ChildTuningAdamW = adamw;
  let kept: number | undefined;
  if (opts.childTuning) ({ opt, kept } = await childTunedOptimizer(model, params, train, opts, adamw));
  const stepsPerEpoch = Math.ceil(train.length / batchSize);
  const total = epochs * stepsPerEpoch;
  const lr = warmupSchedule({
    peak: opts.lr ?? 5e-5,
    warmupSteps: Math.round((opts.warmupRatio ?? 0.1) * total),
    totalSteps: total,
  });
  const rng = new Rng(seed);
  const history: FinetuneEpoch[] = [];
  let best: FinetuneEpoch | undefined;
  let bestWeights: Map<string, tf.Tensor> | undefined;
  let stepNo = 0;
  let updateSum = 0;
  const devTexts = dev.map((e) => e.text);
  const devLabels = dev.map((e) => e.label);
  try {
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const t0 = performance.now();
      let lossSum = 0;
      model.train(true);
      for (const batch of batches(train, rng.shuffle(Array.from(train.keys())), batchSize)) {
        await yieldToEventLoop();
        const rate = lr(stepNo);
        const before = opts.trackUpdates ? snapshot(params) : undefined;
        const { value, grads } = tf.variableGrads(
          () =>
            model.loss(
              batch.map((e) => e.text),
              batch.map((e) => e.label),
            ),
          [...params.values()],
        );
        const named = new Map<string, tf.Tensor>();
        for (const [n, v] of params) if (grads[v.name]) named.set(n, grads[v.name]);
        const [loss, norm] = await readLossAndNorm(value, named.values());
        if (!Number.isFinite(loss)) {
          tf.dispose([value, ...Object.values(grads)]);
          throw new DivergenceError('the loss', stepNo + 1);
        }
        try {
          if (opt instanceof AdamW) opt.step(named, rate, undefined, norm);
          else opt.step(named, rate, norm);
        } finally {
          tf.dispose([value, ...Object.values(grads)]);
        }
        if (before) {
          updateSum += await meanAbsChange(params, before);
          tf.dispose([...before.values()]);
        }
        lossSum += loss;
        stepNo++;
        opts.onStep?.({ step: stepNo, steps: total, loss, lr: rate });
      }
      model.train(false);
      const probs = model.predictProba(devTexts, opts.evalBatchSize);
      const record: FinetuneEpoch = {
        epoch,
        meanLoss: lossSum / stepsPerEpoch,
        devAccuracy: top1Accuracy(probs, devLabels, model.classes),
        seconds: (performance.now() - t0) / 1000,
      };
      history.push(record);
      opts.onEpoch?.(record);
      if (!best || record.devAccuracy > best.devAccuracy) {
        best = record;
        if (epoch < epochs) {
          if (bestWeights) tf.dispose([...bestWeights.values()]);
          bestWeights = snapshot(params);
        }
        await opts.onBest?.(record);
      }
    }
    if (bestWeights && best!.epoch !== epochs) for (const [n, v] of params) v.assign(bestWeights.get(n)!);
  } finally {
    opt.dispose();
    if (bestWeights) tf.dispose([...bestWeights.values()]);
  }
  return {
    history,
    bestEpoch: best!.epoch,
    bestDevAccuracy: best!.devAccuracy,
    steps: stepNo,
    ...(opts.trackUpdates && { meanUpdate: updateSum / stepNo }),
    ...(kept !== undefined && { keptFraction: kept }),
  };
}
