/**
 * The CoSENT loss (Su Jianlin, https://kexue.fm/archives/8847; reference code bojone/CoSENT; the same
 * loss as `CoSENTLoss` in sentence-transformers and text2vec). With sᵢ = scale·cos(uᵢ, vᵢ):
 *
 *   loss = log(1 + Σ_{(i,j): labelᵢ > labelⱼ} exp(sⱼ − sᵢ))
 *
 * i.e. every pair whose gold order is known should have its cosines in that order; pairs with equal
 * labels contribute nothing. Two exact forms:
 *  - 'pairwise': the B×B matrix of sⱼ − sᵢ, masked to label-ordered pairs, then one log-sum-exp
 *    (as in the reference code). O(B²) time and memory.
 *  - 'sorted': sort by label; Σ_{j: lⱼ < lᵢ} exp(sⱼ) is a prefix sum over the groups before i's, so
 *    log Σ exp(sⱼ − sᵢ) = P[start(i) − 1] − sᵢ with P the inclusive log-cum-sum-exp of s in label order
 *    (the "suffix" form of the note, read from the other end). P comes from a Hillis–Steele scan of
 *    log-add-exp, which never exponentiates a difference larger than 0, so it is stable for any scale.
 *    O(B log B) time (sort and scan) and O(B) memory.
 */
import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../io/errors.js';
import { logSumExp } from '../nn/fused-logsumexp.js';

/** How CoSENT is computed: O(B²) 'pairwise', O(B log B) 'sorted', or 'auto' (pairwise up to B = 256). */
export type CosentMethod = 'pairwise' | 'sorted' | 'auto';

/**
 * 'auto' uses the pairwise form up to this batch size: it is a handful of kernels, while the scan
 * costs ~2·log₂B small ones. Measured crossover (`npm run bench -- cosent`, aten, 2 busy cores): ~256.
 */
export const AUTO_PAIRWISE_MAX = 256;

/** Settings of `cosentLoss` and `cosentFromCosines`. */
export interface CosentOptions {
  /** Multiplies cosines before the exponent (the note's λ = 20, i.e. temperature 0.05). */
  scale?: number;
  /** Which exact form to compute; both give the same value and gradient (default 'auto'). */
  method?: CosentMethod;
}

/**
 * Pair labels [B]: a 1-D tensor or an array of finite numbers; only their order matters to CoSENT. A
 * tensor is never read back (the masks are built on its device); a non-finite value in it makes the
 * loss NaN, while an array's is refused with an Error naming the entry.
 */
export type Labels = tf.Tensor1D | ArrayLike<number>;

/** Smallest norm divided by, as in torch's F.normalize: a zero vector stays zero. */
const NORM_EPS = 1e-12;

/** Row-wise cosine similarity of two [B, d] tensors → [B]. */
export function rowCosine(u: tf.Tensor2D, v: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const norm = (x: tf.Tensor2D) => tf.maximum(tf.sqrt(tf.sum(tf.square(x), 1)), NORM_EPS);
    return tf.div(tf.sum(tf.mul(u, v), 1), tf.mul(norm(u), norm(v))) as tf.Tensor1D;
  });
}

/** Array labels as float64, checked for length and finiteness (tensors take `labelTensor`). */
export function labelArray(values: ArrayLike<number>, batch: number): Float64Array {
  if (!values || typeof (values as ArrayLike<number>).length !== 'number')
    throw new InputError('must be a 1-D tensor or an array of numbers', 'labels');
  if (values.length !== batch)
    throw new InputError(`has ${values.length} entries, the batch has ${batch}`, 'labels');
  const out = Float64Array.from(values as ArrayLike<number>);
  const bad = out.findIndex((x) => !Number.isFinite(x));
  if (bad >= 0) throw new InputError(`label ${bad} is ${out[bad]}`, 'labels');
  return out;
}

function checkPair(u: tf.Tensor, v: tf.Tensor): void {
  if (!(u instanceof tf.Tensor) || !(v instanceof tf.Tensor))
    throw new InputError('u and v must be [B, d] tensors or number[][]', 'cosentLoss');
  if (u.rank !== 2 || !tf.util.arraysEqual(u.shape, v.shape)) {
    throw new InputError(
      `u and v must be [B, d] of one shape (got [${u.shape}] and [${v.shape}])`,
      'cosentLoss',
    );
  }
}

function checkCosentOptions(opts: CosentOptions): number {
  const scale = opts.scale ?? 20;
  if (!(typeof scale === 'number' && scale > 0 && Number.isFinite(scale)))
    throw new InputError(`scale must be a finite number > 0, got ${String(scale)}`, 'options');
  if (opts.method !== undefined && !['pairwise', 'sorted', 'auto'].includes(opts.method))
    throw new InputError(
      `method must be 'pairwise', 'sorted' or 'auto', got '${String(opts.method)}'`,
      'options',
    );
  return scale;
}

