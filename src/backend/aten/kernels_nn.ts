/**
 * Matmul, conv, pooling and batch-norm kernels. tfjs is NHWC with HWIO filters; ATen is NCHW/OIHW, so
 * tensors are permuted as views (ATen then sees channels-last strides). Asymmetric ('same') padding is
 * applied explicitly with constant_pad_nd and sliced off again in the gradients.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Inputs, NativeKernel } from './kernels_math.js';
import { Unsupported, batchMatmul, idOf, out, run, runN, shapeOf } from './native.js';

type ConvInfo = tf.backend_util.Conv2DInfo;
const upcast = (a: tf.DataType, b: tf.DataType): tf.DataType => tf.backend_util.upcastType(a, b);

function matmul(a: number, b: number, ta: boolean, tb: boolean): number {
  // Batches of small products (attention's): over the threads, on the operands' strides.
  const batched = batchMatmul(a, b, ta, tb);
  if (batched !== null) return batched;
  const x = ta ? run('transpose.int', [a, -2, -1]) : a;
  const y = tb ? run('transpose.int', [b, -2, -1]) : b;
  return run('matmul', [x, y]);
}

/** A 2-D input, or a 3-D one with a batch of 1, as a 2-D native view; undefined for anything else. */
function asMatrix(t: tf.TensorInfo): number | undefined {
  if (t.shape.length === 2) return idOf(t);
  if (t.shape.length === 3 && t.shape[0] === 1) return run('squeeze.dim', [idOf(t), 0]);
  return undefined;
}

/** The fused activations tfjs kernels take. */
function activate(
  x: number,
  activation: unknown,
  prelu: tf.TensorInfo | undefined,
  alpha: unknown,
  nchw = false,
): number {
  switch (activation ?? 'linear') {
    case 'linear':
      return x;
    case 'relu':
      return run('relu', [x]);
    case 'relu6':
      return run('clamp', [x, 0, 6]);
    case 'elu':
      return run('elu', [x]);
    case 'sigmoid':
      return run('sigmoid', [x]);
    case 'leakyrelu':
      return run('leaky_relu', [x, (alpha as number) ?? 0.2]);
    case 'prelu': {
      if (!prelu) throw new Unsupported('prelu without weights');
      // Per-channel weights of an NCHW conv broadcast over H and W.
      const w = nchw && prelu.shape.length === 1 ? run('reshape', [idOf(prelu), [-1, 1, 1]]) : idOf(prelu);
      const neg = run('mul.Tensor', [x, w]);
      return run('where.self', [run('lt.Scalar', [x, 0]), neg, x]);
    }
    default:
      throw new Unsupported(`activation ${String(activation)}`);
  }
}

// ---------------------------------------------------------------- convolution

interface Geometry {
  info: ConvInfo;
  channelsLast: boolean;
  /** Explicit (l, r, t, b) pad for constant_pad_nd, or null when ATen's symmetric padding suffices. */
  pad: number[] | null;
  /** Symmetric padding passed to ATen. */
  sym: [number, number];
}

function geometry(info: ConvInfo, dataFormat: unknown): Geometry {
  const p = info.padInfo;
  const channelsLast = dataFormat !== 'NCHW';
  if (p.top < 0 || p.left < 0) throw new Unsupported('negative padding');
  const symmetric = p.top === p.bottom && p.left === p.right;
  return {
    info,
    channelsLast,
    pad: symmetric ? null : [p.left, p.right, p.top, p.bottom],
    sym: symmetric ? [p.top, p.left] : [0, 0],
  };
}

function conv2dInfo(
  xShape: number[],
  fShape: number[],
  attrs: tf.NamedAttrMap,
  depthwise: boolean,
): ConvInfo {
  const fmt = tf.backend_util.convertConv2DDataFormat((attrs.dataFormat as 'NHWC' | 'NCHW') ?? 'NHWC');
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    fShape as [number, number, number, number],
    attrs.strides as [number, number],
    (attrs.dilations as [number, number]) ?? 1,
    attrs.pad as 'same',
    attrs.dimRoundingMode as 'floor' | undefined,
    depthwise,
    fmt,
  );
}

const toNCHW = (g: Geometry, id: number): number =>
  g.channelsLast ? run('permute', [id, [0, 3, 1, 2]]) : id;
const fromNCHW = (g: Geometry, id: number): number =>
  g.channelsLast ? run('permute', [id, [0, 2, 3, 1]]) : id;

