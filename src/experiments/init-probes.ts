/**
 * Measurements for the initialization experiment (kexue.fm/archives/8747), on an `Encoder` and an
 * MLM batch: gradients reaching each block through the residual stream, per-block weight gradients,
 * each residual branch's ‖F(x)‖/‖x‖, LayerNorm gains, and a small MLM training loop with or without
 * warmup. Everything runs with dropout off so that the numbers are functions of the weights alone.
 */
import * as tf from '@tensorflow/tfjs-core';
import { sparseSoftmaxCrossEntropy } from '../nn/fused-cross-entropy.js';
import type { Encoder, EncoderBlock, MlmBatch } from '../encoder/index.js';
import { mlmLoss, MlmMasker, makeMlmBatch, disposeBatch } from '../encoder/index.js';
import { diagnoseGradients } from '../nn/diagnose.js';
import { namedGradients } from '../nn/module.js';
import { AdamW } from '../nn/optim.js';
import { warmupSchedule } from '../nn/schedule.js';
import type { Tokenizer } from '../tokenizers/index.js';
import { Rng } from '../util/rng.js';
import { meanStd } from '../util/stats.js';

const norm = (t: tf.Tensor): number => tf.tidy(() => Math.sqrt(tf.sum(tf.square(t)).dataSync()[0]));

/** Mean MLM cross-entropy of the final hidden states `last` [B, N, H] at the batch's masked positions. */
export function lossFromHidden(model: Encoder, last: tf.Tensor, batch: MlmBatch): tf.Scalar {
  const [b, n, h] = last.shape;
  const picked = tf.gather(tf.reshape(last, [b * n, h]), batch.positions);
  return tf.mean(sparseSoftmaxCrossEntropy(model.mlmLogits(picked), batch.targets)) as tf.Scalar;
}

/**
 * ∂loss/∂x_l for the input x_l of each block l (the residual stream), by adding a zero "probe"
 * tensor to each block's input and differentiating with respect to the probes. The caller disposes.
 */
export function streamGradients(model: Encoder, batch: MlmBatch): tf.Tensor[] {
  model.train(false);
  return tf.tidy(() => {
    const x0 = model.embeddings.apply(batch.ids);
    const probes = model.blocks.map(() => tf.zerosLike(x0));
    const f = (...ps: tf.Tensor[]): tf.Scalar => {
      let x: tf.Tensor3D = x0;
      model.blocks.forEach((block, i) => {
        x = block.apply(tf.add(x, ps[i]) as tf.Tensor3D, batch.mask);
      });
      return lossFromHidden(model, model.finalNorm ? model.finalNorm.apply(x) : x, batch);
    };
    return tf.grads(f)(probes);
  });
}

/** ‖∂loss/∂x_l‖ per block. */
export function streamGradientNorms(model: Encoder, batch: MlmBatch): number[] {
  const grads = streamGradients(model, batch);
  const norms = grads.map(norm);
  tf.dispose(grads);
  return norms;
}

/** Norm of the gradient of each block's weights (groups 'layers.l' of `diagnoseGradients`). */
export function blockWeightGradNorms(model: Encoder, batch: MlmBatch): number[] {
  model.train(false);
  const report = diagnoseGradients(model, batch, (m, b) => mlmLoss(m, b, false).loss);
  return model.blocks.map((_, l) => report.groups.find((g) => g.group === `layers.${l}`)?.gradNorm ?? NaN);
}

export interface BranchRatios {
  /** ‖Attn(·)‖/‖x‖ and ‖FFN(·)‖/‖a‖ per block, over the non-padding positions. */
  attention: number[];
  ffn: number[];
}

/** One block's forward pass, returning its two residual branches' outputs beside their residual inputs. */
export function blockForward(block: EncoderBlock, x: tf.Tensor3D, mask: tf.Tensor2D, post: boolean) {
  const attnIn = post ? x : (block.attentionNorm.apply(x) as tf.Tensor3D);
  const fa = block.attention.apply(attnIn, mask);
  const a = post ? block.attentionNorm.apply(tf.add(x, fa)) : tf.add(x, fa);
  const ff = block.ffn.apply(post ? a : block.ffnNorm.apply(a));
  const out = (post ? block.ffnNorm.apply(tf.add(a, ff)) : tf.add(a, ff)) as tf.Tensor3D;
  return { fa, a, ff, out };
}

