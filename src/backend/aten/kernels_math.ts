/** Element-wise, comparison and reduction kernels: one ATen call each, dtypes as the cpu backend's. */
import * as tf from '@tensorflow/tfjs-core';
import { Unsupported, idOf, out, run, runN, scalar, shapeOf } from './native.js';

// Optional inputs (bias, ...) may be absent at run time; kernels test them before use.
export type Inputs = Record<string, tf.TensorInfo>;
export type Attrs = tf.NamedAttrMap;
export type NativeKernel = (inputs: Inputs, attrs: Attrs) => tf.TensorInfo | tf.TensorInfo[];

const upcast = (a: tf.DataType, b: tf.DataType): tf.DataType => tf.backend_util.upcastType(a, b);

/** Unary kernels: tfjs name -> [aten key, output dtype ('same' = input's)]. */
const UNARY: Record<string, [string, tf.DataType | 'same']> = {
  Abs: ['abs', 'same'],
  Acos: ['acos', 'same'],
  Acosh: ['acosh', 'same'],
  Asin: ['asin', 'same'],
  Asinh: ['asinh', 'same'],
  Atan: ['atan', 'same'],
  Atanh: ['atanh', 'same'],
  Ceil: ['ceil', 'same'],
  Cos: ['cos', 'same'],
  Cosh: ['cosh', 'same'],
  Elu: ['elu', 'same'],
  Erf: ['erf', 'same'],
  Exp: ['exp', 'float32'],
  Expm1: ['expm1', 'same'],
  Floor: ['floor', 'same'],
  IsNan: ['isnan', 'bool'],
  IsInf: ['isinf', 'bool'],
  IsFinite: ['isfinite', 'bool'],
  Log: ['log', 'same'],
  Log1p: ['log1p', 'same'],
  LogicalNot: ['logical_not', 'bool'],
  Neg: ['neg', 'same'],
  Reciprocal: ['reciprocal', 'same'],
  Relu: ['relu', 'same'],
  Round: ['round', 'same'],
  Rsqrt: ['rsqrt', 'same'],
  Selu: ['selu', 'same'],
  Sigmoid: ['sigmoid', 'same'],
  Sin: ['sin', 'same'],
  Sinh: ['sinh', 'same'],
  Softplus: ['softplus', 'same'],
  Sqrt: ['sqrt', 'same'],
  Square: ['square', 'same'],
  Tan: ['tan', 'same'],
  Tanh: ['tanh', 'same'],
};

/** Broadcasting binary kernels: tfjs name -> [aten key, output dtype ('upcast' = of the inputs)]. */
const BINARY: Record<string, [string, tf.DataType | 'upcast']> = {
  Add: ['add.Tensor', 'upcast'],
  Sub: ['sub.Tensor', 'upcast'],
  Multiply: ['mul.Tensor', 'upcast'],
  RealDiv: ['div.Tensor', 'upcast'],
  Maximum: ['maximum', 'upcast'],
  Minimum: ['minimum', 'upcast'],
  Pow: ['pow.Tensor_Tensor', 'upcast'],
  Mod: ['remainder.Tensor', 'upcast'],
  Atan2: ['atan2', 'upcast'],
  Equal: ['eq.Tensor', 'bool'],
  NotEqual: ['ne.Tensor', 'bool'],
  Less: ['lt.Tensor', 'bool'],
  LessEqual: ['le.Tensor', 'bool'],
  Greater: ['gt.Tensor', 'bool'],
  GreaterEqual: ['ge.Tensor', 'bool'],
  LogicalAnd: ['logical_and', 'bool'],
  LogicalOr: ['logical_or', 'bool'],
};

function sign(x: number, dtype: tf.DataType): number {
  // tfjs sign(NaN) is 0; torch keeps NaN.
  const s = run('sign', [x]);
  return dtype === 'float32' ? run('nan_to_num', [s, 0]) : s;
}

export const mathKernels: Record<string, NativeKernel> = {};

for (const [name, [key, dt]] of Object.entries(UNARY)) {
  mathKernels[name] = ({ x }) => out(run(key, [idOf(x)]), dt === 'same' ? x.dtype : dt);
}
for (const [name, [key, dt]] of Object.entries(BINARY)) {
  mathKernels[name] = ({ a, b }) =>
    out(run(key, [idOf(a), idOf(b)]), dt === 'upcast' ? upcast(a.dtype, b.dtype) : dt);
}

