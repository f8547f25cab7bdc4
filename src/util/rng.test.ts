import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { binarize, perturb } from '../density/data.js';
import { MlpNet } from '../gan/nets.js';
import { initTensor } from '../nn/init.js';
import { randomMlp } from '../penalty/inequality.js';
import { Rng, rngOf } from './rng.js';
import { initBackend } from '../backend/index.js';

await initBackend({ quiet: true });

test('seeds are accepted as numbers wherever an Rng is: the same draws as new Rng(seed)', () => {
  const p = Float32Array.from({ length: 50 }, (_, i) => i / 50);
  assert.deepEqual(binarize(p, 3), binarize(p, new Rng(3)));
  assert.deepEqual(perturb(p, 0.3, 4), perturb(p, 0.3, new Rng(4)));
  const o = { inputDim: 3, widths: [4], activation: 'tanh' as const };
  assert.deepEqual(randomMlp(5, o), randomMlp(new Rng(5), o));
  const a = initTensor({ name: 'truncated-normal' }, [3, 4], 6);
  const b = initTensor({ name: 'truncated-normal' }, [3, 4], new Rng(6));
  assert.deepEqual(a.dataSync(), b.dataSync());
  const n1 = new MlpNet({ dims: [2, 3, 1], activation: 'relu' }, 7);
  const n2 = new MlpNet({ dims: [2, 3, 1], activation: 'relu' }, new Rng(7));
  assert.deepEqual(n1.layers[0].kernel.dataSync(), n2.layers[0].kernel.dataSync());
  // An Rng is used (and advanced) as given, so two calls differ.
  const rng = new Rng(8);
  assert.notDeepEqual(binarize(p, rng), binarize(p, rng));
  assert.throws(() => rngOf('8' as never, 'rng'), /rng: must be a number or a kexue Rng, got 8/);
  tf.dispose([a, b]);
  n1.dispose();
  n2.dispose();
});
