/**
 * An embedding-bag text classifier in the style of fastText (Joulin et al., 2017): each n-gram id
 * has a learned vector, a text is the weighted mean (or sum/√n) of its n-grams' vectors, an optional
 * ReLU hidden layer follows, and a softmax gives the class probabilities. Trained with Adam on
 * minibatches, stopping early on dev accuracy and keeping the best epoch's weights.
 *
 * Why the embedding table is trained row-sparsely: a minibatch touches a few thousand of the ~10^5
 * n-gram rows, but `tf.gather`'s gradient is a dense vocab × dim tensor and a dense Adam step then
 * updates every row (on the cpu backend the gather gradient alone, an unsorted segment sum over
 * 10^5 segments, took minutes per epoch). So each step copies the touched rows into a small tensor L
 * (U × dim), pools with a dense product A·L (A = batch × U pooling weights), lets TF.js autodiff give
 * ∂loss/∂L together with the dense layers' gradients, and applies Adam to the touched rows only
 * ("lazy Adam": untouched rows keep their moments, as in TensorFlow Addons' LazyAdam). The dense
 * layers use `tf.train.adam`.
 */
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core ships its gradient functions separately; tfjs-layers' entry point registers them all.
import '@tensorflow/tfjs-layers';
import { Rng } from '../util/rng.js';
import type { Bags } from '../text/ngrams.js';

export type Pooling = 'mean' | 'sqrt';

export interface BagClassifierOptions {
  vocabSize: number;
  classes: number;
  /** Embedding width; default 64. */
  dim?: number;
  /** Width of the ReLU hidden layer, 0 for none (the fastText model); default 0. */
  hidden?: number;
  /** 'mean': weights count/n; 'sqrt': count/√n (keeps longer texts' bags larger). Default 'mean'. */
  pooling?: Pooling;
  /** Dropout rate on the pooled vector during training; default 0. */
  dropout?: number;
  learningRate?: number;
  batchSize?: number;
  maxEpochs?: number;
  /** Stop after this many epochs without a better dev accuracy; default 2. */
  patience?: number;
  seed?: number;
  /**
   * How a bag is pooled: 'sparse' (a custom TF.js op whose forward and backward are sparse
   * products, O(n-grams × dim)) or 'matmul' (a dense batch × U weight matrix times the rows, plain
   * TF.js ops; the reference the sparse op is tested against). Default 'sparse'.
   */
  bagOp?: 'sparse' | 'matmul';
}

export interface EpochStats {
  epoch: number;
  loss: number;
  devAccuracy: number;
}

export interface FitResult {
  epochs: number;
  bestEpoch: number;
  bestDevAccuracy: number;
  history: EpochStats[];
}

export interface FitHooks {
  /** Called after every minibatch (e.g. to tick a progress bar). */
  onBatch?: () => void;
  onEpoch?: (stats: EpochStats) => void;
}

type Resolved = Required<BagClassifierOptions>;

const DEFAULTS = {
  dim: 64,
  hidden: 0,
  pooling: 'mean' as Pooling,
  dropout: 0,
  learningRate: 0.01,
  batchSize: 64,
  maxEpochs: 20,
  patience: 2,
  seed: 1,
  bagOp: 'sparse' as 'sparse' | 'matmul',
};

/**
 * Adam for a table of rows of which each step updates a subset: only the given rows' moments and
 * values change, with the bias correction of the global step count.
 */
export class RowAdam {
  private readonly m: Float32Array;
  private readonly v: Float32Array;
  private t = 0;

  constructor(
    readonly table: Float32Array,
    readonly dim: number,
    readonly learningRate: number,
    readonly beta1 = 0.9,
    readonly beta2 = 0.999,
    readonly epsilon = 1e-7,
  ) {
    this.m = new Float32Array(table.length);
    this.v = new Float32Array(table.length);
  }

  /** Applies one step: `grad` holds the gradient rows (rows.length × dim) for `rows`, in order. */
  step(rows: ArrayLike<number>, grad: ArrayLike<number>): void {
    const { table, m, v, dim, beta1, beta2, epsilon } = this;
    this.t++;
    const lr = (this.learningRate * Math.sqrt(1 - beta2 ** this.t)) / (1 - beta1 ** this.t);
    for (let r = 0; r < rows.length; r++) {
      const base = rows[r] * dim;
      for (let j = 0; j < dim; j++) {
        const g = grad[r * dim + j];
        const k = base + j;
        m[k] = beta1 * m[k] + (1 - beta1) * g;
        v[k] = beta2 * v[k] + (1 - beta2) * g * g;
        table[k] -= (lr * m[k]) / (Math.sqrt(v[k]) + epsilon);
      }
    }
  }
}

