/**
 * The computation the browser test runs twice, in headless Chromium (bundled) and in Node, to compare
 * the numbers: CAN, the CoSENT loss, a gradient-normalized tf.LayersModel critic, and the inference of
 * a kexue encoder loaded over HTTP. Imports kexue by its package name, as a user's code would. Inputs
 * and the critic's weights are fixed numbers (no random kernels), so both sides see the same input.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { can, cosentLoss, disposeInput, encodeTexts, gradientNormalize, loadEncoderFrom, pool } from 'kexue';

/** Deterministic numbers in [-1, 1) from a tiny LCG (the same in every JS engine). */
function numbers(n: number, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  });
}

/** Named result arrays, each flat. */
export type ScenarioResult = Record<string, number[]>;

function canPart(): ScenarioResult {
  const probs = tf.tensor2d([
    [0.5, 0.3, 0.2],
    [0.9, 0.05, 0.05],
    [0.34, 0.33, 0.33],
    [0.1, 0.45, 0.45],
    [0.05, 0.05, 0.9],
  ]);
  const r = can(probs, [0.5, 0.3, 0.2], { topk: 2, threshold: 0.9 });
  const out = { canProbs: [...r.probs.dataSync()], canAdjusted: [...r.adjusted.dataSync()] };
  tf.dispose([probs, r.probs, r.adjusted, r.uncertainty]);
  return out;
}

function cosentPart(): ScenarioResult {
  return tf.tidy(() => {
    const u = tf.tensor2d(numbers(6 * 4, 1), [6, 4]);
    const v = tf.tensor2d(numbers(6 * 4, 2), [6, 4]);
    const loss = cosentLoss(u, v, [1, 0, 1, 1, 0, 0]);
    // Labels as a tensor: the masks are built on the device (both forms), nothing is read back.
    const labels = tf.tensor1d([2, 0, 1, 1, 3, 0]);
    const onDevice = (['pairwise', 'sorted'] as const).map((method) => cosentLoss(u, v, labels, { method }));
    return {
      cosentLoss: [...loss.dataSync()],
      cosentLabelTensor: onDevice.map((l) => l.dataSync()[0]),
    };
  });
}

function criticPart(): ScenarioResult {
  const critic = tfl.sequential({
    layers: [
      tfl.layers.dense({ inputShape: [3], units: 5, activation: 'tanh' }),
      tfl.layers.dense({ units: 1 }),
    ],
  });
  const weights = [
    tf.tensor2d(numbers(15, 3), [3, 5]),
    tf.tensor1d(numbers(5, 4)),
    tf.tensor2d(numbers(5, 5), [5, 1]),
    tf.tensor1d([0.1]),
  ];
  critic.setWeights(weights); // copies the values
  tf.dispose(weights);
  const out = tf.tidy(() => {
    const x = tf.tensor2d(numbers(4 * 3, 6), [4, 3]);
    return { gradientNormalize: [...gradientNormalize(critic)(x).dataSync()] };
  });
  critic.dispose();
  return out;
}

async function encoderPart(modelUrl: string): Promise<ScenarioResult> {
  const { model, tokenizer } = await loadEncoderFrom(modelUrl);
  if (!tokenizer) throw new Error(`${modelUrl}: no tokenizer`);
  const input = encodeTexts(tokenizer, ['the cat sat', 'a dog on the mat'], 16);
  const out = tf.tidy(() => {
    const o = model.apply(input);
    return { encoderLast: [...o.last.dataSync()], encoderMean: [...pool(o, 'mean').dataSync()] };
  });
  disposeInput(input);
  model.dispose();
  return out;
}

/** Runs every part on the current backend; `modelUrl` is the encoder's directory over HTTP. */
export async function scenario(modelUrl: string): Promise<ScenarioResult> {
  return { ...canPart(), ...cosentPart(), ...criticPart(), ...(await encoderPart(modelUrl)) };
}