Object.assign(mathKernels, {
  Sign: ({ x }) => out(sign(idOf(x), x.dtype), x.dtype),
  Relu6: ({ x }) => out(run('clamp', [idOf(x), 0, 6]), x.dtype),
  LeakyRelu: ({ x }, { alpha }) => {
    if (x.dtype !== 'float32') throw new Unsupported('int leakyRelu');
    return out(run('leaky_relu', [idOf(x), alpha as number]), 'float32');
  },
  Step: ({ x }, { alpha }) => {
    // ceil(clamp(x, 0, 1)) is 1 for x > 0, 0 otherwise, and keeps NaN as tfjs's step does: two passes.
    let r = run('ceil', [run('clamp', [idOf(x), 0, 1])]);
    const a = alpha as number;
    if (a) r = run('add.Scalar', [run('mul.Scalar', [r, 1 - a]), a]);
    return out(r, x.dtype);
  },
  ClipByValue: ({ x }, { clipValueMin, clipValueMax }) =>
    out(run('clamp', [idOf(x), clipValueMin as number, clipValueMax as number]), x.dtype),
  Cast: ({ x }, { dtype }) => {
    const d = dtype as tf.DataType;
    if (d !== 'float32' && d !== 'int32' && d !== 'bool') throw new Unsupported(`cast to ${d}`);
    return out(d === x.dtype ? run('alias', [idOf(x)]) : run('to.dtype', [idOf(x), d, false, true]), d);
  },
  SquaredDifference: ({ a, b }) =>
    out(run('square', [run('sub.Tensor', [idOf(a), idOf(b)])]), upcast(a.dtype, b.dtype)),
  FloorDiv: ({ a, b }) => {
    if (a.dtype !== 'float32' && b.dtype !== 'float32') {
      // Integer division by zero raises in ATen; let the cpu kernel define it.
      throw new Unsupported('int floorDiv');
    }
    return out(run('div.Tensor_mode', [idOf(a), idOf(b), 'floor']), 'int32');
  },
  Prelu: ({ x, alpha }) => {
    const xi = idOf(x);
    const neg = run('mul.Tensor', [xi, idOf(alpha)]);
    return out(run('where.self', [run('lt.Scalar', [xi, 0]), neg, xi]), 'float32');
  },
  EluGrad: ({ dy, y }) => {
    const d = idOf(dy);
    const yi = idOf(y);
    const neg = run('mul.Tensor', [d, run('add.Scalar', [yi, 1])]);
    return out(run('where.self', [run('ge.Scalar', [yi, 0]), d, neg]), dy.dtype);
  },
  AddN: (inputs) => {
    const ts = Object.values(inputs);
    let acc = idOf(ts[0]);
    let dt = ts[0].dtype;
    for (let i = 1; i < ts.length; i++) {
      acc = run('add.Tensor', [acc, idOf(ts[i])]);
      dt = upcast(dt, ts[i].dtype);
    }
    return out(ts.length === 1 ? run('clone', [acc]) : acc, dt);
  },
} satisfies Record<string, NativeKernel>);

// ---------------------------------------------------------------- reductions

function axesOf(axis: unknown, shape: number[]): number[] {
  return tf.util.parseAxisParam(axis as number | number[], shape);
}

