/**
 * Empirical Fisher information per parameter element, as ChildTuning-D ranks parameters by it: the mean
 * over training batches of the squared gradient of the batch loss, each parameter's gradient first
 * clipped to norm `clipNorm` on its own (the reference calls `clip_grad_norm_` per parameter tensor).
 */
import * as tf from '@tensorflow/tfjs-core';

/** Settings of `fisherInformation`. */
export interface FisherOptions {
  /** Per-tensor gradient-norm clip before squaring (the reference uses max_grad_norm = 1); 0 = none. */
  clipNorm?: number;
  /** Called after each batch with the number of batches done. */
  onBatch?: (done: number) => void;
}

/** Variables by name: a Map (its keys name them) or an array (named by `tf.Variable.name`). */
export type NamedVariables = Map<string, tf.Variable> | readonly tf.Variable[];

export function asNamed(variables: NamedVariables): Map<string, tf.Variable> {
  if (variables instanceof Map) return variables;
  return new Map(variables.map((v) => [v.name, v]));
}

/** g · min(1, c/(‖g‖ + 1e-6)), torch's `clip_grad_norm_` on one tensor. */
function clipTensor(g: tf.Tensor, clipNorm: number): tf.Tensor {
  if (!(clipNorm > 0)) return g;
  return tf.tidy(() => {
    const norm = tf.norm(g);
    const coef = tf.minimum(tf.div(clipNorm, tf.add(norm, 1e-6)), 1);
    return tf.mul(g, coef);
  });
}

/**
 * Fisher information of `variables` under `lossFn` over `batches` (any iterable or async iterable,
 * e.g. an array or a tf.data iterator): a map from each variable's name to a tensor of its shape,
 * owned by the caller. The model's mode (dropout on or off) is the caller's choice; the reference
 * computes it in training mode. Throws on an empty batch list or a non-finite loss.
 *
 * @example
 * const clf = new TextClassifier(encoder, tokenizer, { classes: 2 }).train(true);
 * const loss = (b: LabelledText[]) => clf.loss(b.map((e) => e.text), b.map((e) => e.label));
 * const batches = [train.slice(0, 32), train.slice(32, 64)];
 * const fisher = await fisherInformation(loss, clf.fineTunedParameters(), batches);
 * // fisher.get('encoder.layers.0.ffn.inner.kernel'): mean squared (clipped) gradient, that kernel's shape
 */
export async function fisherInformation<B>(
  lossFn: (batch: B) => tf.Scalar,
  variables: NamedVariables,
  batches: Iterable<B> | AsyncIterable<B>,
  opts: FisherOptions = {},
): Promise<Map<string, tf.Tensor>> {
  const named = asNamed(variables);
  const clipNorm = opts.clipNorm ?? 1;
  const sums = new Map<string, tf.Tensor>();
  for (const [n, v] of named) sums.set(n, tf.zerosLike(v));
  const vars = [...named.values()];
  let count = 0;
  try {
    for await (const batch of batches) {
      const { value, grads } = tf.variableGrads(() => lossFn(batch), vars);
      const loss = (await value.data())[0];
      if (!Number.isFinite(loss)) {
        tf.dispose([value, ...Object.values(grads)]);
        throw new Error(`fisherInformation: the loss of batch ${count + 1} is ${loss}`);
      }
      for (const [n, v] of named) {
        const g = grads[v.name];
        if (!g) continue; // untouched by this loss: contributes zero
        const old = sums.get(n)!;
        sums.set(
          n,
          tf.tidy(() => tf.add(old, tf.square(clipTensor(g, clipNorm)))),
        );
        old.dispose();
      }
      tf.dispose([value, ...Object.values(grads)]);
      count++;
      opts.onBatch?.(count);
    }
    if (count === 0) throw new Error('fisherInformation: no batches');
  } catch (e) {
    tf.dispose([...sums.values()]);
    throw e;
  }
  const out = new Map<string, tf.Tensor>();
  for (const [n, s] of sums) {
    out.set(n, tf.div(s, count));
    s.dispose();
  }
  return out;
}
