/**
 * The three kinds of matrix a kexue function accepts — a `tf.Tensor`, nested `number[][]` and kexue's
 * row-major `{ data, rows, cols }` — read into one row-major form, and results turned back into the
 * kind the caller gave. Reading a tensor is a GPU read-back: the sync readers use `dataSync`, the
 * async ones `await data()` (use those on webgl/webgpu so the page does not block).
 */
import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../io/errors.js';
import type { ProbMatrix } from '../can/matrix.js';

/** Any of the matrix kinds kexue accepts. */
export type MatrixInput = tf.Tensor | number[][] | ProbMatrix;
/** Any of the vector kinds kexue accepts (labels, priors, scores). */
export type VectorInput = tf.Tensor | ArrayLike<number>;
/** Which of the three matrix kinds an input was. */
export type InputKind = 'tensor' | 'array' | 'matrix';
export type ProbMatrixKind = InputKind;

/** Which kind `x` is; anything else is an error naming `name`. */
export function matrixKind(x: unknown, name: string): InputKind {
  if (x instanceof tf.Tensor) {
    if (x.rank !== 2) throw new InputError(`must be a 2-D tensor, got shape [${x.shape}]`, name);
    return 'tensor';
  }
  if (Array.isArray(x)) return 'array';
  if (x !== null && typeof x === 'object' && 'data' in x && 'rows' in x && 'cols' in x) return 'matrix';
  throw new InputError(
    'must be a 2-D tf.Tensor, a number[][] or a { data, rows, cols } matrix, got ' + describe(x),
    name,
  );
}

function describe(x: unknown): string {
  if (x === null || x === undefined) return String(x);
  if (typeof x === 'object') return x.constructor?.name ?? 'object';
  return typeof x;
}

function fromArray(x: number[][], name: string): ProbMatrix {
  const rows = x.length;
  if (rows > 0 && !Array.isArray(x[0]))
    throw new InputError('must be an array of rows (number[][]), got a flat array', name);
  const cols = rows > 0 ? x[0].length : 0;
  const data = new Float64Array(rows * cols);
  x.forEach((row, i) => {
    if (!Array.isArray(row) || row.length !== cols)
      throw new InputError(
        `row ${i + 1} has ${Array.isArray(row) ? row.length : 'no'} values, row 1 has ${cols}`,
        name,
      );
    for (let j = 0; j < cols; j++) {
      if (typeof row[j] !== 'number')
        throw new InputError(`row ${i + 1}, column ${j}: not a number (${describe(row[j])})`, name);
      data[i * cols + j] = row[j];
    }
  });
  return { data, rows, cols };
}

function fromMatrix(x: ProbMatrix, name: string): ProbMatrix {
  if (!(x.data instanceof Float64Array || x.data instanceof Float32Array))
    throw new InputError('data must be a Float64Array or Float32Array', name);
  if (!Number.isInteger(x.rows) || !Number.isInteger(x.cols) || x.rows < 0 || x.cols < 0)
    throw new InputError(`invalid shape [${x.rows}, ${x.cols}]`, name);
  if (x.data.length !== x.rows * x.cols)
    throw new InputError(
      `has ${x.data.length} values, shape [${x.rows}, ${x.cols}] needs ${x.rows * x.cols}`,
      name,
    );
  return x;
}

/** `x` as a row-major matrix plus its kind (a tensor is read back synchronously). */
export function toMatrix(x: MatrixInput, name: string): { m: ProbMatrix; kind: InputKind } {
  const kind = matrixKind(x, name);
  if (kind === 'tensor') {
    const t = x as tf.Tensor2D;
    return { m: { data: Float32Array.from(t.dataSync()), rows: t.shape[0], cols: t.shape[1] }, kind };
  }
  return { m: kind === 'array' ? fromArray(x as number[][], name) : fromMatrix(x as ProbMatrix, name), kind };
}

/** As `toMatrix`, reading a tensor with `await data()` (no blocking GPU read-back). */
export async function toMatrixAsync(
  x: MatrixInput,
  name: string,
): Promise<{ m: ProbMatrix; kind: InputKind }> {
  const kind = matrixKind(x, name);
  if (kind !== 'tensor') return toMatrix(x, name);
  const t = x as tf.Tensor2D;
  return { m: { data: Float32Array.from(await t.data()), rows: t.shape[0], cols: t.shape[1] }, kind };
}

/** A matrix result in the caller's kind: a float32 tensor, number[][], or the matrix itself. */
export function fromMatrixAs(m: ProbMatrix, kind: 'tensor'): tf.Tensor2D;
export function fromMatrixAs(m: ProbMatrix, kind: 'array'): number[][];
export function fromMatrixAs(m: ProbMatrix, kind: 'matrix'): ProbMatrix;
export function fromMatrixAs(m: ProbMatrix, kind: InputKind): tf.Tensor2D | number[][] | ProbMatrix;
export function fromMatrixAs(m: ProbMatrix, kind: InputKind): tf.Tensor2D | number[][] | ProbMatrix {
  if (kind === 'tensor') return tf.tensor2d(Float32Array.from(m.data), [m.rows, m.cols], 'float32');
  if (kind === 'array')
    return Array.from({ length: m.rows }, (_, i) =>
      Array.from(m.data.subarray(i * m.cols, (i + 1) * m.cols)),
    );
  return m;
}

/** A vector (labels, prior, scores) as plain numbers; a tensor must be 1-D. */
export function toVector(x: VectorInput, name: string): ArrayLike<number> {
  if (x instanceof tf.Tensor) {
    if (x.rank !== 1) throw new InputError(`must be a 1-D tensor, got shape [${x.shape}]`, name);
    return x.dataSync() as ArrayLike<number>;
  }
  if (
    x === null ||
    x === undefined ||
    typeof (x as ArrayLike<number>).length !== 'number' ||
    typeof x === 'string'
  )
    throw new InputError(`must be a 1-D tf.Tensor, number[] or typed array, got ${describe(x)}`, name);
  return x;
}

/** As `toVector`, reading a tensor with `await data()`. */
export async function toVectorAsync(x: VectorInput, name: string): Promise<ArrayLike<number>> {
  if (x instanceof tf.Tensor) {
    if (x.rank !== 1) throw new InputError(`must be a 1-D tensor, got shape [${x.shape}]`, name);
    return (await x.data()) as ArrayLike<number>;
  }
  return toVector(x, name);
}
