/**
 * Fine-tuning a sentence encoder on labelled sentence pairs, with any `PairObjective` (CoSENT or a
 * baseline) under the same loop: shuffled batches of pairs (both sides encoded in one forward pass),
 * AdamW with linear warmup and decay, dropout on during training, Spearman(cos, label) on a dev set
 * after every epoch, and the best epoch's weights kept (and handed to `onBest`, e.g. to save them).
 * Each epoch's order and each step's dropout come from their own seeds, so a run resumed from a
 * checkpoint (`onCheckpoint` → `resumeFrom`) continues exactly as if it had not stopped.
 */
import * as tf from '@tensorflow/tfjs-core';
import { DivergenceError } from '../io/errors.js';
import { yieldToEventLoop } from '../util/yield.js';
import { AdamW, readLossAndNorm, type NamedTensor } from '../nn/optim.js';
import { warmupSchedule } from '../nn/schedule.js';
import { Rng, stepSeed } from '../util/rng.js';
import type { SentencePair } from '../io/sts.js';
import { spearman } from './spearman.js';
import { makeObjective, type ObjectiveName, type PairObjective } from './objectives.js';
import { SentenceEncoder } from './sentence-model.js';

/**
 * Settings of `trainSentenceEncoder`. Defaults: objective 'cosent', 1 epoch, batch size 32, lr 2e-5,
 * warmup ratio 0.1, weight decay 0.01, scale 20, seed 1, evalBatchSize 64.
 */
export interface TrainOptions<M extends SentenceModel = SentenceEncoder> {
  objective?: ObjectiveName;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  /** Fraction of all steps spent warming up linearly (then linear decay to 0). */
  warmupRatio?: number;
  weightDecay?: number;
  /** CoSENT's λ. */
  scale?: number;
  seed?: number;
  evalBatchSize?: number;
  /**
   * Called (and awaited) when an epoch becomes the best by dev Spearman (every epoch without a dev set),
   * with the model holding that epoch's weights and the training metadata to store beside it; e.g.
   * `saveTrainingTo(dir)` of kexue/node saves the model there.
   */
  onBest?: (model: M, training: Record<string, unknown>) => Promise<void> | void;
  /** Called (and awaited) after every epoch with the training log so far (settings, history, best epoch). */
  onLog?: (log: Record<string, unknown>) => Promise<void> | void;
  onStep?: (s: { step: number; steps: number; loss: number; lr: number }) => void;
  onEpoch?: (r: EpochRecord) => void;
  /**
   * Scores the model after every epoch (in inference mode; higher is better), as sentence-transformers'
   * evaluators do. When given, it chooses the best epoch instead of the dev Spearman; its score is
   * recorded as `EpochRecord.evaluation`.
   */
  evaluator?: (model: M) => number | Promise<number>;
  /**
   * Called (and awaited) every `checkpointEvery` steps and after every epoch with the model (its
   * weights) and the rest of the run's state, to be saved; the state's tensors are freed afterwards.
   */
  onCheckpoint?: (model: M, state: SentenceTrainingState) => Promise<void> | void;
  /** Steps between `onCheckpoint` calls within an epoch (default: only at the end of each epoch). */
  checkpointEvery?: number;
  /**
   * Continue the run that saved this state; the model must already hold the weights saved with it,
   * and the data and settings must be the same. The run then ends exactly as the uninterrupted run.
   */
  resumeFrom?: SentenceTrainingState;
}

/** What a training run needs besides the encoder's weights to continue exactly where it stopped. */
export interface SentenceTrainingState {
  /** Optimizer steps done. */
  step: number;
  /** The finished epochs. */
  history: EpochRecord[];
  bestEpoch?: number;
  /** Sum and count of the unfinished epoch's batch losses. */
  epochLoss: [number, number];
  /** AdamW's state (`getWeights`): the step count and both moments. */
  optimizer: NamedTensor[];
  /** The objective's own parameters (the softmax objective's classifier; none for CoSENT). */
  objective: NamedTensor[];
  /** The best epoch's encoder weights when they are not the model's current ones (else empty). */
  bestWeights: NamedTensor[];
}

/** One epoch of `trainSentenceEncoder`: mean training loss, dev Spearman ×100, wall time in seconds. */
export interface EpochRecord {
  epoch: number;
  meanLoss: number;
  /** Spearman ×100 on the dev set, when there is one. */
  devSpearman?: number;
  /** The `evaluator`'s score, when there is one. */
  evaluation?: number;
  seconds: number;
}