/** HWIO (or depthwise HW,C,mult) filter as an OIHW view. */
function weight(f: number, fShape: number[], depthwise: boolean): number {
  if (!depthwise) return run('permute', [f, [3, 2, 0, 1]]);
  const [fh, fw, c, m] = fShape;
  return run('unsqueeze', [run('permute', [run('reshape', [f, [fh, fw, c * m]]), [2, 0, 1]]), 1]);
}

function padInput(g: Geometry, xNCHW: number): number {
  return g.pad ? run('constant_pad_nd', [xNCHW, g.pad, 0]) : xNCHW;
}

function convForward(g: Geometry, x: number, w: number, groups: number): number {
  const i = g.info;
  const y = run('convolution', [
    padInput(g, toNCHW(g, x)),
    w,
    null,
    [i.strideHeight, i.strideWidth],
    g.sym,
    [i.dilationHeight, i.dilationWidth],
    false,
    [0, 0],
    groups,
  ]);
  const s = shapeOf(y);
  if (s[2] !== i.outHeight || s[3] !== i.outWidth) throw new Unsupported('output size (dimRoundingMode)');
  return fromNCHW(g, y);
}

/** Shape of the (explicitly padded) NCHW input. */
function paddedNCHW(g: Geometry): number[] {
  const i = g.info;
  const ph = g.pad ? g.pad[2] + g.pad[3] : 0;
  const pw = g.pad ? g.pad[0] + g.pad[1] : 0;
  return [i.batchSize, i.inChannels, i.inHeight + ph, i.inWidth + pw];
}

/** Gradients of the convolution: [dx (NCHW, padded region removed), dw (OIHW)] as requested. */
function convBackward(
  g: Geometry,
  dy: number,
  x: number | null,
  w: number,
  groups: number,
  mask: [boolean, boolean],
): number[] {
  const i = g.info;
  const input =
    x === null ? run('empty.memory_format', [paddedNCHW(g), 'float32']) : padInput(g, toNCHW(g, x));
  const [dx, dw] = runN('convolution_backward', [
    toNCHW(g, dy),
    input,
    w,
    null,
    [i.strideHeight, i.strideWidth],
    g.sym,
    [i.dilationHeight, i.dilationWidth],
    false,
    [0, 0],
    groups,
    [mask[0], mask[1], false],
  ]);
  let dxc = dx;
  if (mask[0] && g.pad) {
    dxc = run('slice.Tensor', [dxc, 2, g.pad[2], g.pad[2] + i.inHeight, 1]);
    dxc = run('slice.Tensor', [dxc, 3, g.pad[0], g.pad[0] + i.inWidth, 1]);
  }
  return [dxc, dw];
}

function filterFromOIHW(dw: number, fShape: number[], depthwise: boolean): number {
  if (!depthwise) return run('permute', [dw, [2, 3, 1, 0]]);
  const [fh, fw, c, m] = fShape;
  return run('reshape', [run('permute', [run('squeeze.dim', [dw, 1]), [1, 2, 0]]), [fh, fw, c, m]]);
}

function fusedConv(inputs: Inputs, attrs: tf.NamedAttrMap, depthwise: boolean): tf.TensorInfo {
  const { x, filter, bias, preluActivationWeights } = inputs;
  const info = conv2dInfo(x.shape, filter.shape, attrs, depthwise);
  const g = geometry(info, attrs.dataFormat);
  let y = convForward(
    g,
    idOf(x),
    weight(idOf(filter), filter.shape, depthwise),
    depthwise ? info.inChannels : 1,
  );
  if (bias) {
    const b = g.channelsLast ? idOf(bias) : run('reshape', [idOf(bias), [-1, 1, 1]]);
    y = run('add.Tensor', [y, b]);
  }
  y = activate(y, attrs.activation, preluActivationWeights, attrs.leakyreluAlpha, !g.channelsLast);
  return out(y, x.dtype);
}

function convGradInput(inputs: Inputs, attrs: tf.NamedAttrMap, depthwise: boolean): tf.TensorInfo {
  const { dy, filter } = inputs;
  const info = conv2dInfo(attrs.inputShape as number[], filter.shape, attrs, depthwise);
  const g = geometry(info, attrs.dataFormat);
  const w = weight(idOf(filter), filter.shape, depthwise);
  const [dx] = convBackward(g, idOf(dy), null, w, depthwise ? info.inChannels : 1, [true, false]);
  return out(fromNCHW(g, dx), dy.dtype);
}

