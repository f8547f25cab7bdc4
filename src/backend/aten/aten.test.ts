/**
 * The 'aten' backend against the tfjs `cpu` backend (the reference implementation) on the kernels training
 * uses, its gradients, memory accounting, and a leak check over a few hundred training steps.
 * Skipped when the addon is not built.
 */
import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import v8 from 'node:v8';
import vm from 'node:vm';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers'; // registers the ops' gradients
import { isAvailable } from './index.js';
import { loadAddon } from './addon.js';
import { registerGradientFixes } from '../../grad/index.js';
import { SOFTMAX_GRAD } from '../../grad/softmax.js';
import { ACTIVATION_GRAD } from '../../grad/activations.js';

const available = isAvailable();
const skip = available ? false : 'aten addon not built';
const TOL = 1e-4; // relative, float32 with differing summation orders

/** Runs f on cpu and on aten; returns both flattened results. */
async function both(f: () => tf.Tensor | tf.Tensor[]): Promise<[number[][], number[][]]> {
  const run = async (name: string): Promise<number[][]> => {
    await tf.setBackend(name);
    const out = tf.tidy(f);
    const list = Array.isArray(out) ? out : [out];
    const vals = list.map((t) => Array.from(t.dataSync()));
    tf.dispose(list);
    return vals;
  };
  return [await run('cpu'), await run('aten')];
}

function close(a: number[][], b: number[][], tol = TOL): void {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) {
    assert.equal(a[i].length, b[i].length, `output ${i} size`);
    const scale = a[i].reduce((m, v) => Math.max(m, Math.abs(v)), 1);
    for (let j = 0; j < a[i].length; j++) {
      const d = Math.abs(a[i][j] - b[i][j]);
      assert.ok(
        d <= tol * scale || (Number.isNaN(a[i][j]) && Number.isNaN(b[i][j])),
        `output ${i}[${j}]: ${a[i][j]} vs ${b[i][j]}`,
      );
    }
  }
}

/** Deterministic inputs (tf.random* would draw different streams per call). */
function det(shape: number[], k = 1): tf.Tensor {
  const n = shape.reduce((p, c) => p * c, 1);
  return tf.tensor(
    Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 * k + k)),
    shape,
  );
}

test('element-wise, broadcasting, comparisons and reductions match cpu', { skip }, async () => {
  close(
    ...(await both(() => {
      const a = det([3, 4, 5]);
      const b = det([4, 1], 2);
      const i = tf.tensor([3, -7, 8, 0], [4], 'int32');
      return [
        tf.add(a, b),
        tf.sub(a, b),
        tf.mul(a, b),
        tf.div(a, tf.add(b, 2)),
        tf.maximum(a, b),
        tf.pow(tf.abs(a), b),
        tf.cast(tf.greater(a, b), 'float32'),
        tf.sum(a, [0, 2]),
        tf.mean(a, 1, true),
        tf.max(a),
        tf.min(a, -1),
        tf.prod(tf.add(a, 1.5), [0, 1]),
        tf.cast(tf.argMax(a, 2), 'float32'),
        tf.softmax(a),
        tf.logSoftmax(a),
        tf.cumsum(a, 1, true, true),
        tf.floorDiv(i, tf.scalar(2, 'int32')),
        tf.mod(i, tf.scalar(3, 'int32')),
        tf.sum(i),
        tf.cast(tf.all(tf.greater(a, -2), 1), 'float32'),
        tf.step(a, 0.1),
        tf.sign(a),
        tf.relu6(tf.mul(a, 8)),
        tf.leakyRelu(a, 0.3),
        tf.elu(a),
        tf.selu(a),
        tf.sigmoid(a),
        tf.tanh(a),
        tf.softplus(a),
        tf.clipByValue(a, -0.2, 0.3),
      ];
    })),
  );
});

