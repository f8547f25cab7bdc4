/**
 * kexue's Add/Sub/Multiply/RealDiv/Sum/Mean gradients against tfjs-core 4.22's formulas (written out
 * below with ops, as tfjs-core's gradients/*_grad.ts compose them): equal bit for bit, over broadcasting
 * shapes, int32 operands and reduction axes, on cpu, wasm and (when built) aten. Then: second derivatives
 * against central differences (float32, eps 1e-2; relative L2 error ≤ 3e-3, as in grad.test.ts), tensors
 * reaching an Add through both inputs and accumulating, and the kernels the lean forms leave out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../util/rng.js';
import { relErr } from '../util/compare.test-util.js';
import { testBackends } from './backends.test-util.js';
import { registerGradientFixes } from './index.js';

registerGradientFixes();
const backends = await testBackends();
if (tf.findBackendFactory('aten') != null) backends.push('aten');

function rand(rng: Rng, shape: number[], lo = -1, hi = 1): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Array.from({ length: n }, () => lo + (hi - lo) * rng.next()),
    shape,
  );
}

/** tfjs-core's reduction of a broadcast gradient: sum over the broadcast axes, then reshape. */
function tfjsReduce(res: tf.Tensor, shape: number[], out: number[]): tf.Tensor {
  const axes = tf.backend_util.getReductionAxes(shape, out);
  return tf.reshape(axes.length > 0 ? tf.sum(res, axes) : res, shape);
}

