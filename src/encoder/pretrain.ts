/**
 * Masked-LM pretraining loop: packs a corpus into sequences, trains with AdamW under a warmup
 * schedule, evaluates MLM loss/accuracy on held-out text, and keeps a resumable checkpoint.
 *
 * Determinism: the data order (per-epoch permutation), each step's masking and each step's dropout
 * seeds are all functions of (seed, step), and the checkpoint stores weights, optimizer state, step and
 * history, so an interrupted run resumed from its checkpoint continues exactly as if uninterrupted.
 * Held-out text: documents whose FNV-1a hash falls in the first `heldOut` fraction, so the split does
 * not depend on corpus order.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { writeJsonAtomic } from '../io/atomic.js';
import { DivergenceError } from '../io/errors.js';
import { Rng, stepSeed } from '../util/rng.js';
import { yieldToEventLoop } from '../util/yield.js';
import { namedGradients } from '../nn/module.js';
import { AdamW, readLossAndNorm } from '../nn/optim.js';
import { warmupSchedule, type DecayKind } from '../nn/schedule.js';
import type { Tokenizer } from '../tokenizers/types.js';
import { Encoder } from './model.js';
import type { EncoderConfig } from './config.js';
import { MlmMasker, disposeBatch, makeMlmBatch, mlmLoss, packSequences } from './mlm.js';
import { findCheckpoint, loadCheckpoint, saveCheckpoint, saveEncoder } from '../io/encoder-files.js';

export interface PretrainOptions {
  /** Documents (e.g. lines); each is tokenized without [CLS]/[SEP] and packed. */
  texts: readonly string[];
  tokenizer: Tokenizer;
  /** Encoder shape; vocabSize comes from the tokenizer. */
  model: Partial<Omit<EncoderConfig, 'vocabSize'>>;
  seqLen: number;
  batchSize: number;
  steps: number;
  lr?: number;
  warmupSteps?: number;
  decay?: DecayKind;
  weightDecay?: number;
  clipNorm?: number;
  seed?: number;
  heldOut?: number;
  evalEvery?: number;
  evalBatches?: number;
  checkpointEvery?: number;
  /** Writes checkpoint/, model/ (final) and history.json here. */
  outDir: string;
  /** End this session after this step (with a checkpoint), e.g. to split a run; resume by calling again. */
  stopAt?: number;
  onStep?: (s: { step: number; loss: number; lr: number }) => void;
  onEval?: (r: EvalRecord) => void;
}

export interface EvalRecord {
  step: number;
  /** Training seconds so far (summed over resumed sessions). */
  seconds: number;
  trainLoss: number;
  evalLoss: number;
  evalAccuracy: number;
}

