/**
 * Kernels kexue adds to (or replaces in) the stock TF.js wasm backend 4.22 so that training runs on it:
 *
 * - `UnsortedSegmentSum` (the gradient of tf.gather, hence of every embedding): not registered upstream.
 * - `Conv2DBackpropFilter`, `DepthwiseConv2dNativeBackpropFilter/Input`: not registered upstream; built
 *   here from the XNNPACK convolutions by exchanging the roles of batch, channels and taps.
 * - `BatchMatMul`: upstream uses XNNPACK only for an untransposed, unbatched product and a naive loop
 *   (2–3 GFLOPS) otherwise, i.e. for all of backprop. Here transposes are materialised with the wasm
 *   Transpose kernel and batches are run as XNNPACK products on zero-copy views of the heap.
 * - `Conv2DBackpropInput` (upstream: a plain C++ loop) as an XNNPACK transposed correlation, and
 *   `GatherV2` (upstream: a generic per-element loop) as row copies.
 *
 * Kernels are composed from registered wasm kernels (looked up by name) and freed as they go.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { DataType, KernelConfig, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';

/** The parts of tfjs-backend-wasm's BackendWasm these kernels use. */
interface WasmBackend {
  wasm: {
    cwrap: (name: string, ret: null, args: string[]) => (...args: unknown[]) => void;
    tfjs: { disposeData: (id: number) => void };
  };
  dataIdMap: {
    get(dataId: object): { id: number; memoryOffset: number };
    delete(dataId: object): void;
  };
  makeOutput(shape: number[], dtype: DataType, memoryOffset?: number): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: object): boolean;
}

type Inputs = Record<string, TensorInfo>;

/** The stock configs of the kernels replaced here (for fallbacks and for benchmarking). */
const stockConfigs = new Map<string, KernelConfig>();

function run(name: string, inputs: Inputs, attrs: NamedAttrMap, backend: WasmBackend): TensorInfo {
  const kernel = tf.getKernel(name, 'wasm');
  if (kernel == null) throw new Error(`wasm kernel ${name} is not registered`);
  return kernel.kernelFunc({ inputs, attrs, backend: backend as never }) as TensorInfo;
}

function free(backend: WasmBackend, ...infos: TensorInfo[]): void {
  for (const t of infos) backend.disposeData(t.dataId);
}

/** Same data, new shape (what the wasm Reshape kernel does, without the reference count). */
function view(t: TensorInfo, shape: number[]): TensorInfo {
  return { dataId: t.dataId, shape, dtype: t.dtype };
}

function transpose(backend: WasmBackend, x: TensorInfo, perm: number[]): TensorInfo {
  return run('Transpose', { x }, { perm }, backend);
}

function slice(backend: WasmBackend, x: TensorInfo, begin: number[], size: number[]): TensorInfo {
  return run('Slice', { x }, { begin, size }, backend);
}

// ---------------------------------------------------------------------------------------------
// UnsortedSegmentSum

/**
 * out[s, …] = Σ_{i: ids[i] = s} x[i, …]; ids outside [0, numSegments) are dropped, as in TensorFlow.
 * A scatter-add is memory-bound and a tiny part of a training step, so a plain loop over the heap is
 * as fast as anything else here.
 */
function unsortedSegmentSum(args: { inputs: Inputs; backend: unknown; attrs: NamedAttrMap }): TensorInfo {
  const backend = args.backend as WasmBackend;
  const { x, segmentIds } = args.inputs;
  const numSegments = args.attrs.numSegments as number;
  const inner = tf.util.sizeFromShape(x.shape.slice(segmentIds.shape.length));
  const out = backend.makeOutput([numSegments, ...x.shape.slice(segmentIds.shape.length)], x.dtype);
  // Views are taken after the allocation above: growing the heap detaches earlier views.
  const o = backend.typedArrayFromHeap(out);
  const xs = backend.typedArrayFromHeap(x);
  const ids = backend.typedArrayFromHeap(segmentIds);
  o.fill(0);
  for (let i = 0; i < ids.length; i++) {
    const s = ids[i];
    if (s < 0 || s >= numSegments) continue;
    const src = i * inner;
    const dst = s * inner;
    for (let k = 0; k < inner; k++) o[dst + k] += xs[src + k];
  }
  return out;
}