function keptShape(shape: number[], axes: number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

/**
 * Reduces several axes with an ATen op that takes one dim: the axes are moved last and flattened.
 * `op(id, dim)` must return the reduced tensor without the dim.
 */
function reduceFlat(
  x: tf.TensorInfo,
  axes: number[],
  keepDims: boolean,
  op: (id: number, dim: number) => number,
): number {
  const xi = idOf(x);
  let r: number;
  if (axes.length === 1) {
    r = op(xi, axes[0]);
  } else {
    const rest = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
    const perm = [...rest, ...axes];
    const flat = run('reshape', [run('permute', [xi, perm]), [...rest.map((i) => x.shape[i]), -1]]);
    r = op(flat, rest.length);
  }
  return keepDims ? run('reshape', [r, keptShape(x.shape, axes)]) : r;
}

type Reducer = (x: tf.TensorInfo, axes: number[], keepDims: boolean) => tf.TensorInfo;

function reduction(f: Reducer, emptyDtype: (d: tf.DataType) => tf.DataType): NativeKernel {
  return ({ x }, { axis, reductionIndices, keepDims }) => {
    // Max names its axes `reductionIndices`; the other reductions `axis`.
    const axes = axesOf(axis ?? reductionIndices, x.shape);
    if (axes.length === 0) return out(run('clone', [idOf(x)]), emptyDtype(x.dtype));
    return f(x, axes, Boolean(keepDims));
  };
}

const intUp = (d: tf.DataType): tf.DataType => upcast(d, 'int32');

Object.assign(mathKernels, {
  Sum: reduction((x, axes, k) => out(run('sum.dim_IntList', [idOf(x), axes, k]), intUp(x.dtype)), intUp),
  Mean: reduction(
    (x, axes, k) => {
      const xi = x.dtype === 'float32' ? idOf(x) : run('to.dtype', [idOf(x), 'float32', false, false]);
      return out(run('mean.dim', [xi, axes, k]), 'float32');
    },
    () => 'float32',
  ),
  Max: reduction(
    (x, axes, k) => out(run('amax', [idOf(x), axes, k]), x.dtype),
    (d) => d,
  ),
  Min: reduction(
    (x, axes, k) => out(run('amin', [idOf(x), axes, k]), x.dtype),
    (d) => d,
  ),
  Prod: reduction(
    (x, axes, k) =>
      out(
        reduceFlat(x, axes, k, (id, dim) => run('prod.dim_int', [id, dim, false])),
        intUp(x.dtype),
      ),
    intUp,
  ),
  All: reduction(
    (x, axes, k) =>
      out(
        reduceFlat(x, axes, k, (id, dim) => run('all.dim', [id, dim, false])),
        'bool',
      ),
    () => 'bool',
  ),
  Any: reduction(
    (x, axes, k) =>
      out(
        reduceFlat(x, axes, k, (id, dim) => run('any.dim', [id, dim, false])),
        'bool',
      ),
    () => 'bool',
  ),
  ArgMax: ({ x }, { axis }) =>
    out(run('argmax', [dropNaN(x, -Infinity), axesOf(axis, x.shape)[0], false]), 'int32'),
  ArgMin: ({ x }, { axis }) =>
    out(run('argmin', [dropNaN(x, Infinity), axesOf(axis, x.shape)[0], false]), 'int32'),
  Softmax: ({ logits }, { dim }) => out(run('softmax.int', [idOf(logits), dim as number]), logits.dtype),
  Cumsum: ({ x }, attrs) => out(cumulative(x, attrs, 'cumsum', 0), intUp(x.dtype)),
  Cumprod: ({ x }, attrs) => out(cumulative(x, attrs, 'cumprod', 1), intUp(x.dtype)),
} satisfies Record<string, NativeKernel>);

/** tfjs arg-reductions skip NaN; ATen's return it, so NaN is replaced by a value that never wins. */
function dropNaN(x: tf.TensorInfo, fill: number): number {
  const xi = idOf(x);
  if (x.dtype !== 'float32') return xi;
  return run('nan_to_num', [xi, fill, fill, -fill]);
}

function cumulative(x: tf.TensorInfo, attrs: Attrs, key: string, identity: number): number {
  const axis = axesOf(attrs.axis, x.shape)[0];
  const rank = x.shape.length;
  let xi = idOf(x);
  if (attrs.reverse) xi = run('flip', [xi, [axis]]);
  let c = run(key, [xi, axis, intUp(x.dtype)]);
  if (attrs.exclusive) {
    // Shift by one along the axis, filling with the identity.
    const n = x.shape[axis];
    c = run('slice.Tensor', [c, axis, 0, Math.max(n - 1, 0), 1]);
    const pad = new Array<number>(2 * (rank - axis)).fill(0);
    pad[2 * (rank - 1 - axis)] = 1;
    c = run('constant_pad_nd', [c, pad, identity]);
  }
  if (attrs.reverse) c = run('flip', [c, [axis]]);
  return c;
}

/** The scalar/shape helpers other kernel files share. */
export { scalar, shapeOf, runN };