type Binary = (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;

/** [op, tfjs-core's da, tfjs-core's db] with dy and the broadcast output shape. */
const binary: Record<
  string,
  [Binary, ...((dy: tf.Tensor, a: tf.Tensor, b: tf.Tensor, o: number[]) => tf.Tensor)[]]
> = {
  add: [tf.add, (dy, a, _b, o) => tfjsReduce(dy, a.shape, o), (dy, _a, b, o) => tfjsReduce(dy, b.shape, o)],
  sub: [
    tf.sub,
    (dy, a, _b, o) => tfjsReduce(dy, a.shape, o),
    (dy, _a, b, o) => {
      const axes = tf.backend_util.getReductionAxes(b.shape, o);
      return tf.reshape(tf.neg(axes.length > 0 ? tf.sum(dy, axes) : dy), b.shape);
    },
  ],
  mul: [
    tf.mul,
    (dy, a, b, o) => tfjsReduce(tf.mul(dy, tf.cast(b, 'float32')), a.shape, o),
    (dy, a, b, o) => tfjsReduce(tf.mul(dy, tf.cast(a, 'float32')), b.shape, o),
  ],
  div: [
    tf.div,
    (dy, a, b, o) => tfjsReduce(tf.div(dy, tf.cast(b, 'float32')), a.shape, o),
    (dy, a, b, o) =>
      tf.neg(
        tf.div(tfjsReduce(tf.mul(dy, tf.cast(a, 'float32')), b.shape, o), tf.cast(tf.square(b), 'float32')),
      ),
  ],
};

const shapePairs: [number[], number[]][] = [
  [
    [3, 4],
    [3, 4],
  ],
  [
    [3, 1, 5],
    [3, 4, 5],
  ],
  [[5], [2, 5]],
  [[], [2, 3]],
  [[1, 5], [5]],
  [
    [2, 1],
    [1, 3],
  ],
  [[2, 3, 4], [4]],
];

function same(got: tf.Tensor, want: tf.Tensor, what: string): void {
  assert.deepEqual(got.shape, want.shape, `${what}: shape`);
  assert.deepEqual(got.dataSync(), want.dataSync(), `${what}: values`);
}

test('binary gradients equal tfjs-core 4.22 formulas bit for bit, broadcasting included', async () => {
  for (const backend of backends) {
    await tf.setBackend(backend);
    const rng = new Rng(1);
    for (const [name, [op, da, db]] of Object.entries(binary)) {
      for (const [sa, sb] of [...shapePairs, ...shapePairs.map(([x, y]) => [y, x] as [number[], number[]])]) {
        tf.tidy(() => {
          const a = rand(rng, sa);
          const b = name === 'div' ? rand(rng, sb, 0.5, 2) : rand(rng, sb);
          const o = tf.backend_util.assertAndGetBroadcastShape(sa, sb);
          const dy = rand(rng, o);
          const [ga, gb] = tf.grads(op)([a, b], dy);
          const what = `${backend} ${name} [${sa}] [${sb}]`;
          same(ga, da(dy, a, b, o), `${what} da`);
          same(gb, db(dy, a, b, o), `${what} db`);
        });
      }
      // An int32 operand: only the float one gets a gradient, cast as tfjs-core casts it.
      tf.tidy(() => {
        const a = rand(rng, [2, 3]);
        const b = tf.tensor([[1, 2, 3]], [1, 3], 'int32');
        const dy = rand(rng, [2, 3]);
        same(tf.grad((x: tf.Tensor) => op(x, b))(a, dy), da(dy, a, b, [2, 3]), `${backend} ${name} int32 b`);
      });
    }
  }
});

test('Sum and Mean gradients equal tfjs-core 4.22 formulas bit for bit for every axis form', async () => {
  const axesCases: [number[], number | number[] | undefined, boolean][] = [
    [[3, 4, 5], 1, false],
    [[3, 4, 5], [0, 2], false],
    [[3, 4, 5], -1, true],
    [[3, 4, 5], undefined, false],
    [[6], 0, false],
    [[2, 1, 3], 1, false],
  ];
  for (const backend of backends) {
    await tf.setBackend(backend);
    const rng = new Rng(2);
    for (const [shape, axis, keepDims] of axesCases) {
      tf.tidy(() => {
        const x = rand(rng, shape);
        const axes = tf.util.parseAxisParam(axis ?? shape.map((_, i) => i), shape);
        const expandedShape = shape.map((d, i) => (axes.includes(i) ? 1 : d));
        const n = axes.reduce((p, i) => p * shape[i], 1);
        for (const [name, op] of [
          ['sum', (t: tf.Tensor) => tf.sum(t, axis, keepDims)],
          ['mean', (t: tf.Tensor) => tf.mean(t, axis, keepDims)],
        ] as const) {
          const dy = rand(rng, op(x).shape);
          const ones = tf.ones(shape, 'float32');
          const prod = tf.mul(tf.reshape(dy, expandedShape), ones);
          const want = name === 'sum' ? prod : tf.div(prod, n);
          same(
            tf.grad(op)(x, dy),
            want,
            `${backend} ${name} [${shape}] axis ${String(axis)} keepDims ${keepDims}`,
          );
        }
      });
    }
  }
});

test('second derivatives through the arithmetic gradients match central differences', async () => {
  // P(w) = ‖∇ₓ f(x, w)‖² with f mixing every op, broadcast both ways; ∂P/∂w by tf.grad(tf.grad).
  const f = (x: tf.Tensor, w: tf.Tensor) => {
    const u = tf.sub(tf.mul(x, w), tf.div(x, tf.add(tf.square(w), 1))); // [3, 4]
    return tf.add(tf.sum(tf.mul(u, u), 1, true), tf.mean(tf.mul(tf.add(x, w), u), 0, true));
  };
  const penalty = (w: tf.Tensor, x: tf.Tensor) =>
    tf.tidy(() => tf.sum(tf.square(tf.grad((xx: tf.Tensor) => tf.sum(tf.sin(f(xx, w))))(x))));
  for (const backend of backends) {
    await tf.setBackend(backend);
    const rng = new Rng(3);
    const x = rand(rng, [3, 1]);
    const w = rand(rng, [1, 4]);
    const got = tf
      .grad((ww: tf.Tensor) => penalty(ww, x))(w)
      .dataSync();
    const eps = 1e-2;
    const base = Array.from(w.dataSync());
    const fd = base.map((_, i) => {
      const at = (d: number) =>
        penalty(
          tf.tensor(
            base.map((v, j) => (j === i ? v + d : v)),
            w.shape,
          ),
          x,
        ).dataSync()[0];
      return (at(eps) - at(-eps)) / (2 * eps);
    });
    assert.ok(relErr(Array.from(got), fd) <= 3e-3, `${backend}: ${relErr(Array.from(got), fd)}`);
  }
});

test('a tensor reaching an Add through both inputs, and gradients accumulating into one', async () => {
  for (const backend of backends) {
    await tf.setBackend(backend);
    const x = tf.tensor1d([0.5, -1.25, 2]);
    // a = 2x; b = a + a = 4x; c = b + a = 6x; loss = Σ c² + Σ (x + x) = 36 Σ x² + 2 Σ x.
    const g = tf.grad((t: tf.Tensor) => {
      const a = tf.mul(t, 2);
      const b = tf.add(a, a);
      const c = tf.add(b, a);
      return tf.add(tf.sum(tf.square(c)), tf.sum(tf.add(t, t)));
    })(x);
    assert.deepEqual(
      Array.from(g.dataSync()),
      [0.5, -1.25, 2].map((v) => 72 * v + 2),
      backend,
    );
    const before = tf.memory().numTensors;
    tf.dispose(tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(tf.add(p, q), tf.sub(p, q))))([x, x]));
    assert.equal(tf.memory().numTensors, before, `${backend}: no tensor left behind`);
  }
});

test('the lean gradients leave out the reshapes, casts and uploaded ones', async () => {
  await tf.setBackend('cpu');
  const a = tf.ones([4, 3]);
  const b = tf.ones([4, 3]);
  const bias = tf.ones([3]);
  const profile = await tf.profile(() =>
    tf.grads((p: tf.Tensor, q: tf.Tensor, r: tf.Tensor) =>
      tf.mean(tf.sum(tf.mul(tf.add(p, r), tf.sub(p, q)), 1)),
    )([a, b, bias]),
  );
  const names = profile.kernels.map((k) => k.name).filter((n) => n !== 'Identity'); // the engine's saves
  // Backward: Mean → Reshape (dy lacks the reduced axis), RealDiv, Tile; Sum → Reshape, Tile; Multiply →
  // 2 Multiply; Sub → Neg; p's two gradients → Add; the broadcast bias → Sum. tfjs-core's forms add 2
  // Cast, 5 Reshape and 2 Multiply by uploaded ones here (16 backward kernels in all against 10).
  assert.deepEqual(names, [
    ...['Add', 'Sub', 'Multiply', 'Sum', 'Mean'],
    ...['Reshape', 'RealDiv', 'Tile', 'Reshape', 'Tile', 'Multiply', 'Multiply', 'Neg', 'Add', 'Sum'],
  ]);
});