/** A minibatch in local form: the distinct n-gram ids it touches (U) and the sparse pooling weights. */
interface LocalBatch {
  ids: Int32Array;
  /** The weights as entries: local row `slots[k]` of batch row `segments[k]` has weight `weights[k]`. */
  slots: Int32Array;
  segments: Int32Array;
  weights: Float32Array;
  size: number;
}

/**
 * H = A·L for the sparse pooling matrix A given by (segments, slots, weights), reading the rows of L
 * straight from the table, and its adjoint ∂L = Aᵀ·∂H. Both loop over the nonzeros: with ~350
 * n-grams per IFLYTEK text and ~10^4 distinct n-grams per batch, a dense A would be 30× more work,
 * and tf.gather + segment sum measured 45 s per IFLYTEK epoch on wasm against 3–9 s for the dense
 * product. TF.js then differentiates the layers above H; the 'matmul' path, plain TF.js autodiff
 * end to end, is the reference these loops are tested against.
 */
function sparsePool(b: LocalBatch, table: Float32Array, dim: number): Float32Array {
  const h = new Float32Array(b.size * dim);
  for (let k = 0; k < b.slots.length; k++) {
    const w = b.weights[k];
    const src = b.ids[b.slots[k]] * dim;
    const dst = b.segments[k] * dim;
    for (let j = 0; j < dim; j++) h[dst + j] += w * table[src + j];
  }
  return h;
}

function sparsePoolAdjoint(
  b: LocalBatch,
  dh: Float32Array | Int32Array | Uint8Array,
  dim: number,
): Float32Array {
  const dl = new Float32Array(b.ids.length * dim);
  for (let k = 0; k < b.slots.length; k++) {
    const w = b.weights[k];
    const src = b.segments[k] * dim;
    const dst = b.slots[k] * dim;
    for (let j = 0; j < dim; j++) dl[dst + j] += w * dh[src + j];
  }
  return dl;
}

function checkLabels(labels: ArrayLike<number>, rows: number, classes: number, what: string): void {
  if (labels.length !== rows) throw new RangeError(`${what}: ${labels.length} labels for ${rows} rows`);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= classes)
      throw new RangeError(`${what}: label ${y} at row ${i}`);
  }
}

export class BagClassifier {
  readonly options: Resolved;
  private readonly rng: Rng;
  /** The n-gram vectors, vocabSize × dim, row-major. */
  private table: Float32Array;
  private readonly dense: tf.Variable[];
  private readonly slot: Int32Array;
  private rowAdam: RowAdam | undefined;
  private optimizer: tf.Optimizer | undefined;

  constructor(opts: BagClassifierOptions) {
    this.options = { ...DEFAULTS, ...opts };
    const { vocabSize, classes, dim, hidden } = this.options;
    if (vocabSize < 1 || classes < 2 || dim < 1 || hidden < 0) {
      throw new RangeError('BagClassifier: need vocabSize ≥ 1, classes ≥ 2, dim ≥ 1, hidden ≥ 0');
    }
    this.rng = new Rng(this.options.seed);
    // fastText initialises the input vectors uniformly in ±1/dim; dense layers use Glorot uniform.
    this.table = this.uniform(vocabSize * dim, 1 / dim);
    this.dense =
      hidden > 0 ? [...this.layer(dim, hidden), ...this.layer(hidden, classes)] : this.layer(dim, classes);
    this.slot = new Int32Array(vocabSize).fill(-1);
  }

  private uniform(n: number, limit: number): Float32Array {
    const values = new Float32Array(n);
    for (let i = 0; i < n; i++) values[i] = (2 * this.rng.next() - 1) * limit;
    return values;
  }

  private layer(fanIn: number, fanOut: number): tf.Variable[] {
    const w = this.uniform(fanIn * fanOut, Math.sqrt(6 / (fanIn + fanOut)));
    // tf.variable copies its initial value, so the temporaries go in a tidy.
    return tf.tidy(() => [tf.variable(tf.tensor2d(w, [fanIn, fanOut])), tf.variable(tf.zeros([fanOut]))]);
  }