/** What `trainSentenceEncoder` returns: the history and the best epoch (whose weights the model keeps). */
export interface TrainResult {
  history: EpochRecord[];
  bestEpoch: number;
  bestSpearman?: number;
  /** The evaluator's score of the best epoch, when there is an evaluator. */
  bestEvaluation?: number;
}

/**
 * Any differentiable sentence model `trainSentenceEncoder` can train besides kexue's `SentenceEncoder`:
 * e.g. a user's `tf.LayersModel` over token ids behind a tokenizer and a pooling.
 *
 * @example
 * // `model`: a tf.LayersModel from [n, 32] int32 token ids to [n, d] sentence vectors.
 * const toIds = (t: string) => Array.from({ length: 32 }, (_, i) => t.charCodeAt(i) % 1000 || 0);
 * const ids = (batch: readonly string[]) => tf.tensor2d(batch.map(toIds), [batch.length, 32], 'int32');
 * const embedder: SentenceEmbedder = {
 *   embed: (batch) => model.apply(ids(batch)) as tf.Tensor2D,
 *   variables: model.trainableWeights.map((w) => w.read() as tf.Variable),
 * };
 * await trainSentenceEncoder(embedder, pairs.slice(500), pairs.slice(0, 500), { epochs: 2, lr: 1e-3 });
 */
export interface SentenceEmbedder {
  /** Sentence vectors [n, d] of `texts`, differentiable with respect to `variables`. */
  embed(texts: readonly string[]): tf.Tensor2D;
  /**
   * The weights to train: a list (named by `Variable.name`) or a map by name. The names key the best
   * epoch's weights and the checkpoint state, so they must be stable across runs to resume.
   */
  variables: readonly tf.Variable[] | ReadonlyMap<string, tf.Variable>;
  /** Switches dropout and other training-only behaviour on (for steps) and off (for evaluation). */
  setTraining?(on: boolean): void;
}

/** What `trainSentenceEncoder` trains: kexue's `SentenceEncoder` or any `SentenceEmbedder`. */
export type SentenceModel = SentenceEncoder | SentenceEmbedder;

/** The trainer's view of either kind of model. */
interface Trainee {
  embed(texts: readonly string[]): tf.Tensor2D;
  /** The variables the optimizer updates, by name. */
  params: Map<string, tf.Variable>;
  /** The weights the best epoch's copy holds, by name. */
  weights: Map<string, tf.Variable>;
  setTraining(on: boolean): void;
  /** Reseeds dropout for a step, so a resumed run draws what the uninterrupted one did. */
  reseed(seed: number): void;
  /** Inference-mode vectors of `texts`, row-major, read back asynchronously. */
  vectors(texts: readonly string[], batchSize: number): Promise<{ flat: Float32Array; dim: number }>;
}

function traineeOf(model: SentenceModel): Trainee {
  if (model instanceof SentenceEncoder) {
    return {
      embed: (texts) => model.embed(texts),
      params: sentenceParameters(model),
      weights: new Map(model.encoder.namedParameters()),
      setTraining: (on) => model.encoder.train(on),
      reseed: (seed) => model.encoder.dropoutRng.reseed(seed),
      vectors: async (texts, batchSize) => ({
        flat: await model.encodeFlatAsync(texts, { batchSize }),
        dim: model.dim,
      }),
    };
  }
  if (typeof model?.embed !== 'function')
    throw new Error('model must be a SentenceEncoder or have embed(texts) and variables');
  const weights = namedVariables(model.variables);
  return {
    embed: (texts) => model.embed(texts),
    params: new Map([...weights].filter(([, v]) => v.trainable)),
    weights,
    setTraining: (on) => model.setTraining?.(on),
    reseed: () => {},
    vectors: async (texts, batchSize) => {
      const parts: Float32Array[] = [];
      let dim = 0;
      for (let i = 0; i < texts.length; i += batchSize) {
        const v = tf.tidy(() => model.embed(texts.slice(i, i + batchSize)));
        dim = v.shape[1];
        parts.push((await v.data()) as Float32Array);
        v.dispose();
      }
      const flat = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of parts) {
        flat.set(p, at);
        at += p.length;
      }
      return { flat, dim };
    },
  };
}

function namedVariables(vars: SentenceEmbedder['variables']): Map<string, tf.Variable> {
  if (vars instanceof Map) return new Map(vars);
  if (!Array.isArray(vars) || !vars.every((v) => v instanceof tf.Variable))
    throw new Error('model.variables must be a list or map of tf.Variable');
  const out = new Map<string, tf.Variable>();
  for (const v of vars) {
    if (out.has(v.name)) throw new Error(`model.variables: two variables are named '${v.name}'`);
    out.set(v.name, v);
  }
  return out;
}