test('shape and indexing kernels match cpu', { skip }, async () => {
  close(
    ...(await both(() => {
      const a = det([4, 5, 6]);
      const idx = tf.tensor([3, 0, 2, 3], [2, 2], 'int32');
      const seg = tf.tensor1d([1, 0, 1, 2], 'int32');
      return [
        tf.transpose(a, [2, 0, 1]),
        tf.slice(a, [1, 0, 2], [2, -1, 3]),
        tf.stridedSlice(a, [3, 4, 0], [0, 0, 6], [-1, -2, 2]),
        tf.concat([a, a], 1),
        tf.stack([a, a], 3),
        tf.tile(a, [1, 2, 1]),
        tf.pad(
          a,
          [
            [1, 0],
            [0, 2],
            [1, 1],
          ],
          0.5,
        ),
        tf.reverse(a, [0, 2]),
        tf.gather(a, idx, 1),
        tf.gatherND(a, idx),
        tf.unsortedSegmentSum(a, seg, 3),
        tf.unsortedSegmentSum(a, tf.tensor1d([1, -1, 1, 2], 'int32'), 3), // tfjs drops negative ids
        tf.oneHot(tf.tensor([0, 3, -1], [3], 'int32'), 4),
        tf.where(tf.greater(a, 0), a, tf.neg(a)),
        tf.scatterND(tf.tensor([[1], [3], [1]], [3, 1], 'int32'), tf.ones([3, 2]), [5, 2]),
        ...tf.split(a, [2, 4], 2),
        ...tf.unstack(a, 1),
        ...Object.values(tf.topk(tf.reshape(a, [20, 6]), 3)),
      ];
    })),
  );
});

test(
  'matmul, conv, depthwise conv, pooling and batch norm (and their gradients) match cpu',
  { skip },
  async () => {
    close(
      ...(await both(() => {
        const x = det([2, 9, 9, 3]);
        const w = det([3, 3, 3, 4], 2);
        const dw = det([3, 3, 3, 2], 3);
        const a = det([2, 5, 7]);
        const b = det([2, 4, 7], 2);
        const loss = (xx: tf.Tensor, ww: tf.Tensor, dd: tf.Tensor, aa: tf.Tensor): tf.Scalar => {
          const c = tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, 2, 'same');
          const d = tf.depthwiseConv2d(xx as tf.Tensor4D, dd as tf.Tensor4D, 1, 'valid');
          const m = tf.maxPool(c, 2, 2, 'same');
          const p = tf.avgPool(d, 3, 2, 'same');
          const bn = tf.batchNorm(
            c,
            tf.mean(c, [0, 1, 2]),
            tf.add(tf.moments(c, [0, 1, 2]).variance, 0.1),
            tf.fill([4], 0.2),
            tf.fill([4], 1.5),
            1e-3,
          );
          const mm = tf.matMul(aa, b, false, true);
          return tf.addN([
            tf.sum(tf.square(m)),
            tf.sum(tf.sin(p)),
            tf.sum(tf.tanh(bn)),
            tf.sum(tf.square(mm)),
          ]) as tf.Scalar;
        };
        const g = tf.grads((xx: tf.Tensor, ww: tf.Tensor, dd: tf.Tensor, aa: tf.Tensor) =>
          loss(xx, ww, dd, aa),
        );
        return [
          loss(x, w, dw, a),
          ...g([x, w, dw, a]),
          tf.matMul(tf.transpose(a, [0, 2, 1]), tf.transpose(b, [0, 2, 1]), true, false),
        ];
      })),
      1e-3,
    );
  },
);

test(
  'tf.fused.matMul with a bias (addmm on aten), each transpose and activation, and its gradients match cpu',
  { skip },
  async () => {
    for (const [ta, tb] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ]) {
      for (const activation of ['linear', 'relu'] as const) {
        close(
          ...(await both(() => {
            const a = det(ta ? [19, 37] : [37, 19]);
            const b = det(tb ? [23, 19] : [19, 23], 2);
            const bias = det([23], 3);
            const f = (aa: tf.Tensor, bb: tf.Tensor, cc: tf.Tensor) =>
              tf.fused.matMul({
                a: aa as tf.Tensor2D,
                b: bb as tf.Tensor2D,
                bias: cc,
                transposeA: ta,
                transposeB: tb,
                activation,
              });
            const loss = (aa: tf.Tensor, bb: tf.Tensor, cc: tf.Tensor) => tf.sum(tf.square(f(aa, bb, cc)));
            return [f(a, b, bias), ...tf.grads(loss)([a, b, bias])];
          })),
          1e-5,
        );
      }
    }
  },
);