function convGradFilter(inputs: Inputs, attrs: tf.NamedAttrMap, depthwise: boolean): tf.TensorInfo {
  const { x, dy } = inputs;
  const fShape = attrs.filterShape as number[];
  const info = conv2dInfo(x.shape, fShape, attrs, depthwise);
  const g = geometry(info, attrs.dataFormat);
  const oihw = depthwise
    ? [fShape[2] * fShape[3], 1, fShape[0], fShape[1]]
    : [fShape[3], fShape[2], fShape[0], fShape[1]];
  const w = run('empty.memory_format', [oihw, 'float32']);
  const [, dw] = convBackward(g, idOf(dy), idOf(x), w, depthwise ? info.inChannels : 1, [false, true]);
  return out(filterFromOIHW(dw, fShape, depthwise), x.dtype);
}

// ---------------------------------------------------------------- pooling

function poolInfo(x: tf.TensorInfo, attrs: tf.NamedAttrMap): Geometry {
  const info = tf.backend_util.computePool2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterSize as [number, number],
    attrs.strides as [number, number],
    1,
    attrs.pad as 'same',
    attrs.dimRoundingMode as 'floor' | undefined,
  );
  const p = info.padInfo;
  const any = p.top || p.bottom || p.left || p.right;
  // Windows lying wholly in the padding have no tfjs-defined value in ATen terms.
  if (Math.max(p.top, p.bottom) >= info.filterHeight || Math.max(p.left, p.right) >= info.filterWidth) {
    throw new Unsupported('padding as large as the window');
  }
  return { info, channelsLast: true, pad: any ? [p.left, p.right, p.top, p.bottom] : null, sym: [0, 0] };
}

const kernelOf = (g: Geometry): number[] => [g.info.filterHeight, g.info.filterWidth];
const strideOf = (g: Geometry): number[] => [g.info.strideHeight, g.info.strideWidth];

function checkPoolOut(g: Geometry, y: number): void {
  const s = shapeOf(y);
  if (s[2] !== g.info.outHeight || s[3] !== g.info.outWidth) throw new Unsupported('pool output size');
}

function maxPoolPadded(g: Geometry, x: number): number {
  const xc = toNCHW(g, x);
  return g.pad ? run('constant_pad_nd', [xc, g.pad, -Infinity]) : xc;
}

/** Sum over windows, and the number of real (unpadded) elements per window. */
function avgParts(g: Geometry, x: number): { sum: number; count: number | null } {
  const xc = toNCHW(g, x);
  if (!g.pad)
    return { sum: run('avg_pool2d', [xc, kernelOf(g), strideOf(g), [0, 0], false, true]), count: null };
  const padded = run('constant_pad_nd', [xc, g.pad, 0]);
  const sum = run('avg_pool2d', [padded, kernelOf(g), strideOf(g), [0, 0], false, true, 1]);
  const ones = run('ones', [[1, 1, g.info.inHeight, g.info.inWidth], 'float32']);
  const count = run('avg_pool2d', [
    run('constant_pad_nd', [ones, g.pad, 0]),
    kernelOf(g),
    strideOf(g),
    [0, 0],
    false,
    true,
    1,
  ]);
  return { sum, count };
}

function unpad(g: Geometry, d: number): number {
  if (!g.pad) return d;
  const a = run('slice.Tensor', [d, 2, g.pad[2], g.pad[2] + g.info.inHeight, 1]);
  return run('slice.Tensor', [a, 3, g.pad[0], g.pad[0] + g.info.inWidth, 1]);
}

