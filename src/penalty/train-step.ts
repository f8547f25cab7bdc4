/**
 * One optimizer step of a `tf.LayersModel` in a custom loop, with an input- or parameter-gradient
 * penalty added to its loss (Su's note https://kexue.fm/archives/8796):
 *
 *   'input':     L + λ·E‖∇ₓℓ(xᵢ, yᵢ)‖²     (ℓ the per-sample loss; `center` c gives λ·E(‖∇ₓℓ‖ − c)²)
 *   'parameter': L + λ·‖∇_θ L‖²
 *
 * The penalty is differentiated through (double backprop, with kexue's registered higher-order
 * gradients); for a cross-entropy use `'softmaxCrossEntropy'` (from logits, with kexue's `logSoftmax`,
 * whose second derivative is right — tfjs's is not).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { logSoftmax } from '../grad/index.js';
import { InputError } from '../io/errors.js';
import { inputGradientPenalty, parameterGradientPenalty, parametersOf } from './penalties.js';

/** A per-sample loss: [n] values from the targets and the model's outputs. */
export type PerSampleLoss = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor;

/** Built-in per-sample losses. */
export type LossName = 'softmaxCrossEntropy' | 'meanSquaredError';

/** `trainStep`'s options: which penalty to add and its weight. */
export interface TrainStepOptions {
  /** Which gradient penalty to add (default 'none'). */
  penalty?: 'none' | 'input' | 'parameter';
  /** λ (default 1). */
  weight?: number;
  /** For 'input': penalise (‖∇ₓℓ‖ − center)². */
  center?: number;
}

/** `trainStep`'s result: the batch's loss and penalty before the update. */
export interface TrainStepResult {
  /** The mean loss L before the update. */
  loss: number;
  /** The penalty term added (λ included; 0 for 'none'). */
  penalty: number;
}

const LOSSES: Record<LossName, PerSampleLoss> = {
  softmaxCrossEntropy: (y, logits) => tf.neg(tf.sum(tf.mul(y, logSoftmax(logits)), -1)),
  meanSquaredError: (y, p) => tf.mean(tf.reshape(tf.square(tf.sub(p, y)), [p.shape[0], -1]), 1),
};

function perSample(loss: PerSampleLoss | LossName): PerSampleLoss {
  if (typeof loss === 'function') return loss;
  const f = LOSSES[loss as LossName];
  if (!f)
    throw new InputError(
      `must be a function or one of ${Object.keys(LOSSES).join(', ')}; got '${String(loss)}'`,
      'loss',
    );
  return f;
}

/** ℓ(y, model(x)) as [n], checked. */
function lossPerSample(model: tfl.LayersModel, loss: PerSampleLoss, x: tf.Tensor, y: tf.Tensor): tf.Tensor1D {
  const out = loss(y, model.apply(x, { training: true }) as tf.Tensor);
  const n = x.shape[0];
  if (!(out instanceof tf.Tensor) || out.size !== n)
    throw new InputError(`must return one value per sample ([${n}]), got shape [${out?.shape}]`, 'loss');
  return tf.reshape(out, [n]);
}

/**
 * One step of `optimizer` on `model` for the batch (x, y), minimising mean ℓ plus the chosen penalty.
 * Resolves to the loss and penalty values before the update (read with `await data()`).
 *
 * @example
 * // model outputs logits, y is one-hot; one full-batch step per iteration
 * for (let step = 0; step < 100; step++) {
 *   const { loss, penalty } = await trainStep(model, optimizer, x, y, 'softmaxCrossEntropy',
 *                                             { penalty: 'input', weight: 0.1 });
 * }
 */
export async function trainStep(
  model: tfl.LayersModel,
  optimizer: tf.Optimizer,
  x: tf.Tensor,
  y: tf.Tensor,
  loss: PerSampleLoss | LossName,
  opts: TrainStepOptions = {},
): Promise<TrainStepResult> {
  if (!(model instanceof tfl.LayersModel)) throw new InputError('must be a tf.LayersModel', 'model');
  if (!(optimizer instanceof tf.Optimizer))
    throw new InputError('must be a tf.Optimizer (e.g. tf.train.adam())', 'optimizer');
  if (!(x instanceof tf.Tensor) || !(y instanceof tf.Tensor) || x.shape[0] !== y.shape[0])
    throw new InputError(
      `x and y must be tensors with one row per sample, got [${x?.shape}] and [${y?.shape}]`,
      'batch',
    );
  const kind = opts.penalty ?? 'none';
  if (!['none', 'input', 'parameter'].includes(kind))
    throw new InputError(`penalty must be 'none', 'input' or 'parameter', got '${String(kind)}'`, 'options');
  if (opts.center !== undefined && kind !== 'input')
    throw new InputError("center only applies to penalty: 'input'", 'options');
  const f = perSample(loss);
  const vars = parametersOf(model);
  let parts: tf.Scalar[] = [];
  optimizer.minimize(
    () => {
      const meanLoss = () => tf.mean(lossPerSample(model, f, x, y)) as tf.Scalar;
      let main: tf.Scalar;
      let penalty: tf.Scalar;
      if (kind === 'parameter') {
        ({ loss: main, penalty } = parameterGradientPenalty(meanLoss, vars, { weight: opts.weight }));
      } else {
        main = meanLoss();
        penalty =
          kind === 'input'
            ? inputGradientPenalty((xx) => lossPerSample(model, f, xx, y), x, {
                weight: opts.weight,
                center: opts.center,
              })
            : tf.scalar(0);
      }
      parts = [tf.keep(main), tf.keep(penalty)];
      return tf.add(main, penalty) as tf.Scalar;
    },
    false,
    vars,
  );
  try {
    const [l, p] = await Promise.all(parts.map((t) => t.data()));
    return { loss: l[0], penalty: p[0] };
  } finally {
    tf.dispose(parts);
  }
}