test(
  'batched, mid-sized and large products (over the threads, on one, or split; on strided views) match cpu in every layout',
  { skip },
  async () => {
    const loader = loadAddon()!;
    // The native path takes these (equal batches of small products); ATen takes the rest (null).
    const probe = (a: number[], b: number[], ta = false, tb = false) => {
      const [x, y] = [loader.fromData(null, a, 'float32'), loader.fromData(null, b, 'float32')];
      const id = loader.batchMatmul(x, y, ta, tb);
      [x, y, ...(id === null ? [] : [id])].forEach((t) => loader.free(t));
      return id !== null;
    };
    assert.ok(probe([3, 2, 5, 7], [3, 2, 7, 4]));
    assert.ok(probe([3, 5, 7], [3, 4, 7], false, true));
    assert.ok(!probe([3, 5, 7], [1, 7, 4]), 'broadcast batch');
    assert.ok(!probe([2, 128, 128], [2, 128, 128]), 'batches of products over 2^18 multiply-adds');
    // One product up to 2^23 multiply-adds runs on the calling thread; a larger one is split over the threads.
    assert.ok(probe([200, 200], [200, 200]));
    assert.ok(probe([1, 100, 784], [1, 784, 200]));
    assert.ok(probe([300, 300], [300, 300]));
    const [threads, blasThreads] = [loader.getThreads(), loader.getBlasThreads()];
    close(
      ...(await both(() => {
        const a = det([3, 2, 5, 7]);
        const heads = tf.transpose(det([3, 5, 2, 7], 2), [0, 2, 1, 3]); // [3, 2, 5, 7], batch axes strided
        const b = det([3, 2, 7, 4], 3);
        const g = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.sin(tf.matMul(x, y))))([a, b]);
        return [
          tf.matMul(a, b),
          tf.matMul(heads, heads, false, true), // scores: q·kᵀ of head views
          tf.matMul(heads, a, true, false),
          tf.matMul(b, heads, true, true),
          tf.matMul(det([4, 1, 9]), det([4, 9, 1], 2)), // 1 × 1 products
          // Mid-sized single products in each layout, one operand a strided view.
          tf.matMul(det([100, 120]), det([120, 90], 2)),
          tf.matMul(det([120, 100]), det([90, 120], 2), true, true),
          tf.matMul(tf.transpose(det([120, 100])), det([120, 90], 2)),
          // Large single products (over 2^23 multiply-adds), split by rows and by columns, in each layout.
          tf.matMul(det([500, 200]), det([784, 200], 2), false, true),
          tf.matMul(det([200, 500]), det([200, 784], 2), true, false),
          tf.matMul(det([784, 200]), det([200, 450], 2)),
          tf.matMul(det([200, 784]), det([200, 500], 2), true, false),
          tf.matMul(tf.transpose(det([190, 330])), tf.transpose(det([310, 190], 2)), false, false),
          // One kernel reading a strided view both in its own shape and in another (made contiguous in place).
          tf.tidy(() => {
            const view = tf.transpose(det([7, 5], 4));
            return tf.add(view, tf.reshape(view, [1, 5, 7]));
          }),
          ...g,
        ];
      })),
      1e-4,
    );
    // The single products set OpenBLAS to one thread and back (the split ones too); operators on small
    // inputs do the same with OpenMP's count (the addon's SerialScope).
    tf.dispose(tf.exp(tf.ones([100])));
    assert.deepEqual([loader.getThreads(), loader.getBlasThreads()], [threads, blasThreads]);
  },
);

test('memory accounting: dispose frees the native tensor', { skip }, async () => {
  await tf.setBackend('aten');
  const addon = loadAddon()!;
  const before = tf.memory().numTensors;
  const nativeBefore = addon.count();
  const t = tf.tidy(() => tf.add(tf.ones([100, 100]), 1));
  assert.equal(tf.memory().numTensors, before + 1);
  assert.equal(addon.count(), nativeBefore + 1);
  assert.ok(tf.memory().numBytes >= 4e4);
  t.dispose();
  assert.equal(tf.memory().numTensors, before);
  assert.equal(addon.count(), nativeBefore);
});

test("KEXUE_ATEN_THREADS sets both ATen's and OpenBLAS's thread counts", { skip }, () => {
  // OpenBLAS keeps its own pool sized to the machine; left alone, one requested thread ran two busy ones.
  const script = [
    "await import('./index.js');", // registers the backend, which sets the thread counts
    "const a = (await import('./addon.js')).loadAddon();",
    'console.log(JSON.stringify([a.getThreads(), a.getBlasThreads()]));',
  ].join('\n');
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: new URL('.', import.meta.url).pathname,
    env: { ...process.env, KEXUE_ATEN_THREADS: '1' },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const [aten, blas] = JSON.parse(r.stdout.trim().split('\n').pop()!) as [number, number];
  assert.equal(aten, 1);
  assert.ok(blas === 1 || blas === -1, `OpenBLAS threads ${blas}`); // -1: libtorch uses another BLAS
});