/** The ratio ‖F(x)‖/‖x‖ of every residual branch (the note: small init keeps each block near identity). */
export function branchRatios(model: Encoder, batch: MlmBatch): BranchRatios {
  model.train(false);
  const r: BranchRatios = { attention: [], ffn: [] };
  // The ratios are plain numbers; tidy only frees the intermediate tensors.
  tf.tidy(() => {
    const m = tf.expandDims(batch.mask, -1);
    const masked = (t: tf.Tensor) => norm(tf.mul(t, m));
    const post = model.config.norm === 'post';
    let x = model.embeddings.apply(batch.ids);
    for (const block of model.blocks) {
      const { fa, a, ff, out } = blockForward(block, x, batch.mask, post);
      r.attention.push(masked(fa) / masked(x));
      r.ffn.push(masked(ff) / masked(a));
      x = out;
    }
  });
  return r;
}

/** RMS of a LayerNorm gain vector, ‖γ‖/√d (1 at initialization). */
export const gainRms = (gamma: tf.Variable): number => norm(gamma) / Math.sqrt(gamma.size);

/** The encoder's last LayerNorm: the final one (Pre-LN) or the last block's output norm (Post-LN). */
export function lastEncoderNorm(model: Encoder): tf.Variable {
  return (model.finalNorm ?? model.blocks[model.blocks.length - 1].ffnNorm).gamma;
}

/** Standard deviation of the MLM logits at the batch's masked positions (the scale the tied output sees). */
export function logitStd(model: Encoder, batch: MlmBatch): number {
  model.train(false);
  return tf.tidy(() => {
    const out = model.apply({ ids: batch.ids, mask: batch.mask });
    const [b, n, h] = out.last.shape;
    const logits = model.mlmLogits(tf.gather(tf.reshape(out.last, [b * n, h]), batch.positions));
    return Math.sqrt(tf.moments(logits).variance.dataSync()[0]);
  });
}

export function makeMasker(tok: Tokenizer): MlmMasker {
  return new MlmMasker({
    vocabSize: tok.vocab.size,
    maskId: tok.vocab.special.mask,
    specialIds: tok.vocab.specialIdSet(),
  });
}

/** A batch of `size` sequences drawn with `rng` from `seqs`, masked by `masker`. */
export function sampleBatch(
  seqs: number[][],
  size: number,
  masker: MlmMasker,
  padId: number,
  rng: Rng,
): MlmBatch {
  const picked = Array.from({ length: size }, () => seqs[rng.int(seqs.length)]);
  return makeMlmBatch(picked, masker, padId, rng);
}

export interface TrainOptions {
  steps: number;
  batchSize: number;
  lr: number;
  warmupSteps: number;
  /** Record the mean training loss and the gains every `every` steps. */
  every: number;
  seed: number;
  /** Called after each step (a progress line's tick). */
  onStep?: () => void;
}

export interface TrainTrace {
  /** Steps at which records were taken, the mean training loss over the preceding window, gains. */
  steps: number[];
  loss: number[];
  encoderGain: number[];
  headGain: number[];
  /** Held-out MLM loss and accuracy after training. */
  evalLoss: number;
  evalAccuracy: number;
  /**
   * Learned positions only (NaN with RoPE): held-out accuracy with the first `seq` rows of the position
   * table permuted. A model that reads positions loses accuracy; one on the position-blind plateau does not.
   */
  evalAccuracyShuffled: number;
  diverged: boolean;
}

/**
 * Trains `model` with AdamW (weight decay 0.01, no gradient clipping, so that an unstable run shows)
 * under linear warmup then a constant rate; a non-finite loss stops the run and marks it diverged.
 */