/** log(1 + Σ exp(x)) over all entries of x, stably (the 0 is the "1 +"). */
function logOnePlusSumExp(x: tf.Tensor): tf.Scalar {
  return logSumExp(tf.concat([tf.zeros([1]), tf.reshape(x, [-1])]));
}

/** O(B²) form on already scaled similarities s [B]. */
export function cosentPairwise(s: tf.Tensor1D, labels: Float64Array): tf.Scalar {
  return tf.tidy(() => {
    const b = s.shape[0];
    const mask = new Uint8Array(b * b);
    let any = false;
    for (let i = 0; i < b; i++) {
      for (let j = 0; j < b; j++) {
        if (labels[i] > labels[j]) {
          mask[i * b + j] = 1;
          any = true;
        }
      }
    }
    if (!any) return tf.mul(tf.sum(s), 0) as tf.Scalar;
    const diff = tf.sub(tf.expandDims(s, 0), tf.expandDims(s, 1)); // [i, j] = sⱼ − sᵢ
    // Masked entries get a finite very negative value: exp underflows to 0 and its gradient is 0.
    const masked = tf.where(tf.tensor2d(mask, [b, b], 'bool'), diff, tf.fill([b, b], -1e12));
    // Row-wise first, then over rows: two reductions of B terms each keep float32 sums accurate
    // (one flat sum of B² terms drifts by ~1e-5 relative at B = 4,096 on wasm).
    return logOnePlusSumExp(logSumExp(masked, 1));
  });
}

/** log(eᵃ + eᵇ) elementwise, as max + log1p(exp(−|a − b|)): the exponent is never positive. */
function logAddExp(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return tf.add(tf.maximum(a, b), tf.log1p(tf.exp(tf.neg(tf.abs(tf.sub(a, b))))));
}

/** Inclusive log-cum-sum-exp along a 1-D tensor: ⌈log₂ n⌉ rounds of a Hillis–Steele scan. */
export function logCumSumExp(x: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const n = x.shape[0];
    let acc: tf.Tensor1D = x;
    for (let k = 1; k < n; k *= 2) {
      // After this round acc[i] = log Σ exp over x[max(0, i − 2k + 1)..i]; the first k entries
      // already hold their whole prefix and stay as they are.
      const combined = logAddExp(tf.slice(acc, k, n - k), tf.slice(acc, 0, n - k));
      acc = tf.concat([tf.slice(acc, 0, k), combined]) as tf.Tensor1D;
    }
    return acc;
  });
}

/** Label order plus, for each position in it, the index of the last entry with a strictly smaller label. */
function sortedPlan(labels: Float64Array): { order: Int32Array; rows: Int32Array; prev: Int32Array } {
  const order = Int32Array.from(labels.keys()).sort((a, b) => labels[a] - labels[b]);
  const rows: number[] = [];
  const prev: number[] = [];
  let groupStart = 0;
  for (let p = 0; p < order.length; p++) {
    if (p > 0 && labels[order[p]] !== labels[order[p - 1]]) groupStart = p;
    if (groupStart > 0) {
      rows.push(p);
      prev.push(groupStart - 1);
    }
  }
  return { order, rows: Int32Array.from(rows), prev: Int32Array.from(prev) };
}

/** O(B log B) form on already scaled similarities s [B]. */
export function cosentSorted(s: tf.Tensor1D, labels: Float64Array): tf.Scalar {
  return tf.tidy(() => {
    const { order, rows, prev } = sortedPlan(labels);
    if (rows.length === 0) return tf.mul(tf.sum(s), 0) as tf.Scalar;
    const x = tf.gather(s, tf.tensor1d(order, 'int32'));
    const prefix = logCumSumExp(x);
    // For each i with a smaller label: log Σ_{j: lⱼ < lᵢ} exp(sⱼ − sᵢ) = P[start(i) − 1] − sᵢ.
    const terms = tf.sub(
      tf.gather(prefix, tf.tensor1d(prev, 'int32')),
      tf.gather(x, tf.tensor1d(rows, 'int32')),
    );
    return logOnePlusSumExp(terms);
  });
}

/**
 * The pairwise form with labels on the device: the mask lᵢ > lⱼ is computed there, never read back.
 * Ties and all-equal batches need no special case: masked terms are exp(−10¹²) = 0.
 */
function cosentPairwiseOnDevice(s: tf.Tensor1D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const b = s.shape[0];
    const greater = tf.greater(tf.expandDims(labels, 1), tf.expandDims(labels, 0)); // [i, j] = lᵢ > lⱼ
    const diff = tf.sub(tf.expandDims(s, 0), tf.expandDims(s, 1));
    return logOnePlusSumExp(logSumExp(tf.where(greater, diff, tf.fill([b, b], -1e12)), 1));
  });
}