  /** Collects the distinct ids of the given rows and their pooling weights. */
  private local(bags: Bags, rows: ArrayLike<number>): LocalBatch {
    const { slot } = this;
    const ids: number[] = [];
    const start = (r: number) => bags.offsets[rows[r]];
    const end = (r: number) => bags.offsets[rows[r] + 1];
    let nnz = 0;
    for (let r = 0; r < rows.length; r++) {
      nnz += end(r) - start(r);
      for (let j = start(r); j < end(r); j++) {
        const id = bags.ids[j];
        if (slot[id] < 0) slot[id] = ids.push(id) - 1;
      }
    }
    const slots = new Int32Array(nnz);
    const segments = new Int32Array(nnz);
    const weights = new Float32Array(nnz);
    for (let r = 0, k = 0; r < rows.length; r++) {
      let total = 0;
      for (let j = start(r); j < end(r); j++) total += bags.counts[j];
      const scale = total === 0 ? 0 : this.options.pooling === 'mean' ? 1 / total : 1 / Math.sqrt(total);
      for (let j = start(r); j < end(r); j++, k++) {
        slots[k] = slot[bags.ids[j]];
        segments[k] = r;
        weights[k] = bags.counts[j] * scale;
      }
    }
    for (const id of ids) slot[id] = -1;
    return { ids: Int32Array.from(ids), slots, segments, weights, size: rows.length };
  }

  /**
   * The tensor the embedding gradient is taken with respect to: the pooled vectors H (batch × dim)
   * for 'sparse', the touched rows L (U × dim) for 'matmul'.
   */
  private bagInput(b: LocalBatch): tf.Tensor2D {
    const { dim, bagOp } = this.options;
    if (bagOp === 'sparse') return tf.tensor2d(sparsePool(b, this.table, dim), [b.size, dim]);
    const rows = new Float32Array(b.ids.length * dim);
    for (let i = 0; i < b.ids.length; i++) {
      rows.set(this.table.subarray(b.ids[i] * dim, (b.ids[i] + 1) * dim), i * dim);
    }
    return tf.tensor2d(rows, [b.ids.length, dim]);
  }

  /** The gradient for the touched rows (U × dim) from the gradient for `bagInput`. */
  private rowGradient(b: LocalBatch, g: tf.Tensor): Float32Array {
    const data = g.dataSync() as Float32Array;
    return this.options.bagOp === 'sparse' ? sparsePoolAdjoint(b, data, this.options.dim) : data;
  }

  /** Logits from the bag input and the dense weights; a seed turns on dropout. */
  private logits(b: LocalBatch, input: tf.Tensor2D, dense: tf.Tensor[], dropoutSeed?: number): tf.Tensor2D {
    let h = input;
    if (this.options.bagOp === 'matmul') {
      const pool = new Float32Array(b.size * b.ids.length);
      for (let k = 0; k < b.slots.length; k++) pool[b.segments[k] * b.ids.length + b.slots[k]] = b.weights[k];
      h = tf.matMul(tf.tensor2d(pool, [b.size, b.ids.length]), input);
    }
    if (dropoutSeed !== undefined && this.options.dropout > 0) {
      h = tf.dropout(h, this.options.dropout, undefined, dropoutSeed) as tf.Tensor2D;
    }
    for (let i = 0; i < dense.length; i += 2) {
      h = tf.add(tf.matMul(h, dense[i] as tf.Tensor2D), dense[i + 1]) as tf.Tensor2D;
      if (i + 2 < dense.length) h = tf.relu(h);
    }
    return h;
  }

