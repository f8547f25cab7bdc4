/** Shape, indexing and creation kernels. Views (reshape/permute/slice) are shared, never copied. */
import * as tf from '@tensorflow/tfjs-core';
import type { NativeKernel } from './kernels_math.js';
import { Unsupported, firstValue, idOf, out, run, runN, shapeOf, share } from './native.js';

const upcast = (a: tf.DataType, b: tf.DataType): tf.DataType => tf.backend_util.upcastType(a, b);
const axis0 = (axis: unknown, shape: number[]): number => tf.util.parseAxisParam(axis as number, shape)[0];
const long = (id: number): number => run('to.dtype', [id, 'int64', false, false], 'raw');

/** Slices `x` with positive strides along every dim (end exclusive), through views. */
function sliceDims(xi: number, begin: number[], end: number[], strides: number[], shape: number[]): number {
  let r = xi;
  for (let d = 0; d < begin.length; d++) {
    if (begin[d] === 0 && end[d] >= shape[d] && strides[d] === 1) continue;
    r = run('slice.Tensor', [r, d, begin[d], Math.max(end[d], begin[d]), strides[d]]);
  }
  return r;
}

function stridedSlice(x: tf.TensorInfo, attrs: tf.NamedAttrMap): tf.TensorInfo {
  const info = tf.slice_util.sliceInfo(
    x.shape,
    attrs.begin as number[],
    attrs.end as number[],
    attrs.strides as number[],
    attrs.beginMask as number,
    attrs.endMask as number,
    attrs.ellipsisMask as number,
    attrs.newAxisMask as number,
    attrs.shrinkAxisMask as number,
  );
  let xi = idOf(x);
  if (info.isIdentity) return out(run('reshape', [xi, info.finalShape]), x.dtype);
  const begin = [...info.begin];
  const end = [...info.end];
  const strides = [...info.strides];
  const flips: number[] = [];
  for (let d = 0; d < strides.length; d++) {
    if (strides[d] < 0) {
      // Negative stride: flip the dim and walk it forwards.
      const n = x.shape[d];
      flips.push(d);
      begin[d] = n - 1 - begin[d];
      end[d] = n - 1 - end[d];
      strides[d] = -strides[d];
    }
  }
  if (flips.length) xi = run('flip', [xi, flips]);
  const sliced = sliceDims(xi, begin, end, strides, x.shape);
  return out(run('reshape', [sliced, info.finalShape]), x.dtype);
}

function padList(paddings: [number, number][]): number[] {
  // constant_pad_nd takes (before, after) pairs from the last dim backwards.
  const pad: number[] = [];
  for (let d = paddings.length - 1; d >= 0; d--) pad.push(paddings[d][0], paddings[d][1]);
  return pad;
}