export interface PretrainResult {
  model: Encoder;
  history: EvalRecord[];
  trainSequences: number;
  heldOutSequences: number;
  resumedFrom?: number;
  /** False when the session ended at `stopAt` before `steps`. */
  finished: boolean;
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** Tokenizes and splits documents, then packs each side into sequences. */
export function prepareCorpus(
  texts: readonly string[],
  tok: Tokenizer,
  seqLen: number,
  heldOut: number,
): { train: number[][]; eval: number[][] } {
  const train: number[][] = [];
  const held: number[][] = [];
  for (const t of texts) {
    if (!t.trim()) continue;
    const ids = tok.encode(t, { special: false });
    (fnv1a(t) / 2 ** 32 < heldOut ? held : train).push(ids);
  }
  const s = tok.vocab.special;
  return {
    train: packSequences(train, seqLen, s.cls, s.sep, s.sep),
    eval: packSequences(held, seqLen, s.cls, s.sep, s.sep),
  };
}

class BatchOrder {
  private epoch = -1;
  private perm: number[] = [];
  constructor(
    private readonly n: number,
    private readonly batch: number,
    private readonly seed: number,
  ) {
    if (n < batch)
      throw new Error(`the corpus gives ${n} training sequences, fewer than one batch (${batch})`);
  }
  /** Sequence indices of step `step`'s batch (the last partial batch of an epoch is skipped). */
  at(step: number): number[] {
    const perEpoch = Math.floor(this.n / this.batch);
    const epoch = Math.floor(step / perEpoch);
    if (epoch !== this.epoch) {
      this.epoch = epoch;
      this.perm = new Rng(stepSeed(this.seed, epoch, 17)).shuffle([...Array(this.n).keys()]);
    }
    const k = step % perEpoch;
    return this.perm.slice(k * this.batch, (k + 1) * this.batch);
  }
}

async function evaluate(
  model: Encoder,
  seqs: number[][],
  masker: MlmMasker,
  batchSize: number,
  padId: number,
  seed: number,
) {
  const rng = new Rng(stepSeed(seed, 0, 99));
  let loss = 0;
  let acc = 0;
  let count = 0;
  for (let i = 0; i < seqs.length; i += batchSize) {
    const batch = makeMlmBatch(seqs.slice(i, i + batchSize), masker, padId, rng);
    const m = batch.targets.size;
    const r = mlmLoss(model, batch, false);
    const both = tf.stack([r.loss, r.accuracy]);
    const [l, a] = await both.data();
    loss += l * m;
    acc += a * m;
    count += m;
    tf.dispose([r.loss, r.accuracy, both]);
    disposeBatch(batch);
  }
  return { evalLoss: count ? loss / count : NaN, evalAccuracy: count ? acc / count : NaN };
}

export async function pretrain(o: PretrainOptions): Promise<PretrainResult> {
  const seed = o.seed ?? 1;
  const tok = o.tokenizer;
  const { train, eval: held } = prepareCorpus(o.texts, tok, o.seqLen, o.heldOut ?? 0.02);
  const evalSeqs = held.slice(0, (o.evalBatches ?? 8) * o.batchSize);
  const order = new BatchOrder(train.length, o.batchSize, seed);
  const masker = new MlmMasker({
    vocabSize: tok.vocab.size,
    maskId: tok.vocab.special.mask,
    specialIds: tok.vocab.specialIdSet(),
  });
  const makeOpt = (m: Encoder) =>
    new AdamW(m.namedParameters(), { weightDecay: o.weightDecay ?? 0.01, clipNorm: o.clipNorm ?? 1 });
  const schedule = warmupSchedule({
    peak: o.lr ?? 5e-4,
    warmupSteps: o.warmupSteps ?? Math.round(0.06 * o.steps),
    totalSteps: o.steps,
    decay: o.decay ?? 'linear',
  });
  const ckptDir = path.join(o.outDir, 'checkpoint');
  let model: Encoder;
  let opt: AdamW;
  let start = 0;
  let history: EvalRecord[] = [];
  let seconds = 0;
  let resumedFrom: number | undefined;
  if (findCheckpoint(ckptDir)) {
    const ck = await loadCheckpoint(ckptDir, makeOpt);
    model = ck.model;
    opt = ck.optimizer!;
    start = resumedFrom = ck.state.step;
    history = (ck.state.extra?.history as EvalRecord[]) ?? [];
    seconds = (ck.state.extra?.seconds as number) ?? 0;
  } else {
    model = new Encoder({ ...o.model, vocabSize: tok.vocab.size, padId: tok.vocab.special.pad, seed });
    opt = makeOpt(model);
  }
  fs.mkdirSync(o.outDir, { recursive: true });
  const evalEvery = o.evalEvery ?? 100;
  const ckptEvery = o.checkpointEvery ?? 500;
  let lossSum = 0;
  let lossCount = 0;
  let t0 = performance.now();
  const save = async (step: number) => {
    seconds += (performance.now() - t0) / 1000;
    t0 = performance.now();
    await saveCheckpoint(ckptDir, {
      model,
      tokenizer: tok,
      optimizer: opt,
      state: { step, extra: { history, seconds, seed } },
    });
  };
  const end = Math.min(o.steps, o.stopAt ?? Infinity);
  for (let step = start; step < end; step++) {
    await yieldToEventLoop();
    const batch = makeMlmBatch(
      order.at(step).map((i) => train[i]),
      masker,
      tok.vocab.special.pad,
      new Rng(stepSeed(seed, step, 1)),
    );
    model.dropoutRng.reseed(stepSeed(seed, step, 2));
    const { value, grads } = namedGradients(model, () => mlmLoss(model, batch, true).loss);
    const lr = schedule(step);
    const [loss, norm] = await readLossAndNorm(value, grads.values());
    if (!Number.isFinite(loss)) {
      tf.dispose([value, ...grads.values()]);
      throw new DivergenceError('the loss', step + 1);
    }
    try {
      opt.step(grads, lr, undefined, norm);
    } finally {
      tf.dispose([value, ...grads.values()]);
    }
    disposeBatch(batch);
    lossSum += loss;
    lossCount++;
    o.onStep?.({ step: step + 1, loss, lr });
    const done = step + 1;
    if (done % evalEvery === 0 || done === o.steps) {
      const rec: EvalRecord = {
        step: done,
        seconds: seconds + (performance.now() - t0) / 1000,
        trainLoss: lossSum / lossCount,
        ...(await evaluate(model, evalSeqs, masker, o.batchSize, tok.vocab.special.pad, seed)),
      };
      history.push(rec);
      lossSum = lossCount = 0;
      writeJsonAtomic(path.join(o.outDir, 'history.json'), history);
      o.onEval?.(rec);
    }
    if (done % ckptEvery === 0 || done === end) await save(done);
  }
  const finished = end === o.steps;
  if (finished) await saveEncoder(path.join(o.outDir, 'model'), model, tok);
  return {
    model,
    history,
    trainSequences: train.length,
    heldOutSequences: evalSeqs.length,
    resumedFrom,
    finished,
  };
}