test(
  'the native loops agree on every instruction set (KEXUE_ATEN_ISA): masks and AdamW bit for bit, likelihoods and tanh within 1e-6',
  { skip },
  () => {
    // Each child process caps the loops at one instruction set and prints the dropout mask's and the
    // Bernoulli draws' bits, and a Bernoulli log-likelihood and its gradient over rows of 785 (8 at a time
    // plus a tail), tanh of the same logits, and an AdamW update.
    const script = [
      "const a = (await import('./addon.js')).loadAddon();",
      'const take = (id) => { const d = Array.from(a.toData(id)); a.free(id); return d; };',
      'const mask = take(a.dropoutMask([3, 40001], 0.13, 5));',
      'const p = a.fromData(Float32Array.from({ length: 50001 }, (_, i) => (i % 101) / 100), [50001], "float32");',
      'const draws = take(a.bernoulli(p, 7));',
      'const n = 4 * 3 * 785;',
      'const l = a.fromData(Float32Array.from({ length: n }, (_, i) => 6 * Math.sin(0.37 * i)), [4, 3, 785], "float32");',
      'const x = a.fromData(Float32Array.from({ length: 4 * 785 }, (_, i) => i % 2), [4, 1, 785], "float32");',
      'const dy = a.fromData(Float32Array.from({ length: 12 }, (_, i) => 1 - 0.1 * i), [4, 3], "float32");',
      'const logPmf = take(a.bernoulliLogPmf(x, l));',
      'const grad = take(a.bernoulliLogPmfGrad(dy, x, l));',
      'const th = take(a.tanh(l));',
      // AdamW over two variables (the logits and x as parameters, moments and gradients), 16 at a time and a tail.
      'const ids = [l, l, dy, l, x, x, x, x].map((id, i) => (i === 2 ? a.fromData(new Float32Array(n).fill(0.3), [n], "float32") : id));',
      'const s = [0.7, 0.9, 0.999, 0.1, 0.001, 1e-6, 0.01];',
      'const adam = a.adamW(ids, null, s, [0.99, 1], [false, false]).map(take);',
      // In place (distinct tensors tfjs would hold once) and into new tensors: the same numbers.
      'const fresh = (f) => a.fromData(Float32Array.from({ length: n }, (_, i) => f(i)), [n], "float32");',
      'const own = [fresh(Math.sin), fresh((i) => 0.1 * Math.cos(i)), fresh((i) => 0.3 + 0.1 * Math.sin(i)), fresh((i) => Math.cos(0.3 * i))];',
      'const copied = a.adamW(own, null, s, [0.99], [false]).map(take);',
      'const inPlace = a.adamW(own, null, s, [0.99], [true]).map(take);',
      'if (JSON.stringify(copied) !== JSON.stringify(inPlace)) throw new Error("in place differs");',
      'console.log(JSON.stringify({ mask: mask.join(), draws: draws.join(), logPmf, grad, th, adam: [...adam, ...inPlace].flat() }));',
    ].join('\n');
    const runWith = (isa: string) => {
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        cwd: new URL('.', import.meta.url).pathname,
        env: { ...process.env, KEXUE_ATEN_ISA: isa },
        encoding: 'utf8',
        maxBuffer: 64 << 20,
      });
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, string & number[]>;
    };
    const [wide, avx2, baseline] = ['avx512', 'avx2', 'baseline'].map(runWith);
    for (const other of [avx2, baseline]) {
      assert.equal(other.mask, wide.mask);
      assert.equal(other.draws, wide.draws);
      close([other.logPmf, other.grad, other.th], [wide.logPmf, wide.grad, wide.th], 1e-6);
      assert.deepEqual(other.adam, wide.adam, 'AdamW: bit for bit');
    }
  },
);