/**
 * Embedding lookups: the stock GatherV2 walks every element through a generic strided loop (~27 ms
 * for 4096 rows of 64 floats); copying whole rows is ~100× faster. Batched gathers and strings go
 * to the stock kernel.
 */
function gatherV2(args: { inputs: Inputs; backend: unknown; attrs: NamedAttrMap }): TensorInfo {
  const backend = args.backend as WasmBackend;
  const { x, indices } = args.inputs;
  if ((args.attrs.batchDims as number) !== 0 || x.dtype === 'string') {
    return stockConfigs.get('GatherV2')!.kernelFunc(args as never) as TensorInfo;
  }
  const axis = tf.util.parseAxisParam(args.attrs.axis as number, x.shape)[0];
  const outer = tf.util.sizeFromShape(x.shape.slice(0, axis));
  const dim = x.shape[axis];
  const row = tf.util.sizeFromShape(x.shape.slice(axis + 1));
  const out = backend.makeOutput(
    [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)],
    x.dtype,
  );
  const o = backend.typedArrayFromHeap(out);
  const xs = backend.typedArrayFromHeap(x);
  const ids = backend.typedArrayFromHeap(indices);
  for (const i of ids) {
    if (i < 0 || i >= dim) {
      backend.disposeData(out.dataId);
      throw new Error(`GatherV2: the index value ${i} is not in [0, ${dim - 1}]`);
    }
  }
  let dst = 0;
  for (let b = 0; b < outer; b++) {
    for (let k = 0; k < ids.length; k++) {
      const src = (b * dim + ids[k]) * row;
      if (row >= 16) o.set(xs.subarray(src, src + row), dst);
      else for (let j = 0; j < row; j++) o[dst + j] = xs[src + j];
      dst += row;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Conv2DBackpropFilter

function padAfter(
  filter: number,
  dilation: number,
  outSize: number,
  step: number,
  inSize: number,
  before: number,
) {
  // Padding after the input so that a correlation with `outSize` taps spaced `step` apart yields at
  // least `filter` outputs spaced `dilation` apart; surplus outputs are sliced off.
  return Math.max(0, (filter - 1) * dilation + (outSize - 1) * step + 1 - inSize - before);
}

/**
 * The batch slice per convolution in the filter gradient: dy's slice is XNNPACK's packed "filter",
 * streamed once per tile of output rows, so it should stay near cache size: ≤ 1 Mi floats measured
 * ~20% faster than one convolution over the whole batch (MNIST conv2, batch 128). A divisor of the
 * batch, so that groups are equal.
 */
function groupSize(batch: number, perSample: number): number {
  const limit = 1 << 20;
  let best = 1;
  for (let d = 1; d <= batch; d++) if (batch % d === 0 && d * perSample <= limit) best = d;
  return best;
}

/**
 * dW[a,b,ci,co] = Σ_{n,i,j} x[n, i·sh + a − pt, j·sw + b − pl, ci] · dy[n,i,j,co]. With x as
 * [ci, H, W, n] and dy as the filter [Ho, Wo, n, co], this is one Conv2D with stride 1 and dilation
 * (sh, sw), which XNNPACK runs at full speed.
 */
function conv2DBackpropFilter(args: { inputs: Inputs; backend: unknown; attrs: NamedAttrMap }): TensorInfo {
  const backend = args.backend as WasmBackend;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = args.attrs;
  const nchw = dataFormat === 'NCHW';
  const x = nchw ? transpose(backend, args.inputs.x, [0, 2, 3, 1]) : args.inputs.x;
  const dy = nchw ? transpose(backend, args.inputs.dy, [0, 2, 3, 1]) : args.inputs.dy;
  const fs = filterShape as [number, number, number, number];
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    fs,
    strides as [number, number],
    1,
    pad as 'same',
    dimRoundingMode as 'floor' | undefined,
    false,
    'channelsLast',
  );
  const { top, left } = info.padInfo;
  const [, H, W] = x.shape;
  const [, Ho, Wo] = dy.shape;
  const bottom = padAfter(info.filterHeight, 1, Ho, info.strideHeight, H, top);
  const right = padAfter(info.filterWidth, 1, Wo, info.strideWidth, W, left);
  const [N, , , Ci] = x.shape;
  const Co = dy.shape[3];
  const nc = groupSize(N, Ho * Wo * Co);
  const G = N / nc;
  // Batch groups: [G, Ci, H, W, nc] and [G, Ho, Wo, nc, Co], so that each group is contiguous.
  const xT = transpose(backend, view(x, [G, nc, H, W, Ci]), [0, 4, 2, 3, 1]);
  const dyT = transpose(backend, view(dy, [G, nc, Ho, Wo, Co]), [0, 2, 3, 1, 4]);
  const explicit = [
    [0, 0],
    [top, bottom],
    [left, right],
    [0, 0],
  ];
  const attrs = {
    strides: 1,
    pad: explicit,
    dataFormat: 'NHWC',
    dilations: [info.strideHeight, info.strideWidth],
  };
  let r: TensorInfo | undefined;
  for (let g = 0; g < G; g++) {
    const xg = window(backend, xT, g, [Ci, H, W, nc]);
    const dg = window(backend, dyT, g, [Ho, Wo, nc, Co]);
    const rg = run('Conv2D', { x: xg, filter: dg }, attrs as unknown as NamedAttrMap, backend);
    releaseWindow(backend, xg);
    releaseWindow(backend, dg);
    if (r == null) r = rg;
    else {
      const sum = run('Add', { a: r, b: rg }, {}, backend);
      free(backend, r, rg);
      r = sum;
    }
  }
  free(backend, xT, dyT);
  if (nchw) free(backend, x, dy);
  let acc = r as TensorInfo; // G ≥ 1
  if (acc.shape[1] !== fs[0] || acc.shape[2] !== fs[1]) {
    const cut = slice(backend, acc, [0, 0, 0, 0], [acc.shape[0], fs[0], fs[1], acc.shape[3]]);
    free(backend, acc);
    acc = cut;
  }
  const out = transpose(backend, acc, [1, 2, 0, 3]);
  free(backend, acc);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Depthwise convolution gradients

function pair(v: unknown): [number, number] {
  if (v == null) return [1, 1];
  return typeof v === 'number' ? [v, v] : (v as [number, number]);
}

function depthwiseInfo(xShape: number[], filterShape: number[], attrs: NamedAttrMap) {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    pair(attrs.strides),
    pair(attrs.dilations),
    attrs.pad as 'same',
    attrs.dimRoundingMode as 'floor' | undefined,
    true,
  );
}

/**
 * dW[a,b,c,m] = Σ_{n,i,j} x[n, i·s + a·d − pt, …, c] · dy[n,i,j,c·M+m]. Folding the batch into the
 * channels (x as [1, H, W, n·C], dy as the filter [Ho, Wo, n·C, M]) makes this one depthwise
 * convolution with stride d and dilation s, followed by a sum over n.
 */
function depthwiseBackpropFilter(args: {
  inputs: Inputs;
  backend: unknown;
  attrs: NamedAttrMap;
}): TensorInfo {
  const backend = args.backend as WasmBackend;
  const { x, dy } = args.inputs;
  const fs = args.attrs.filterShape as [number, number, number, number];
  const info = depthwiseInfo(x.shape, fs, args.attrs);
  const [N, H, W, C] = x.shape;
  const [, Ho, Wo] = dy.shape;
  const M = fs[3];
  const { top, left } = info.padInfo;
  const bottom = padAfter(fs[0], info.dilationHeight, Ho, info.strideHeight, H, top);
  const right = padAfter(fs[1], info.dilationWidth, Wo, info.strideWidth, W, left);
  const xT = transpose(backend, x, [1, 2, 0, 3]);
  const dyT = transpose(backend, dy, [1, 2, 0, 3]);
  const attrs = {
    strides: [info.dilationHeight, info.dilationWidth],
    dilations: [info.strideHeight, info.strideWidth],
    pad: [
      [0, 0],
      [top, bottom],
      [left, right],
      [0, 0],
    ],
  };
  const inputs = { x: view(xT, [1, H, W, N * C]), filter: view(dyT, [Ho, Wo, N * C, M]) };
  let r = run('DepthwiseConv2dNative', inputs, attrs as unknown as NamedAttrMap, backend);
  free(backend, xT, dyT);
  if (r.shape[1] !== fs[0] || r.shape[2] !== fs[1]) {
    const cut = slice(backend, r, [0, 0, 0, 0], [1, fs[0], fs[1], r.shape[3]]);
    free(backend, r);
    r = cut;
  }
  const summed = run(
    'Sum',
    { x: view(r, [fs[0], fs[1], N, C * M]) },
    { axis: [2], keepDims: false },
    backend,
  );
  free(backend, r);
  return view(summed, fs);
}

/** dy with (s − 1) zeros inserted after every row/column: [N, Ho·sh, Wo·sw, K]. */
function upsampleWithZeros(backend: WasmBackend, dy: TensorInfo, sh: number, sw: number): TensorInfo {
  if (sh === 1 && sw === 1) return dy;
  const [N, Ho, Wo, K] = dy.shape;
  const paddings = [
    [0, 0],
    [0, 0],
    [0, sh - 1],
    [0, 0],
    [0, sw - 1],
    [0, 0],
  ];
  const padded = run('PadV2', { x: view(dy, [N, Ho, 1, Wo, 1, K]) }, { paddings, constantValue: 0 }, backend);
  return view(padded, [N, Ho * sh, Wo * sw, K]);
}

interface TransposedGeometry {
  sh: number;
  sw: number;
  dh: number;
  dw: number;
  fh: number;
  fw: number;
  /** leading padding of the forward convolution */
  pt: number;
  pl: number;
  /** spatial size of the forward convolution's input */
  H: number;
  W: number;
}

/**
 * The input gradient of a convolution as a stride-1 correlation, run by XNNPACK:
 * dx[h] = Σ_a z[h + pt − a·d] · w[a] with z = dy upsampled by the stride, i.e. a correlation of z,
 * padded by (f−1)·d − pt in front, with the spatially flipped filter. `flipped` must already be in
 * the layout `kernel` expects. Returns [N, H, W, channels].
 */
function transposedConv(
  backend: WasmBackend,
  dy: TensorInfo,
  flipped: TensorInfo,
  kernel: 'Conv2D' | 'DepthwiseConv2dNative',
  g: TransposedGeometry,
): TensorInfo {
  let z = upsampleWithZeros(backend, dy, g.sh, g.sw);
  let top = (g.fh - 1) * g.dh - g.pt;
  let left = (g.fw - 1) * g.dw - g.pl;
  if (top < 0 || left < 0) {
    // Explicit padding wider than the filter: drop the leading rows/columns instead of padding.
    const [N, L, Lw, K] = z.shape;
    const [ct, cl] = [Math.max(0, -top), Math.max(0, -left)];
    const cut = slice(backend, z, [0, ct, cl, 0], [N, L - ct, Lw - cl, K]);
    if (z !== dy) free(backend, z);
    z = cut;
    [top, left] = [Math.max(0, top), Math.max(0, left)];
  }
  const bottom = Math.max(0, g.H + (g.fh - 1) * g.dh - top - z.shape[1]);
  const right = Math.max(0, g.W + (g.fw - 1) * g.dw - left - z.shape[2]);
  const attrs = {
    strides: 1,
    dilations: [g.dh, g.dw],
    dataFormat: 'NHWC',
    pad: [
      [0, 0],
      [top, bottom],
      [left, right],
      [0, 0],
    ],
  };
  const r = run(kernel, { x: z, filter: flipped }, attrs as unknown as NamedAttrMap, backend);
  if (z !== dy) free(backend, z);
  if (r.shape[1] === g.H && r.shape[2] === g.W) return r;
  const cut = slice(backend, r, [0, 0, 0, 0], [r.shape[0], g.H, g.W, r.shape[3]]);
  free(backend, r);
  return cut;
}

/**
 * dx[n,h,w,c] = Σ_{a,b,m} z[n, h + pt − a·d, w + pl − b·d, c·M+m] · W[a,b,c,m]: a depthwise
 * transposed correlation with one channel per c·M+m, then a sum over m.
 */
function depthwiseBackpropInput(args: { inputs: Inputs; backend: unknown; attrs: NamedAttrMap }): TensorInfo {
  const backend = args.backend as WasmBackend;
  const { dy, filter } = args.inputs;
  const inputShape = args.attrs.inputShape as [number, number, number, number];
  const info = depthwiseInfo(inputShape, filter.shape, args.attrs);
  const [N, H, W, C] = inputShape;
  const [fh, fw, , M] = filter.shape;
  const flipped = run('Reverse', { x: filter }, { dims: [0, 1] }, backend);
  const r = transposedConv(backend, dy, view(flipped, [fh, fw, C * M, 1]), 'DepthwiseConv2dNative', {
    ...geometry(info),
    H,
    W,
  });
  free(backend, flipped);
  if (M === 1) return r;
  const summed = run('Sum', { x: view(r, [N, H, W, C, M]) }, { axis: [4], keepDims: false }, backend);
  free(backend, r);
  return summed;
}

function geometry(info: tf.backend_util.Conv2DInfo) {
  return {
    sh: info.strideHeight,
    sw: info.strideWidth,
    dh: info.dilationHeight,
    dw: info.dilationWidth,
    fh: info.filterHeight,
    fw: info.filterWidth,
    pt: info.padInfo.top,
    pl: info.padInfo.left,
  };
}

/**
 * Replaces the stock kernel (a plain C++ loop, ~1.2 s of a 1.6 s MNIST conv step): the transposed
 * correlation of dy with the filter flipped and its channel axes swapped, [fh, fw, Co, Ci].
 */
function conv2DBackpropInput(args: { inputs: Inputs; backend: unknown; attrs: NamedAttrMap }): TensorInfo {
  const backend = args.backend as WasmBackend;
  const { filter } = args.inputs;
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = args.attrs;
  const nchw = dataFormat === 'NCHW';
  const dy = nchw ? transpose(backend, args.inputs.dy, [0, 2, 3, 1]) : args.inputs.dy;
  const s = inputShape as number[];
  const xShape = (nchw ? [s[0], s[2], s[3], s[1]] : s) as [number, number, number, number];
  const info = tf.backend_util.computeConv2DInfo(
    xShape,
    filter.shape as [number, number, number, number],
    strides as [number, number],
    1,
    pad as 'same',
    dimRoundingMode as 'floor' | undefined,
    false,
    'channelsLast',
  );
  const reversed = run('Reverse', { x: filter }, { dims: [0, 1] }, backend);
  const flipped = transpose(backend, reversed, [0, 1, 3, 2]);
  free(backend, reversed);
  const r = transposedConv(backend, dy, flipped, 'Conv2D', { ...geometry(info), H: xShape[1], W: xShape[2] });
  free(backend, flipped);
  if (!nchw) return r;
  free(backend, dy);
  const out = transpose(backend, r, [0, 3, 1, 2]);
  free(backend, r);
  return out;
}

// ---------------------------------------------------------------------------------------------
// BatchMatMul

type RawMatMul = (
  aId: number,
  aShape: Uint8Array,
  aRank: number,
  bId: number,
  bShape: Uint8Array,
  bRank: number,
  transposeA: boolean,
  transposeB: boolean,
  outId: number,
) => void;

let rawMatMul: RawMatMul | undefined;
let stockMatMul: KernelConfig | undefined;

/** Below this many multiply-adds per product, XNNPACK's operator set-up costs more than it saves. */
const SMALL_PRODUCT = 16 * 16 * 16;

function shapeBytes(shape: number[]): Uint8Array {
  return new Uint8Array(new Int32Array(shape).buffer);
}

/** out ← a·b for 2-D float32 operands on the heap; XNNPACK path of the stock C++ kernel. */
function gemm(backend: WasmBackend, a: TensorInfo, b: TensorInfo, out: TensorInfo): void {
  const id = (t: TensorInfo) => backend.dataIdMap.get(t.dataId).id;
  const as = shapeBytes([1, ...a.shape]);
  const bs = shapeBytes([1, ...b.shape]);
  rawMatMul!(id(a), as, 3, id(b), bs, 3, false, false, id(out));
}

/** A tensor over part of another one's memory, with no copy; release it with `releaseWindow`. */
function window(backend: WasmBackend, t: TensorInfo, index: number, shape: number[]): TensorInfo {
  const bytes = tf.util.sizeFromShape(shape) * 4;
  return backend.makeOutput(shape, 'float32', backend.dataIdMap.get(t.dataId).memoryOffset + index * bytes);
}

function releaseWindow(backend: WasmBackend, w: TensorInfo): void {
  // Unregister (which also drops any XNNPACK operator cached on it) but do not free: the memory
  // belongs to the parent tensor.
  backend.wasm.tfjs.disposeData(backend.dataIdMap.get(w.dataId).id);
  backend.dataIdMap.delete(w.dataId);
}

function swapLast(backend: WasmBackend, t: TensorInfo): TensorInfo {
  const r = t.shape.length;
  const perm = [...Array(r - 2).keys(), r - 1, r - 2];
  return transpose(backend, t, perm);
}

function batchMatMul(args: { inputs: Inputs; backend: unknown; attrs: NamedAttrMap }): TensorInfo {
  const backend = args.backend as WasmBackend;
  const { a, b } = args.inputs;
  const transposeA = args.attrs.transposeA as boolean;
  const transposeB = args.attrs.transposeB as boolean;
  const stock = () => stockMatMul!.kernelFunc(args as never) as TensorInfo;
  if (rawMatMul == null || a.dtype !== 'float32' || b.dtype !== 'float32') return stock();
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const batchA = tf.util.sizeFromShape(outerA);
  const batchB = tf.util.sizeFromShape(outerB);
  const ra = a.shape.length;
  const rb = b.shape.length;
  const M = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const K = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const N = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  const sameBatch = batchA === batchB && tf.util.arraysEqual(outerA, outerB);
  const plain = batchB === 1 || batchA === 1 || sameBatch;
  if (!plain || M * K * N < SMALL_PRODUCT || (transposeB ? b.shape[rb - 1] : b.shape[rb - 2]) !== K)
    return stock();
  const outer = tf.backend_util.assertAndGetBroadcastShape(outerA, outerB);
  const A = transposeA ? swapLast(backend, a) : a;
  const B = transposeB ? swapLast(backend, b) : b;
  const out = backend.makeOutput([...outer, M, N], 'float32');
  if (batchB === 1) {
    // One product with the batch folded into the rows: [batchA·M, K]·[K, N].
    gemm(backend, view(A, [batchA * M, K]), view(B, [K, N]), view(out, [batchA * M, N]));
  } else {
    for (let i = 0; i < batchB; i++) {
      const ai = batchA === 1 ? view(A, [M, K]) : window(backend, A, i, [M, K]);
      const bi = window(backend, B, i, [K, N]);
      const oi = window(backend, out, i, [M, N]);
      gemm(backend, ai, bi, oi);
      if (batchA !== 1) releaseWindow(backend, ai);
      releaseWindow(backend, bi);
      releaseWindow(backend, oi);
    }
  }
  if (A !== a) free(backend, A);
  if (B !== b) free(backend, B);
  return out;
}

// ---------------------------------------------------------------------------------------------

type KernelFn = (args: { inputs: Inputs; backend: unknown; attrs: NamedAttrMap }) => TensorInfo;

/** Kernels the stock backend lacks. */
const added: Record<string, KernelFn> = {
  UnsortedSegmentSum: unsortedSegmentSum,
  Conv2DBackpropFilter: conv2DBackpropFilter,
  DepthwiseConv2dNativeBackpropFilter: depthwiseBackpropFilter,
  DepthwiseConv2dNativeBackpropInput: depthwiseBackpropInput,
};

function setupMatMul(backend: unknown): void {
  const types = ['number', 'array', 'number', 'number', 'array', 'number', 'number', 'number', 'number'];
  rawMatMul = (backend as WasmBackend).wasm.cwrap('BatchMatMul', null, types) as unknown as RawMatMul;
}

/** Stock kernels replaced by faster ones (the stock setup still runs: ours may fall back to it). */
const replaced: Record<string, { fn: KernelFn; setup?: (backend: unknown) => void }> = {
  BatchMatMul: { fn: batchMatMul, setup: setupMatMul },
  Conv2DBackpropInput: { fn: conv2DBackpropInput },
  GatherV2: { fn: gatherV2 },
};

let registered = false;
/** The kernels of `added` that the stock backend lacked (a later tfjs may ship some itself). */
let missing: string[] = [];
const ourConfigs = new Map<string, KernelConfig>();

function registerAdded(): void {
  for (const kernelName of missing) {
    const kernelFunc = added[kernelName] as KernelConfig['kernelFunc'];
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc });
  }
}