/** Cosine of each pair (rows 2i and 2i + 1 of `flat`): 0 with a zero vector, NaN with a non-finite one. */
function cosinesOfRows(flat: Float32Array, d: number, pairs: number): Float32Array {
  const out = new Float32Array(pairs);
  for (let i = 0; i < pairs; i++) {
    let uv = 0;
    let uu = 0;
    let vv = 0;
    for (let k = 0; k < d; k++) {
      const a = flat[2 * i * d + k];
      const b = flat[(2 * i + 1) * d + k];
      uv += a * b;
      uu += a * a;
      vv += b * b;
    }
    // A zero vector has cosine 0 with anything; a non-finite one (a diverged model) has none: NaN.
    out[i] = !Number.isFinite(uu + vv) ? NaN : uu > 0 && vv > 0 ? uv / Math.sqrt(uu * vv) : 0;
  }
  return out;
}

/** Cosine similarity of each pair's two sentence vectors, in inference mode (NaN for non-finite vectors). */
export function pairCosines(
  model: SentenceEncoder,
  pairs: readonly SentencePair[],
  batchSize = 64,
): Float32Array {
  const texts = pairs.flatMap((p) => [p.s1, p.s2]);
  return cosinesOfRows(model.encodeFlat(texts, { batchSize }), model.dim, pairs.length);
}

/**
 * Spearman ×100 between the model's cosines and the gold labels (the STS convention), in inference mode.
 *
 * @example
 * const st = new SentenceEncoder(encoder, tokenizer, { pooling: 'cls', maxLen: 64 });
 * evaluatePairs(st, pairs); // → e.g. 78.4
 */
export function evaluatePairs(
  model: SentenceEncoder,
  pairs: readonly SentencePair[],
  batchSize = 64,
): number {
  return spearmanOf(pairCosines(model, pairs, batchSize), pairs);
}

const spearmanOf = (cos: Float32Array, pairs: readonly SentencePair[]) =>
  100 *
  spearman(
    cos,
    pairs.map((p) => p.label),
  );

/** Encoder parameters the pooled sentence vector depends on: all but the MLM head's own. */
function sentenceParameters(model: SentenceEncoder): Map<string, tf.Variable> {
  const out = new Map<string, tf.Variable>();
  for (const [n, v] of model.encoder.namedParameters())
    if (!n.startsWith('mlm.') && v.trainable) out.set(`encoder.${n}`, v);
  return out;
}

function batchLoss(model: Trainee, objective: PairObjective, batch: SentencePair[]): tf.Scalar {
  const b = batch.length;
  const vecs = model.embed([...batch.map((p) => p.s1), ...batch.map((p) => p.s2)]);
  const u = tf.slice(vecs, [0, 0], [b, -1]);
  const v = tf.slice(vecs, [b, 0], [b, -1]);
  return objective.loss(
    u,
    v,
    Float64Array.from(batch, (p) => p.label),
  );
}

/** One optimisation step; returns the batch loss. */
async function step(
  model: Trainee,
  objective: PairObjective,
  opt: AdamW,
  params: Map<string, tf.Variable>,
  batch: SentencePair[],
  lr: number,
): Promise<number> {
  const names = [...params.keys()];
  const { value, grads } = tf.variableGrads(() => batchLoss(model, objective, batch), [...params.values()]);
  const named = new Map<string, tf.Tensor>();
  names.forEach((n) => {
    const g = grads[params.get(n)!.name];
    if (g) named.set(n, g);
  });
  try {
    const [loss, norm] = await readLossAndNorm(value, named.values());
    if (!Number.isFinite(loss)) throw new DivergenceError('the loss', opt.iterations + 1);
    opt.step(named, lr, undefined, norm);
    return loss;
  } finally {
    tf.dispose([value, ...Object.values(grads)]);
  }
}

/** Puts a saved run's optimizer state and objective parameters back, checking they belong to this run. */
async function restore(
  state: SentenceTrainingState,
  opt: AdamW,
  objective: PairObjective,
  step: number,
): Promise<void> {
  const params = objective.parameters();
  for (const { name, tensor } of state.objective) {
    const v = params.get(name);
    if (!v || !tf.util.arraysEqual(tensor.shape, v.shape))
      throw new Error(`resumeFrom: objective parameter '${name}' does not match this run's objective`);
    v.assign(tensor);
  }
  if (state.objective.length !== params.size)
    throw new Error(
      `resumeFrom: holds ${state.objective.length} objective parameters, this run has ${params.size}`,
    );
  await opt.setWeights(state.optimizer);
  if (opt.iterations !== step)
    throw new Error(`resumeFrom: the optimizer has taken ${opt.iterations} steps, the state says ${step}`);
}