export const shapeKernels: Record<string, NativeKernel> = {
  // Identity and Reshape share the input's data, as on the cpu backend: tfjs relies on a clone's data
  // outliving the clone (customGrad saves), and its test-mode leak check counts data ids.
  Identity: ({ x }) => share(x, x.shape),
  Reshape: ({ x }, { shape }) =>
    share(x, tf.util.inferFromImplicitShape(shape as number[], tf.util.sizeFromShape(x.shape))),
  ExpandDims: ({ input }, { dim }) => {
    const rank = input.shape.length;
    let d = dim as number;
    if (d < -(rank + 1) || d > rank) throw new Unsupported('axis out of range');
    if (d < 0) d = rank + d + 1;
    const shape = [...input.shape];
    shape.splice(d, 0, 1);
    return share(input, shape);
  },
  Transpose: ({ x }, { perm }) => out(run('permute', [idOf(x), perm as number[]]), x.dtype),
  BroadcastTo: ({ x }, { shape }) => out(run('expand', [idOf(x), shape as number[]]), x.dtype),
  Tile: ({ x }, { reps }) => out(run('repeat', [idOf(x), reps as number[]]), x.dtype),
  Reverse: ({ x }, { dims }) => {
    const axes = tf.util.parseAxisParam(dims as number[], x.shape);
    return out(axes.length ? run('flip', [idOf(x), axes]) : run('alias', [idOf(x)]), x.dtype);
  },
  Concat: (inputs, { axis }) => {
    const ts = Object.values(inputs);
    const ax = axis0(axis, ts[0].shape);
    tf.backend_util.assertParamsConsistent(
      ts.map((t) => t.shape),
      ax,
    );
    const nonEmpty = ts.filter((t) => tf.util.sizeFromShape(t.shape) > 0);
    const dt = ts.map((t) => t.dtype).reduce(upcast);
    if (nonEmpty.length === 0) {
      const shape = [...ts[0].shape];
      shape[ax] = ts.reduce((s, t) => s + t.shape[ax], 0);
      return out(run('zeros', [shape, dt]), dt);
    }
    return out(run('cat', [nonEmpty.map(idOf), ax]), dt);
  },
  Pack: (inputs, { axis }) => {
    const ts = Object.values(inputs);
    if (ts.some((t) => t.dtype !== ts[0].dtype)) throw new Unsupported('mixed dtypes');
    let ax = axis as number;
    if (ax < 0) ax += ts[0].shape.length + 1;
    return out(run('stack', [ts.map(idOf), ax]), ts[0].dtype);
  },
  Unpack: ({ value }, { axis }) => {
    const ax = axis0(axis, value.shape);
    return runN('unbind.int', [idOf(value), ax]).map((id) => out(id, value.dtype));
  },
  SplitV: ({ x }, { numOrSizeSplits, axis }) => {
    const ax = axis0(axis, x.shape);
    const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, numOrSizeSplits as number[], ax);
    return runN('split_with_sizes', [idOf(x), sizes, ax]).map((id) => out(id, x.dtype));
  },
  Slice: ({ x }, { begin, size }) => {
    const [b, s] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin as number[], size as number[]);
    tf.slice_util.assertParamsValid(x, b, s);
    const end = b.map((v, i) => v + s[i]);
    return out(
      sliceDims(
        idOf(x),
        b,
        end,
        b.map(() => 1),
        x.shape,
      ),
      x.dtype,
    );
  },
  StridedSlice: ({ x }, attrs) => stridedSlice(x, attrs),
  PadV2: ({ x }, { paddings, constantValue }) =>
    out(
      run('constant_pad_nd', [idOf(x), padList(paddings as [number, number][]), constantValue as number]),
      x.dtype,
    ),
  GatherV2: ({ x, indices }, { axis, batchDims }) => {
    if (batchDims) throw new Unsupported('batchDims');
    const ax = axis0(axis, x.shape);
    const flat = run('reshape', [idOf(indices), [-1]]);
    const g = run('index_select', [idOf(x), ax, flat]);
    const shape = [...x.shape.slice(0, ax), ...indices.shape, ...x.shape.slice(ax + 1)];
    return out(run('reshape', [g, shape]), x.dtype);
  },
  GatherNd: ({ params, indices }) => {
    const k = indices.shape[indices.shape.length - 1];
    const idx = long(idOf(indices));
    const list = Array.from({ length: k }, (_, i) => run('select.int', [idx, -1, i], 'raw'));
    return out(run('index.Tensor', [idOf(params), list]), params.dtype);
  },
  ScatterNd: ({ indices, updates }, { shape }) => {
    const k = indices.shape[indices.shape.length - 1];
    const idx = long(idOf(indices));
    const list = Array.from({ length: k }, (_, i) => run('select.int', [idx, -1, i], 'raw'));
    const zeros = run('zeros', [shape as number[], updates.dtype]);
    // In place into the fresh zeros: ATen 1.13's out-of-place index_put takes a much slower path.
    return out(run('index_put_', [zeros, list, idOf(updates), true]), updates.dtype);
  },
  UnsortedSegmentSum: ({ x, segmentIds }, { numSegments }) => {
    const rest = x.shape.slice(segmentIds.shape.length);
    const xf = run('reshape', [idOf(x), [-1, ...rest]]);
    const ids = run('reshape', [idOf(segmentIds), [-1]]);
    const n = numSegments as number;
    // ATen 1.13's index_add, and out-of-place index_put, take ~10-20 ms for an embedding gradient of
    // 2,048 rows × 128, where embedding_dense_backward takes 0.2-0.8 and in-place index_put_ 0.1-1.3. Ids
    // outside [0, n) go to the cpu kernel, which drops them (ATen would wrap negatives, or throw).
    if (tf.util.sizeFromShape(segmentIds.shape) > 0) {
      const [lo, hi] = runN('aminmax', [ids]).map(firstValue);
      if (lo < 0 || hi >= n) throw new Unsupported('segment ids outside [0, numSegments)');
    }
    if (rest.length === 1 && x.dtype === 'float32')
      return out(run('embedding_dense_backward', [xf, long(ids), n, -1, false]), x.dtype);
    const zeros = run('zeros', [[n, ...rest], x.dtype]);
    return out(run('index_put_', [zeros, [long(ids)], xf, true]), x.dtype);
  },
  Select: ({ condition, t, e }) => {
    let c = idOf(condition);
    if (condition.shape.length === 1 && t.shape.length > 1) {
      c = run('reshape', [c, [condition.shape[0], ...t.shape.slice(1).map(() => 1)]]);
    }
    return out(run('where.self', [c, idOf(t), idOf(e)]), upcast(t.dtype, e.dtype));
  },
  Fill: (_inputs, { shape, value, dtype }) => {
    const dt = dtype as tf.DataType;
    if (dt !== 'float32' && dt !== 'int32' && dt !== 'bool') throw new Unsupported(`fill ${dt}`);
    return out(run('full', [shape as number[], value as number, dt]), dt);
  },
  Range: (_inputs, { start, stop, step, dtype }) => {
    const [a, b, s] = [start as number, stop as number, step as number];
    const n = Math.abs(Math.ceil((b - a) / s));
    // Empty and sign-mismatched ranges follow tfjs's own rules in the cpu kernel.
    if (a === b || !(n > 0) || Math.sign(b - a) !== Math.sign(s)) throw new Unsupported('empty range');
    if (dtype === 'int32' && ![a, b, s].every(Number.isInteger))
      throw new Unsupported('fractional int range');
    const r = run('arange.start_step', [a, b, s, dtype as string]);
    if (shapeOf(r)[0] !== n) throw new Unsupported('range length');
    return out(r, dtype as tf.DataType);
  },
  LinSpace: (_inputs, { start, stop, num }) => {
    if (!((num as number) > 0)) throw new Unsupported('empty linspace');
    return out(run('linspace', [start as number, stop as number, num as number, 'float32']), 'float32');
  },
  ZerosLike: ({ x }) => out(run('zeros_like', [idOf(x)]), x.dtype),
  OnesLike: ({ x }) => out(run('ones_like', [idOf(x)]), x.dtype),
  OneHot: ({ indices }, { depth, onValue, offValue, dtype }) => {
    const range = run('arange', [depth as number, 'int32']);
    const mask = run('eq.Tensor', [run('unsqueeze', [idOf(indices), -1]), range]);
    return out(
      run('where.Scalar', [mask, onValue as number, offValue as number], 'float32'),
      dtype as tf.DataType,
    );
  },
  TopK: ({ x }, { k }) => {
    // A stable descending sort keeps tfjs's tie order (lower index first).
    const [values, idx] = runN('sort.stable', [idOf(x), true, -1, true], 'raw');
    const n = x.shape[x.shape.length - 1];
    const kk = Math.min(k as number, n);
    const v = run('slice.Tensor', [values, -1, 0, kk, 1]);
    const i = run('slice.Tensor', [idx, -1, 0, kk, 1]);
    return [out(v, x.dtype), out(i, 'int32')];
  },
  Einsum: (inputs, { equation }) => {
    const ts = Object.values(inputs);
    tf.backend_util.decodeEinsumEquation(equation as string, ts.length); // tfjs's limits (throws)
    return out(run('einsum', [equation as string, ts.map(idOf)]), ts[0].dtype);
  },
};