test(
  "tanh (the addon's loop) is within 1e-6 of float64 for any input; its gradient is dy·(1 − y²)",
  { skip },
  async () => {
    await tf.setBackend('aten');
    // 3 × 785 (8 lanes at a time and a tail) and 300,001 elements (split over the threads), over ±30 with
    // the special values at the front.
    for (const n of [3 * 785, 300_001]) {
      const special = [0, -0, 1e-30, -1e-30, 9, -9, 20, 90, -90, Infinity, -Infinity, NaN];
      const xs = Float32Array.from({ length: n }, (_, i) =>
        i < special.length ? special[i] : 30 * Math.sin(0.37 * i),
      );
      const x = tf.tensor1d(xs);
      const y = tf.tanh(x).dataSync();
      for (let i = 0; i < n; i++) {
        const want = Math.tanh(xs[i]);
        if (Number.isNaN(want)) assert.ok(Number.isNaN(y[i]), `tanh(NaN) = ${y[i]}`);
        else assert.ok(Math.abs(y[i] - want) <= 1e-6, `tanh(${xs[i]}) = ${y[i]}, float64 ${want}`);
      }
      assert.ok(Object.is(y[1], -0), 'tanh(-0) = -0');
      const dy = tf.tensor1d(Float32Array.from({ length: n }, (_, i) => Math.cos(i)));
      const yt = tf.tensor1d(y);
      const dx = tf.engine().runKernel(ACTIVATION_GRAD, { dy, y: yt }, { activation: 'tanh' }) as tf.Tensor;
      const [d, g] = [dy.dataSync(), dx.dataSync()];
      for (let i = special.length; i < n; i++) {
        assert.equal(g[i], Math.fround(d[i] * Math.fround(1 - Math.fround(y[i] * y[i]))), `element ${i}`);
      }
      tf.dispose([x, dy, yt, dx]);
    }
  },
);

test(
  'softmax, tanh, sigmoid: plain training takes their gradient in one call, equal to cpu',
  { skip },
  async () => {
    registerGradientFixes();
    const x = det([3, 4, 7]);
    const w = tf.randomNormal([3, 4, 7], 0, 1, 'float32', 3);
    for (const [op, kernel, backward] of [
      [tf.softmax, 'Softmax', SOFTMAX_GRAD],
      [tf.tanh, 'Tanh', ACTIVATION_GRAD],
      [tf.sigmoid, 'Sigmoid', ACTIVATION_GRAD],
    ] as const) {
      const grad = () => tf.grad((z: tf.Tensor) => tf.sum(tf.mul(op(z), w)))(x);
      close(...(await both(grad)));
      await tf.setBackend('aten');
      const profile = await tf.profile(grad);
      assert.ok(
        profile.kernels.some((k) => k.name === backward),
        kernel,
      );
      assert.equal(profile.kernels.filter((k) => k.name === kernel).length, 1, `${kernel} not recomputed`);
      tf.dispose(profile.result as tf.Tensor);
    }
    tf.dispose([x, w]);
  },
);

test('a kernel without a native version falls back to cpu', { skip }, async () => {
  await tf.setBackend('aten');
  const r = tf.linspace(0, 1, 5);
  assert.deepEqual(Array.from(r.dataSync()), [0, 0.25, 0.5, 0.75, 1]);
  const s = tf.tensor(['a', 'bb']);
  assert.deepEqual(tf.reshape(s, [2, 1]).dataSync(), ['a', 'bb']);
  const c = tf.complex([1, 2], [3, 4]);
  assert.deepEqual(Array.from(tf.real(tf.add(c, c)).dataSync()), [2, 4]);
  tf.dispose([r, s, c]);
});

test('no leaks: tensor count and native memory flat over 300 MLP training steps', { skip }, async () => {
  await tf.setBackend('aten');
  const addon = loadAddon()!;
  const w1 = tf.variable(tf.mul(det([64, 128]), 0.1));
  const w2 = tf.variable(tf.mul(det([128, 10], 2), 0.1));
  const x = det([32, 64], 3);
  const y = tf.oneHot(
    tf.tensor(
      Array.from({ length: 32 }, (_, i) => i % 10),
      [32],
      'int32',
    ),
    10,
  );
  const opt = tf.train.adam(1e-3);
  const step = (): number => {
    const loss = opt.minimize(
      () => tf.losses.softmaxCrossEntropy(y, tf.matMul(tf.relu(tf.matMul(x, w1)), w2)),
      true,
    )!;
    const v = loss.dataSync()[0];
    loss.dispose();
    return v;
  };
  let first = 0;
  for (let i = 0; i < 50; i++) first = step();
  const tensors = tf.memory().numTensors;
  const native = addon.count();
  // Native memory is RSS less V8's heap: the heap grows and shrinks with the collector's schedule
  // (about 20 MB either way over these steps) and is not what a leak in the backend would show in. Each
  // reading follows a full collection and malloc_trim, so that pages V8 or malloc has let go of but not
  // yet returned do not count (one CI run read 52 MB of growth that five reruns did not show).
  v8.setFlagsFromString('--expose_gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const nativeBytes = (): number => {
    gc();
    addon.trim();
    const m = process.memoryUsage();
    return m.rss - m.heapTotal;
  };
  const rss = nativeBytes();
  let last = first;
  for (let i = 0; i < 300; i++) last = step();
  assert.equal(tf.memory().numTensors, tensors);
  assert.equal(addon.count(), native);
  const growth = (nativeBytes() - rss) / 2 ** 20;
  assert.ok(growth < 20, `native memory (RSS less V8 heap) grew ${growth.toFixed(1)} MB`);
  assert.ok(last < first, `loss ${first} -> ${last}`);
  tf.dispose([w1, w2, x, y]);
  opt.dispose();
});