/**
 * The sorted form with labels on the device: sort by label (`topk`), then each entry's group start by a
 * left `searchSorted` of the sorted labels into themselves; entries of the smallest label are masked.
 */
function cosentSortedOnDevice(s: tf.Tensor1D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const b = s.shape[0];
    // topk of −l is the ascending order; the int32 indices keep the gather differentiable in s.
    const { values, indices } = tf.topk(tf.neg(labels), b);
    const ascending = tf.neg(values) as tf.Tensor1D;
    const x = tf.gather(s, indices);
    const prefix = logCumSumExp(x);
    const start = tf.reshape(tf.searchSorted(ascending, ascending, 'left'), [b]);
    const prev = tf.maximum(tf.sub(start, tf.scalar(1, 'int32')), tf.scalar(0, 'int32'));
    const terms = tf.where(tf.greater(start, 0), tf.sub(tf.gather(prefix, prev), x), tf.fill([b], -1e12));
    return logOnePlusSumExp(terms);
  });
}

/** A [B] label tensor checked for shape (its values stay on the device). */
function labelTensor(labels: tf.Tensor, batch: number): tf.Tensor1D {
  if (labels.rank !== 1) throw new InputError(`must be a 1-D tensor, got shape [${labels.shape}]`, 'labels');
  if (labels.shape[0] !== batch)
    throw new InputError(`has ${labels.shape[0]} entries, the batch has ${batch}`, 'labels');
  return labels as tf.Tensor1D;
}

/**
 * CoSENT loss on cosine similarities [B] (already computed) and labels [B]:
 * log(1 + Σ_{lᵢ > lⱼ} exp(λ(cosⱼ − cosᵢ))), λ = `scale` (default 20). A scalar tensor, differentiable
 * with respect to `cos`.
 *
 * @example
 * const loss = cosentFromCosines(tf.tensor1d([0.9, 0.2, 0.5]), [2, 0, 1]);
 * loss.dataSync()[0]; // → 0.0028: the cosines already follow the labels' order
 */
export function cosentFromCosines(cos: tf.Tensor1D, labels: Labels, opts: CosentOptions = {}): tf.Scalar {
  const scale = checkCosentOptions(opts);
  if (!(cos instanceof tf.Tensor) || cos.rank !== 1)
    throw new InputError(
      `must be a 1-D tensor of cosines, got ${cos instanceof tf.Tensor ? `[${cos.shape}]` : typeof cos}`,
      'cos',
    );
  const method = opts.method ?? 'auto';
  const pairwise = method === 'pairwise' || (method === 'auto' && cos.shape[0] <= AUTO_PAIRWISE_MAX);
  if (labels instanceof tf.Tensor) {
    const l = labelTensor(labels, cos.shape[0]);
    return tf.tidy(() => {
      const s = tf.mul(cos, scale) as tf.Tensor1D;
      const loss = pairwise ? cosentPairwiseOnDevice(s, l) : cosentSortedOnDevice(s, l);
      // l × 0 is 0 for finite labels and NaN otherwise: a bad label makes the loss NaN, not a wrong number.
      return tf.add(loss, tf.sum(tf.mul(tf.cast(l, 'float32'), 0))) as tf.Scalar;
    });
  }
  const l = labelArray(labels, cos.shape[0]);
  return tf.tidy(() => {
    const s = tf.mul(cos, scale) as tf.Tensor1D;
    return pairwise ? cosentPairwise(s, l) : cosentSorted(s, l);
  });
}

/**
 * CoSENT loss of sentence-vector pairs: u, v [B, d] (tensors — e.g. `SentenceEncoder.embed` or
 * `pool(encoder.apply(input), …)` outputs — or number[][]), labels [B] (a 1-D tensor or array; binary or
 * graded). Returns a scalar tensor, differentiable with respect to u and v.
 *
 * @example
 * const st = new SentenceEncoder(encoder, tokenizer, { pooling: 'cls', maxLen: 64 });
 * const u = st.embed(pairs.map((p) => p.s1));
 * const v = st.embed(pairs.map((p) => p.s2));
 * const loss = cosentLoss(u, v, pairs.map((p) => p.label), { scale: 20 });
 * cosentLoss([[1, 0], [0, 1]], [[1, 0], [1, 0]], [1, 0]); // → a scalar tensor, log(1 + e⁻²⁰) ≈ 2e-9
 */
export function cosentLoss(
  u: tf.Tensor | number[][],
  v: tf.Tensor | number[][],
  labels: Labels,
  opts: CosentOptions = {},
): tf.Scalar {
  checkCosentOptions(opts);
  return tf.tidy(() => {
    const [ut, vt] = [u, v].map((m) => (Array.isArray(m) ? tf.tensor2d(m) : m));
    checkPair(ut, vt);
    return cosentFromCosines(rowCosine(ut as tf.Tensor2D, vt as tf.Tensor2D), labels, opts);
  });
}