function swap(config: KernelConfig): void {
  tf.unregisterKernel(config.kernelName, 'wasm');
  tf.registerKernel(config);
}

/**
 * Registers kexue's wasm kernels. Call after importing @tensorflow/tfjs-backend-wasm and before the
 * backend is initialised (setup functions run at initialisation). Idempotent.
 */
export function registerWasmKernels(): void {
  if (registered) return;
  registered = true;
  missing = Object.keys(added).filter((name) => tf.getKernel(name, 'wasm') == null);
  registerAdded();
  for (const [kernelName, { fn, setup }] of Object.entries(replaced)) {
    const stock = tf.getKernel(kernelName, 'wasm');
    if (stock == null) continue;
    stockConfigs.set(kernelName, stock);
    const config: KernelConfig = {
      kernelName,
      backendName: 'wasm',
      setupFunc: (backend) => {
        stock.setupFunc?.(backend);
        setup?.(backend);
      },
      kernelFunc: fn as KernelConfig['kernelFunc'],
    };
    ourConfigs.set(kernelName, config);
    swap(config);
  }
  stockMatMul = stockConfigs.get('BatchMatMul');
}

/**
 * For benchmarks: switch between kexue's kernels (true) and the stock wasm backend's (false: the
 * added kernels are unregistered again, replaced ones restored). Needs registerWasmKernels() to have
 * run before the backend was initialised.
 */
export function useKexueWasmKernels(enabled: boolean): void {
  if (!registered) throw new Error('registerWasmKernels() has not run');
  for (const config of (enabled ? ourConfigs : stockConfigs).values()) swap(config);
  if (enabled) registerAdded();
  else for (const name of missing) tf.unregisterKernel(name, 'wasm');
}