export function trainMlm(
  model: Encoder,
  data: { train: number[][]; eval: number[][] },
  masker: MlmMasker,
  o: TrainOptions,
): TrainTrace {
  const padId = model.config.padId;
  const opt = new AdamW(model.namedParameters(), { weightDecay: 0.01 });
  const schedule = warmupSchedule({
    peak: o.lr,
    warmupSteps: o.warmupSteps,
    totalSteps: o.steps,
    decay: 'constant',
  });
  const rng = new Rng(o.seed * 7919 + 13);
  const t: TrainTrace = {
    steps: [0],
    loss: [NaN],
    encoderGain: [],
    headGain: [],
    evalLoss: NaN,
    evalAccuracy: NaN,
    evalAccuracyShuffled: NaN,
    diverged: false,
  };
  const gains = () => {
    t.encoderGain.push(gainRms(lastEncoderNorm(model)));
    // A head without BERT's transform has no LayerNorm of its own.
    const head = model.mlm?.norm;
    t.headGain.push(head ? gainRms(head.gamma) : NaN);
  };
  gains();
  let sum = 0;
  let count = 0;
  for (let step = 0; step < o.steps && !t.diverged; step++) {
    const batch = sampleBatch(data.train, o.batchSize, masker, padId, rng);
    const { value, grads } = namedGradients(model, () => mlmLoss(model, batch, false).loss);
    const loss = value.dataSync()[0];
    if (Number.isFinite(loss)) opt.step(grads, schedule(step));
    else t.diverged = true;
    tf.dispose([value, ...grads.values()]);
    disposeBatch(batch);
    sum += loss;
    count++;
    o.onStep?.();
    if ((step + 1) % o.every === 0 || t.diverged) {
      t.steps.push(step + 1);
      t.loss.push(sum / count);
      gains();
      sum = count = 0;
    }
  }
  t.loss[0] = t.loss[1] ?? NaN;
  Object.assign(t, evaluate(model, data.eval, masker, o.batchSize));
  if (model.embeddings.position && !t.diverged) {
    const rows = Math.max(...data.eval.map((s) => s.length));
    t.evalAccuracyShuffled = withShuffledPositions(model, rows, o.seed, () =>
      evaluate(model, data.eval, masker, o.batchSize),
    ).evalAccuracy;
  }
  return t;
}

/**
 * Runs `f` with the first `rows` rows of a learned position table permuted (seeded), then restores
 * the table: the position-shuffle check of whether a model reads its positions.
 */
export function withShuffledPositions<T>(model: Encoder, rows: number, seed: number, f: () => T): T {
  const table = model.embeddings.position?.table;
  if (!table) throw new Error('withShuffledPositions needs an encoder with learned positions');
  const saved = tf.clone(table);
  const perm = new Rng(seed * 31 + 7).shuffle(Array.from({ length: rows }, (_, i) => i));
  tf.tidy(() => {
    const head = tf.gather(tf.slice(saved, [0, 0], [rows, -1]), tf.tensor1d(perm, 'int32'));
    table.assign(rows < saved.shape[0] ? tf.concat([head, tf.slice(saved, [rows, 0], [-1, -1])]) : head);
  });
  try {
    return f();
  } finally {
    table.assign(saved);
    saved.dispose();
  }
}

function evaluate(model: Encoder, seqs: number[][], masker: MlmMasker, batchSize: number) {
  const rng = new Rng(99);
  let loss = 0;
  let acc = 0;
  let n = 0;
  for (let i = 0; i < seqs.length; i += batchSize) {
    const batch = makeMlmBatch(seqs.slice(i, i + batchSize), masker, model.config.padId, rng);
    const r = mlmLoss(model, batch, false);
    const m = batch.targets.size;
    loss += r.loss.dataSync()[0] * m;
    acc += r.accuracy.dataSync()[0] * m;
    n += m;
    tf.dispose([r.loss, r.accuracy]);
    disposeBatch(batch);
  }
  return { evalLoss: n ? loss / n : NaN, evalAccuracy: n ? acc / n : NaN };
}

/** Least-squares slope of y against x. */
export function slope(x: readonly number[], y: readonly number[]): number {
  const n = x.length;
  const mx = x.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
  }
  return sxx > 0 ? sxy / sxx : NaN;
}

/** Mean and sample standard deviation. */

export { meanStd };
