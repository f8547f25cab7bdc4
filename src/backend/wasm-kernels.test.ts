/**
 * kexue's wasm kernels against the `cpu` backend on random inputs. Tolerance: max |wasm − cpu| ≤ 1e-5 ×
 * max |cpu| (float32 sums in a different order; measured ≤ 3e-7). Also checks no wasm memory leaks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's gradients are registered by tfjs-layers' entry point.
import '@tensorflow/tfjs-layers';
import { testBackends } from '../grad/backends.test-util.js';

const hasWasm = (await testBackends()).includes('wasm');
const skip = hasWasm ? false : 'wasm backend unavailable';

type Quad = [number, number, number, number];
type Pad = 'same' | 'valid' | number[][];

function rand(shape: number[], seed: number): tf.Tensor {
  tf.setBackend('cpu');
  return tf.randomNormal(shape, 0, 1, 'float32', seed);
}

/** Runs f on cpu and wasm (inputs are moved across by tfjs) and compares. */
function agree(what: string, f: () => tf.Tensor): void {
  const out: Record<string, Float32Array | Int32Array | Uint8Array> = {};
  const shapes: Record<string, number[]> = {};
  for (const b of ['cpu', 'wasm']) {
    tf.setBackend(b);
    tf.tidy(() => {
      const t = f();
      out[b] = t.dataSync();
      shapes[b] = t.shape;
    });
  }
  assert.deepEqual(shapes.wasm, shapes.cpu, `${what}: shape`);
  let diff = 0;
  let scale = 0;
  out.cpu.forEach((v, i) => {
    diff = Math.max(diff, Math.abs(v - out.wasm[i]));
    scale = Math.max(scale, Math.abs(v));
  });
  assert.ok(diff <= 1e-5 * scale, `${what}: max diff ${diff} (scale ${scale})`);
}

function runKernel(name: string, inputs: tf.NamedTensorMap, attrs: object): tf.Tensor {
  return tf.engine().runKernel(name, inputs, attrs as tf.NamedAttrMap) as tf.Tensor;
}

test('UnsortedSegmentSum and the gradient of gather', { skip }, () => {
  const x = rand([50, 7], 1);
  const ids = tf.tensor1d(
    Array.from({ length: 50 }, (_, i) => ((i * 7) % 13) - 1),
    'int32',
  ); // includes −1 and ids ≥ numSegments: dropped
  agree('1-D ids', () => tf.unsortedSegmentSum(x, ids, 11));
  const ids2 = tf.tensor1d([0, 3, 3, 1, 2], 'int32');
  agree('inner rank 2', () => tf.unsortedSegmentSum(rand([5, 2, 3], 2), ids2, 5));
  const xi = tf.tensor2d(
    [
      [1, 2],
      [3, 4],
      [5, 6],
    ],
    [3, 2],
    'int32',
  );
  agree('int32', () => tf.unsortedSegmentSum(xi, tf.tensor1d([1, 1, 0], 'int32'), 2));
  const p = rand([20, 6], 3);
  const idx = tf.tensor2d(
    [
      [1, 2, 3],
      [3, 3, 19],
    ],
    [2, 3],
    'int32',
  );
  const c = rand([2, 3, 6], 4);
  agree('gather grad', () => tf.grad((pp) => tf.sum(tf.mul(tf.gather(pp, idx), c)))(p));
});

test('GatherV2 (row copies) against cpu', { skip }, () => {
  const x = rand([30, 20], 20);
  const idx = tf.tensor2d(
    [
      [1, 2, 29],
      [0, 0, 7],
    ],
    [2, 3],
    'int32',
  );
  agree('axis 0, rows of 20', () => tf.gather(x, idx));
  agree('axis 1, rows of 1', () => tf.gather(x, tf.tensor1d([19, 3, 3], 'int32'), 1));
  agree('axis 1 of rank 3', () => tf.gather(rand([4, 6, 17], 21), tf.tensor1d([5, 0], 'int32'), 1));
  agree('int32 values', () =>
    tf.gather(
      tf.tensor2d(
        [
          [1, 2],
          [3, 4],
        ],
        [2, 2],
        'int32',
      ),
      tf.tensor1d([1, 1], 'int32'),
    ),
  );
  agree('batchDims 1 (stock kernel)', () =>
    tf.gather(
      rand([2, 5, 3], 22),
      tf.tensor2d(
        [
          [1, 4],
          [0, 2],
        ],
        [2, 2],
        'int32',
      ),
      1,
      1,
    ),
  );
  tf.setBackend('wasm');
  assert.throws(() => tf.gather(x, tf.tensor1d([30], 'int32')), /not in \[0, 29\]/);
});