/**
 * The evaluator's score, else dev Spearman, for comparing epochs; an undefined one (e.g. constant
 * cosines) ranks lowest.
 */
const score = (r: EpochRecord) => {
  const v = r.evaluation ?? r.devSpearman;
  return v !== undefined && Number.isFinite(v) ? v : -Infinity;
};

/** A copy of the model's weights (the previous copy is freed). */
function replaceSnapshot(old: Map<string, tf.Tensor> | undefined, model: Trainee): Map<string, tf.Tensor> {
  if (old) tf.dispose([...old.values()]);
  return new Map([...model.weights].map(([n, v]) => [n, tf.clone(v)]));
}

/**
 * Optimizer steps per epoch over `pairs` training pairs: a trailing batch of one pair has no pair
 * ordering to learn from, so it is not a step (nor counted in the schedule, which ends at the last step).
 */
export function stepsPerEpochOf(pairs: number, batchSize: number): number {
  return Math.floor(pairs / batchSize) + (pairs % batchSize >= 2 ? 1 : 0);
}

/**
 * Trains `model` in place: kexue's `SentenceEncoder`, or any `SentenceEmbedder` (texts → [n, d] tensor
 * with its variables, e.g. a user's `tf.LayersModel` behind a tokenizer). Afterwards it holds the
 * weights of the best epoch by the `evaluator`'s score, else by dev Spearman (the last epoch when there
 * is neither); `onBest` and `onLog` see each new best epoch and the log.
 *
 * @example
 * const st = new SentenceEncoder(encoder, tokenizer, { pooling: 'cls', maxLen: 64 });
 * const [devPairs, trainPairs] = [pairs.slice(0, 500), pairs.slice(500)];
 * const r = await trainSentenceEncoder(st, trainPairs, devPairs, { objective: 'cosent', epochs: 2 });
 * r.bestSpearman; // dev Spearman ×100 of epoch r.bestEpoch, e.g. 78.4
 */