  /** One Adam step on a minibatch; returns the summed (not mean) loss over its rows. */
  private step(train: Bags, labels: Int32Array, rows: number[]): number {
    const { classes, dim, learningRate } = this.options;
    this.rowAdam ??= new RowAdam(this.table, dim, learningRate);
    this.optimizer ??= tf.train.adam(learningRate);
    const b = this.local(train, rows);
    const seed = this.rng.seed();
    const { loss, rowGrad, denseGrads } = tf.tidy(() => {
      const y = tf.oneHot(
        tf.tensor1d(
          rows.map((r) => labels[r]),
          'int32',
        ),
        classes,
      );
      const f = (input: tf.Tensor, ...dense: tf.Tensor[]) =>
        tf.losses.softmaxCrossEntropy(y, this.logits(b, input as tf.Tensor2D, dense, seed)) as tf.Scalar;
      const { value, grads } = tf.valueAndGrads(f)([this.bagInput(b), ...this.dense]);
      return { loss: value, rowGrad: grads[0], denseGrads: grads.slice(1) };
    });
    this.optimizer.applyGradients(this.dense.map((v, i) => ({ name: v.name, tensor: denseGrads[i] })));
    this.rowAdam.step(b.ids, this.rowGradient(b, rowGrad));
    const value = loss.dataSync()[0] * rows.length;
    tf.dispose([loss, rowGrad, ...denseGrads]);
    return value;
  }

  /** One pass over the training rows in a seeded random order; returns the mean training loss. */
  private epoch(train: Bags, labels: Int32Array, hooks: FitHooks): number {
    const { batchSize } = this.options;
    const order = this.rng.shuffle(Array.from({ length: train.rows }, (_, i) => i));
    let total = 0;
    for (let s = 0; s < order.length; s += batchSize) {
      total += this.step(train, labels, order.slice(s, s + batchSize));
      hooks.onBatch?.();
    }
    return total / train.rows;
  }

  /** Trains on `train`, evaluating dev accuracy after each epoch and restoring the best epoch's weights. */
  fit(
    train: Bags,
    trainLabels: ArrayLike<number>,
    dev: Bags,
    devLabels: ArrayLike<number>,
    hooks: FitHooks = {},
  ): FitResult {
    const { classes, maxEpochs, patience } = this.options;
    checkLabels(trainLabels, train.rows, classes, 'train');
    checkLabels(devLabels, dev.rows, classes, 'dev');
    const labels = Int32Array.from(trainLabels);
    const history: EpochStats[] = [];
    let best = { epoch: 0, acc: -1, table: this.table.slice(), dense: this.dense.map((v) => tf.clone(v)) };
    for (let epoch = 1; epoch <= maxEpochs; epoch++) {
      const loss = this.epoch(train, labels, hooks);
      const devAccuracy = argmaxAccuracy(this.predictProbs(dev), devLabels, classes);
      const stats = { epoch, loss, devAccuracy };
      history.push(stats);
      hooks.onEpoch?.(stats);
      if (devAccuracy > best.acc) {
        tf.dispose(best.dense);
        best = {
          epoch,
          acc: devAccuracy,
          table: this.table.slice(),
          dense: this.dense.map((v) => tf.clone(v)),
        };
      } else if (epoch - best.epoch >= patience) {
        break;
      }
    }
    this.table.set(best.table);
    this.dense.forEach((v, i) => v.assign(best.dense[i]));
    tf.dispose(best.dense);
    return { epochs: history.length, bestEpoch: best.epoch, bestDevAccuracy: best.acc, history };
  }

  /** Class probabilities, row-major `rows × classes`, computed in batches. */
  predictProbs(bags: Bags, batchSize = 256): Float64Array {
    const { classes } = this.options;
    const out = new Float64Array(bags.rows * classes);
    for (let s = 0; s < bags.rows; s += batchSize) {
      const rows = Array.from({ length: Math.min(batchSize, bags.rows - s) }, (_, i) => s + i);
      const b = this.local(bags, rows);
      // Read outside the tidy: tf.tidy walks a returned typed array element by element.
      const probs = tf.tidy(() => tf.softmax(this.logits(b, this.bagInput(b), this.dense)));
      out.set(probs.dataSync(), s * classes);
      probs.dispose();
    }
    return out;
  }

  /** Frees the dense weights and the optimizer's slots (the table is plain memory). */
  dispose(): void {
    tf.dispose(this.dense);
    this.optimizer?.dispose();
    this.optimizer = undefined;
    this.table = new Float32Array(0);
  }
}

/** Fraction of rows whose arg-max class equals the label. */
export function argmaxAccuracy(probs: ArrayLike<number>, labels: ArrayLike<number>, classes: number): number {
  let hits = 0;
  for (let i = 0; i < labels.length; i++) {
    let arg = 0;
    for (let j = 1; j < classes; j++) if (probs[i * classes + j] > probs[i * classes + arg]) arg = j;
    if (arg === labels[i]) hits++;
  }
  return labels.length === 0 ? 0 : hits / labels.length;
}