const convCases: [Quad, Quad, number | [number, number], Pad][] = [
  [[2, 9, 9, 3], [3, 3, 3, 4], 1, 'same'],
  [[2, 9, 9, 3], [3, 3, 3, 4], 2, 'same'],
  [[2, 10, 9, 3], [3, 3, 3, 4], 2, 'valid'],
  [[3, 11, 8, 2], [5, 4, 2, 3], [2, 3], 'valid'],
  [[1, 7, 7, 1], [2, 2, 1, 2], 3, 'same'],
  [
    [2, 8, 8, 2],
    [3, 3, 2, 2],
    1,
    [
      [0, 0],
      [2, 1],
      [0, 2],
      [0, 0],
    ],
  ],
];

test('Conv2DBackpropFilter and Conv2DBackpropInput (via the gradient of conv2d)', { skip }, () => {
  for (const [xs, fs, st, pad] of convCases) {
    const x = rand(xs, 5) as tf.Tensor4D;
    const w = rand(fs, 6) as tf.Tensor4D;
    const dy = rand(tf.conv2d(x, w, st, pad as 'same').shape, 7);
    const loss = (xx: tf.Tensor, ww: tf.Tensor) =>
      tf.sum(tf.mul(tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, st, pad as 'same'), dy));
    const what = `${xs} ${fs} s${st} ${JSON.stringify(pad)}`;
    agree(`dW ${what}`, () => tf.grads(loss)([x, w])[1]);
    agree(`dX ${what}`, () => tf.grads(loss)([x, w])[0]);
  }
});

test('conv2d gradient kernels with NCHW data', { skip }, () => {
  const x = rand([2, 3, 9, 8], 15);
  const w = rand([3, 3, 3, 4], 16);
  const dy = rand([2, 4, 5, 4], 17);
  const attrs = { strides: 2, pad: 'same', dataFormat: 'NCHW', dimRoundingMode: undefined };
  agree('dW NCHW', () => runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: w.shape }));
  agree('dX NCHW', () =>
    runKernel('Conv2DBackpropInput', { dy, filter: w }, { ...attrs, inputShape: x.shape }),
  );
});

const dwCases: [Quad, Quad, number, 'same' | 'valid', number][] = [
  [[2, 9, 9, 3], [3, 3, 3, 1], 1, 'same', 1],
  [[2, 9, 9, 3], [3, 3, 3, 2], 2, 'same', 1],
  [[2, 10, 9, 3], [3, 3, 3, 2], 2, 'valid', 1],
  [[1, 7, 7, 2], [2, 2, 2, 3], 3, 'same', 1],
  [[2, 11, 8, 2], [3, 2, 2, 1], 1, 'valid', 2],
  [[2, 9, 9, 2], [3, 3, 2, 2], 1, 'same', 3],
];

/**
 * Plain float64 loops for both depthwise gradients (the cpu backend ignores dilations in its
 * depthwise gradient kernels, so it cannot be the reference there).
 */
function depthwiseReference(
  x: tf.Tensor4D,
  w: tf.Tensor4D,
  dy: tf.Tensor4D,
  s: number,
  pad: 'same' | 'valid',
  d: number,
) {
  const info = tf.backend_util.computeConv2DInfo(x.shape, w.shape, s, d, pad, undefined, true);
  const [N, H, W, C] = x.shape;
  const [fh, fw, , M] = w.shape;
  const [, Ho, Wo] = dy.shape;
  const xv = x.dataSync();
  const wv = w.dataSync();
  const gv = dy.dataSync();
  const dW = new Float64Array(wv.length);
  const dX = new Float64Array(xv.length);
  for (let n = 0; n < N; n++)
    for (let i = 0; i < Ho; i++)
      for (let j = 0; j < Wo; j++)
        for (let a = 0; a < fh; a++)
          for (let b = 0; b < fw; b++) {
            const h = i * s + a * d - info.padInfo.top;
            const c0 = j * s + b * d - info.padInfo.left;
            if (h < 0 || h >= H || c0 < 0 || c0 >= W) continue;
            for (let c = 0; c < C; c++)
              for (let m = 0; m < M; m++) {
                const g = gv[((n * Ho + i) * Wo + j) * C * M + c * M + m];
                const xi = ((n * H + h) * W + c0) * C + c;
                const wi = ((a * fw + b) * C + c) * M + m;
                dW[wi] += xv[xi] * g;
                dX[xi] += wv[wi] * g;
              }
          }
  return { dW, dX };
}