export async function trainSentenceEncoder<M extends SentenceModel>(
  model: M,
  train: readonly SentencePair[],
  dev: readonly SentencePair[] | undefined,
  opts: TrainOptions<M> = {},
): Promise<TrainResult> {
  const epochs = opts.epochs ?? 1;
  const batchSize = opts.batchSize ?? 32;
  if (!(Number.isInteger(epochs) && epochs >= 1))
    throw new Error(`epochs must be a positive integer (got ${epochs})`);
  if (!(Number.isInteger(batchSize) && batchSize >= 2))
    throw new Error(`batchSize must be an integer ≥ 2 (got ${batchSize})`);
  if (train.length < 2) throw new Error('need at least 2 training pairs');
  const trainee = traineeOf(model);
  const objectiveName = opts.objective ?? 'cosent';
  const objective = makeObjective(
    objectiveName,
    model instanceof SentenceEncoder ? model.dim : (await trainee.vectors([train[0].s1], 1)).dim,
    train.map((p) => p.label),
    { scale: opts.scale, seed: opts.seed },
  );
  const params = new Map([
    ...trainee.params,
    ...[...objective.parameters()].map(([n, v]) => [`objective.${n}`, v] as const),
  ]);
  const opt = new AdamW(params, { weightDecay: opts.weightDecay ?? 0.01 });
  const stepsPerEpoch = stepsPerEpochOf(train.length, batchSize);
  const total = epochs * stepsPerEpoch;
  const lr = warmupSchedule({
    peak: opts.lr ?? 2e-5,
    warmupSteps: Math.round((opts.warmupRatio ?? 0.1) * total),
    totalSteps: total,
  });
  const seed = opts.seed ?? 1;
  /** Whether epochs are compared (by the evaluator, else dev Spearman) or the last one is kept. */
  const judged = dev !== undefined || opts.evaluator !== undefined;
  const resumed = opts.resumeFrom;
  const history: EpochRecord[] = resumed ? [...resumed.history] : [];
  let best = resumed?.bestEpoch ? history[resumed.bestEpoch - 1] : undefined;
  let stepNo = resumed?.step ?? 0;
  let [sum, steps] = resumed?.epochLoss ?? [0, 0];
  let snapshot: Map<string, tf.Tensor> | undefined;
  const meta = {
    objective: objective.describe(),
    trainPairs: train.length,
    batchSize,
    epochs,
    lr: opts.lr ?? 2e-5,
    seed,
  };
  const checkpoint = async () => {
    if (!opts.onCheckpoint) return;
    // Right after the best epoch the model holds its weights: no need to save them twice.
    const bestIsCurrent = best !== undefined && stepNo === best.epoch * stepsPerEpoch;
    const state: SentenceTrainingState = {
      step: stepNo,
      history,
      bestEpoch: best?.epoch,
      epochLoss: [sum, steps],
      optimizer: await opt.getWeights(),
      objective: [...objective.parameters()].map(([name, tensor]) => ({ name, tensor })),
      bestWeights:
        snapshot && !bestIsCurrent ? [...snapshot].map(([name, tensor]) => ({ name, tensor })) : [],
    };
    try {
      await opts.onCheckpoint(model, state);
    } finally {
      // Only the step count is a new tensor; the moments and parameters stay the optimizer's.
      state.optimizer.find((w) => w.name === 'iterations')?.tensor.dispose();
    }
  };
  try {
    if (resumed) {
      await restore(resumed, opt, objective, stepNo);
      for (const { name, tensor } of resumed.bestWeights) {
        const v = trainee.weights.get(name);
        if (!v || !tf.util.arraysEqual(v.shape, tensor.shape))
          throw new Error(`resumeFrom: best-epoch weight '${name}' does not match the model's variables`);
      }
      if (resumed.bestWeights.length)
        snapshot = new Map(resumed.bestWeights.map((w) => [w.name, tf.clone(w.tensor)]));
      else if (judged && best && best.epoch < epochs && stepNo === best.epoch * stepsPerEpoch)
        snapshot = replaceSnapshot(undefined, trainee);
    }
    for (let epoch = Math.floor(stepNo / stepsPerEpoch) + 1; epoch <= epochs; epoch++) {
      const t0 = performance.now();
      const order = new Rng(stepSeed(seed, epoch, 17)).shuffle(Array.from(train.keys()));
      trainee.setTraining(true);
      for (let s = stepNo - (epoch - 1) * stepsPerEpoch; s < stepsPerEpoch; s++) {
        await yieldToEventLoop();
        const batch = order.slice(s * batchSize, (s + 1) * batchSize).map((i) => train[i]);
        const rate = lr(stepNo);
        trainee.reseed(stepSeed(seed, stepNo, 2));
        const loss = await step(trainee, objective, opt, params, batch, rate);
        sum += loss;
        steps++;
        stepNo++;
        opts.onStep?.({ step: stepNo, steps: total, loss, lr: rate });
        if (opts.checkpointEvery && stepNo % opts.checkpointEvery === 0 && s + 1 < stepsPerEpoch) {
          trainee.setTraining(false);
          await checkpoint();
          trainee.setTraining(true);
        }
      }
      trainee.setTraining(false);
      const record: EpochRecord = { epoch, meanLoss: sum / steps, seconds: 0 };
      [sum, steps] = [0, 0];
      if (dev) {
        const { flat, dim } = await trainee.vectors(
          dev.flatMap((p) => [p.s1, p.s2]),
          opts.evalBatchSize ?? 64,
        );
        const cos = cosinesOfRows(flat, dim, dev.length);
        if (cos.some(Number.isNaN)) throw new DivergenceError('a dev sentence vector', stepNo);
        record.devSpearman = spearmanOf(cos, dev);
      }
      if (opts.evaluator) {
        const value = await opts.evaluator(model);
        if (typeof value !== 'number')
          throw new Error(`evaluator must return a number (higher is better), got ${typeof value}`);
        record.evaluation = value;
      }
      record.seconds = (performance.now() - t0) / 1000;
      history.push(record);
      opts.onEpoch?.(record);
      if (!judged || !best || score(record) > score(best)) {
        best = record;
        if (judged && epoch < epochs) snapshot = replaceSnapshot(snapshot, trainee);
        await opts.onBest?.(model, {
          ...meta,
          bestEpoch: epoch,
          devSpearman: record.devSpearman,
          evaluation: record.evaluation,
        });
      }
      await opts.onLog?.({ ...meta, history, bestEpoch: best?.epoch });
      await checkpoint();
    }
    // Leave the model holding the best epoch's weights, as saved.
    if (snapshot && best && best.epoch !== epochs)
      for (const [n, t] of snapshot) trainee.weights.get(n)!.assign(t);
  } finally {
    opt.dispose();
    objective.dispose();
    if (snapshot) tf.dispose([...snapshot.values()]);
  }
  return {
    history,
    bestEpoch: best!.epoch,
    bestSpearman: best!.devSpearman,
    bestEvaluation: best!.evaluation,
  };
}