export const nnKernels: Record<string, NativeKernel> = {
  BatchMatMul: ({ a, b }, { transposeA, transposeB }) => {
    if (a.shape.length < 2 || b.shape.length < 2) throw new Unsupported('rank < 2');
    return out(matmul(idOf(a), idOf(b), Boolean(transposeA), Boolean(transposeB)), upcast(a.dtype, b.dtype));
  },
  _FusedMatMul: ({ a, b, bias, preluActivationWeights }, attrs) => {
    const [ta, tb] = [Boolean(attrs.transposeA), Boolean(attrs.transposeB)];
    let y: number;
    // One matrix product with a row bias: one addmm (the bias rides in the GEMM's β·C) instead of mm and
    // an add pass, ≈ 25% less time at BERT's 2048×768×3072. tfjs's fused matMul hands over 3-D inputs
    // with a batch of 1 ([1, m, k]), so those are taken as the matrices they are.
    const rowBias = bias !== undefined && bias.shape.length <= 1 && a.dtype === 'float32';
    const [a2, b2] = rowBias ? [asMatrix(a), asMatrix(b)] : [];
    if (rowBias && a2 !== undefined && b2 !== undefined) {
      y = run('addmm', [idOf(bias), ta ? run('t', [a2]) : a2, tb ? run('t', [b2]) : b2]);
      if (a.shape.length === 3 || b.shape.length === 3) y = run('unsqueeze', [y, 0]);
    } else {
      y = matmul(idOf(a), idOf(b), ta, tb);
      if (bias) y = run('add.Tensor', [y, idOf(bias)]);
    }
    return out(activate(y, attrs.activation, preluActivationWeights, attrs.leakyreluAlpha), a.dtype);
  },
  FusedBatchNorm: ({ x, mean, variance, offset, scale }, { varianceEpsilon }) => {
    let inv = run('rsqrt', [run('add.Scalar', [idOf(variance), varianceEpsilon as number])]);
    if (scale) inv = run('mul.Tensor', [inv, idOf(scale)]);
    let y = run('mul.Tensor', [run('sub.Tensor', [idOf(x), idOf(mean)]), inv]);
    if (offset) y = run('add.Tensor', [y, idOf(offset)]);
    return out(y, x.dtype);
  },
  Conv2D: (inputs, attrs) => fusedConv(inputs, attrs, false),
  FusedConv2D: (inputs, attrs) => fusedConv(inputs, attrs, false),
  DepthwiseConv2dNative: (inputs, attrs) => fusedConv(inputs, attrs, true),
  FusedDepthwiseConv2D: (inputs, attrs) => fusedConv(inputs, attrs, true),
  Conv2DBackpropInput: (inputs, attrs) => convGradInput(inputs, attrs, false),
  DepthwiseConv2dNativeBackpropInput: (inputs, attrs) => convGradInput(inputs, attrs, true),
  Conv2DBackpropFilter: (inputs, attrs) => convGradFilter(inputs, attrs, false),
  DepthwiseConv2dNativeBackpropFilter: (inputs, attrs) => convGradFilter(inputs, attrs, true),
  MaxPool: ({ x }, attrs) => {
    const g = poolInfo(x, attrs);
    const y = run('max_pool2d', [maxPoolPadded(g, idOf(x)), kernelOf(g), strideOf(g), [0, 0], [1, 1], false]);
    checkPoolOut(g, y);
    return out(fromNCHW(g, y), x.dtype);
  },
  AvgPool: ({ x }, attrs) => {
    const g = poolInfo(x, attrs);
    const { sum, count } = avgParts(g, idOf(x));
    const y = count === null ? sum : run('div.Tensor', [sum, count]);
    checkPoolOut(g, y);
    return out(fromNCHW(g, y), x.dtype);
  },
  MaxPoolGrad: ({ dy, input }, attrs) => {
    const g = poolInfo(input, attrs);
    const xp = maxPoolPadded(g, idOf(input));
    const args = [kernelOf(g), strideOf(g), [0, 0], [1, 1], false];
    const [y, idx] = runN('max_pool2d_with_indices', [xp, ...args], 'raw');
    checkPoolOut(g, y);
    const dx = run('max_pool2d_with_indices_backward', [toNCHW(g, idOf(dy)), xp, ...args, idx]);
    return out(fromNCHW(g, unpad(g, dx)), input.dtype);
  },
  AvgPoolGrad: ({ dy, input }, attrs) => {
    const g = poolInfo(input, attrs);
    const xc = toNCHW(g, idOf(input));
    const d = toNCHW(g, idOf(dy));
    let dx: number;
    if (!g.pad) {
      dx = run('avg_pool2d_backward', [d, xc, kernelOf(g), strideOf(g), [0, 0], false, true, null]);
    } else {
      // tfjs's gradient divides by the full window size even where the forward pass counted fewer.
      const padded = run('constant_pad_nd', [xc, g.pad, 0]);
      dx = unpad(
        g,
        run('avg_pool2d_backward', [d, padded, kernelOf(g), strideOf(g), [0, 0], false, true, null]),
      );
    }
    return out(fromNCHW(g, dx), input.dtype);
  },
};