function close(what: string, got: ArrayLike<number>, want: ArrayLike<number>): void {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  assert.ok(diff <= 1e-5 * scale, `${what}: max diff ${diff} (scale ${scale})`);
}

test('DepthwiseConv2dNativeBackpropFilter/Input (strides, padding, dilations)', { skip }, () => {
  for (const [xs, fs, s, pad, d] of dwCases) {
    const x = rand(xs, 8) as tf.Tensor4D;
    const w = rand(fs, 9) as tf.Tensor4D;
    const dy = rand(tf.depthwiseConv2d(x, w, s, pad, 'NHWC', d).shape, 10) as tf.Tensor4D;
    const ref = depthwiseReference(x, w, dy, s, pad, d);
    const attrs = { strides: s, pad, dilations: d, dimRoundingMode: undefined };
    const what = `${xs} ${fs} s${s} ${pad} d${d}`;
    tf.setBackend('wasm');
    tf.tidy(() => {
      const dW = runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { ...attrs, filterShape: fs });
      const dX = runKernel(
        'DepthwiseConv2dNativeBackpropInput',
        { dy, filter: w },
        { ...attrs, inputShape: xs },
      );
      assert.deepEqual(dW.shape, fs);
      assert.deepEqual(dX.shape, xs);
      close(`dW ${what}`, dW.dataSync(), ref.dW);
      close(`dX ${what}`, dX.dataSync(), ref.dX);
    });
  }
});

const mmCases: [number[], number[], boolean, boolean][] = [
  [[64, 32], [32, 48], false, false],
  [[32, 64], [32, 48], true, false],
  [[64, 32], [48, 32], false, true],
  [[32, 64], [48, 32], true, true],
  [[3, 4, 64, 32], [32, 40], false, false],
  [[3, 4, 32, 64], [40, 32], true, true],
  [[6, 64, 32], [6, 32, 40], false, false],
  [[6, 32, 64], [6, 40, 32], true, true],
  [[64, 32], [5, 32, 40], false, false],
  [[2, 3, 16, 32], [2, 3, 20, 32], false, true],
  [[2, 1, 16, 32], [1, 3, 32, 20], false, false], // general broadcast: stock kernel
  [[4, 4], [4, 4], true, false], // small: stock kernel
];

test('BatchMatMul with transposes and batches', { skip }, () => {
  for (const [as, bs, ta, tb] of mmCases) {
    const a = rand(as, 11);
    const b = rand(bs, 12);
    agree(`matMul ${as} ${bs} ${ta} ${tb}`, () => tf.matMul(a, b, ta, tb));
  }
});

test('no wasm memory is leaked by the kernels', { skip }, () => {
  const x = rand([2, 9, 9, 3], 13) as tf.Tensor4D;
  const w = rand([3, 3, 3, 2], 14) as tf.Tensor4D;
  const a = rand([6, 32, 64], 15);
  const ids = tf.tensor1d([0, 2, 2, 1, 0, 1], 'int32');
  tf.setBackend('wasm');
  const step = () =>
    tf.tidy(() => {
      const dy = tf.ones([2, 5, 5, 4]);
      const conv = (xx: tf.Tensor, ww: tf.Tensor) =>
        tf.sum(tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, 2, 'same'));
      tf.grads(conv)([x, tf.ones([3, 3, 3, 4])]);
      runKernel(
        'DepthwiseConv2dNativeBackpropFilter',
        { x, dy },
        { strides: 2, pad: 'same', dilations: 1, filterShape: [3, 3, 3, 2] },
      );
      runKernel(
        'DepthwiseConv2dNativeBackpropInput',
        { dy, filter: w },
        { strides: 2, pad: 'same', dilations: 1, inputShape: [2, 9, 9, 3] },
      );
      tf.matMul(a, a, true, false);
      tf.unsortedSegmentSum(tf.ones([6, 4]), ids, 3);
      tf.gather(tf.ones([3, 20]), ids);
    });
  step();
  const backend = tf.backend() as unknown as { numDataIds(): number };
  const before = backend.numDataIds();
  for (let i = 0; i < 5; i++) step();
  assert.equal(backend.numDataIds(), before);
});