test(
  'tf.train.adam takes the fused update on aten: equal to tfjs’s own on cpu within 1e-6, same state names',
  { skip },
  async () => {
    const run = async (name: string) => {
      await tf.setBackend(name);
      const w = tf.variable(tf.randomNormal([8, 3], 0, 1, 'float32', 5));
      const b = tf.variable(tf.zeros([3]));
      const x = tf.randomNormal([16, 8], 0, 1, 'float32', 6);
      const opt = tf.train.adam(0.05);
      for (let i = 0; i < 10; i++)
        opt.minimize(() => tf.mean(tf.square(tf.sin(tf.add(tf.matMul(x, w), b)))), false, [w, b]);
      const state = await opt.getWeights();
      const out = {
        values: [w, b, ...state.map((s) => s.tensor)].map((t) => Array.from(t.dataSync())),
        names: state.map((s) => s.name.replace(/\d+/g, '#')),
      };
      opt.dispose();
      tf.dispose([w, b, x]);
      return out;
    };
    const cpu = await run('cpu');
    const aten = await run('aten');
    assert.deepEqual(aten.names, cpu.names);
    close(cpu.values, aten.values, 1e-6);
  },
);

test(
  'tf.train.rmsprop and tf.train.momentum take fused updates on aten: equal to tfjs’s own on cpu within 1e-6, same state',
  { skip },
  async () => {
    const optimizers: [string, () => tf.Optimizer][] = [
      ['rmsprop', () => tf.train.rmsprop(0.01)],
      ['rmsprop momentum', () => tf.train.rmsprop(0.01, 0.8, 0.5)],
      // tfjs's centered form takes √(ms − mg² − ε): a small ε keeps it real for small gradients.
      ['rmsprop centered', () => tf.train.rmsprop(0.01, 0.9, 0.3, 1e-10, true)],
      ['momentum', () => tf.train.momentum(0.05, 0.9)],
      ['nesterov', () => tf.train.momentum(0.05, 0.9, true)],
    ];
    for (const [label, make] of optimizers) {
      const run = async (name: string) => {
        await tf.setBackend(name);
        const w = tf.variable(tf.randomNormal([8, 3], 0, 1, 'float32', 5));
        const b = tf.variable(tf.zeros([3]));
        const x = tf.randomNormal([16, 8], 0, 1, 'float32', 6);
        const opt = make();
        const before = tf.memory().numTensors;
        for (let i = 0; i < 10; i++)
          opt.minimize(() => tf.mean(tf.square(tf.sin(tf.add(tf.matMul(x, w), b)))), false, [w, b]);
        const leaked = tf.memory().numTensors - before;
        const state = await opt.getWeights();
        const out = {
          values: [w, b, ...state.map((s) => s.tensor)].map((t) => Array.from(t.dataSync())),
          names: state.map((s) => s.name.replace(/\d+/g, '#')),
          leaked,
        };
        opt.dispose();
        tf.dispose([w, b, x]);
        return out;
      };
      const cpu = await run('cpu');
      const aten = await run('aten');
      assert.deepEqual(aten.names, cpu.names, label);
      // Only the optimizer's own state (created on the first step) and the iteration count remain.
      assert.equal(aten.leaked, cpu.leaked, `${label}: tensors left behind`);
      close(cpu.values, aten.values, 1e-6);
    }
  },
);

test('without the addon, isAvailable() is false and kexue falls back to another backend', () => {
  const script = [
    "const aten = await import('./index.js');",
    "const { initBackend } = await import('../index.js');",
    'console.log(JSON.stringify([aten.isAvailable(), await initBackend({ quiet: true })]));',
  ].join('\n');
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: new URL('.', import.meta.url).pathname,
    env: { ...process.env, KEXUE_ATEN_ADDON: '/nonexistent/kexue_aten.node', KEXUE_BACKEND: '' },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const [avail, chosen] = JSON.parse(r.stdout.trim().split('\n').pop()!) as [boolean, string];
  assert.equal(avail, false);
  assert.notEqual(chosen, 'aten');
});
