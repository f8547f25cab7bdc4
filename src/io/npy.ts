/**
 * NumPy `.npy` files (format versions 1–3): float32/float64, signed and unsigned integers, bool.
 * Little-endian or big-endian; C or Fortran order (Fortran arrays are reordered to row-major).
 */
import fs from 'node:fs';
import { InputError } from './errors.js';
import { writeFileAtomic } from './atomic.js';

/** The typed arrays a .npy file is read into or written from. */
export type NpyData =
  Float32Array | Float64Array | Int8Array | Int16Array | Int32Array | Uint8Array | Uint16Array | Uint32Array;

/** A .npy file's contents: row-major values, shape and dtype. */
export interface NpyArray {
  data: NpyData;
  shape: number[];
  /** NumPy dtype string without byte order, e.g. 'f4', 'i8'. int64/uint64 are read into Float64Array. */
  dtype: string;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

type Reader = (view: DataView, offset: number, little: boolean) => number;
const KINDS: Record<string, { size: number; make: (n: number) => NpyData; read: Reader }> = {
  f4: { size: 4, make: (n) => new Float32Array(n), read: (v, o, l) => v.getFloat32(o, l) },
  f8: { size: 8, make: (n) => new Float64Array(n), read: (v, o, l) => v.getFloat64(o, l) },
  i1: { size: 1, make: (n) => new Int8Array(n), read: (v, o) => v.getInt8(o) },
  u1: { size: 1, make: (n) => new Uint8Array(n), read: (v, o) => v.getUint8(o) },
  b1: { size: 1, make: (n) => new Uint8Array(n), read: (v, o) => v.getUint8(o) },
  i2: { size: 2, make: (n) => new Int16Array(n), read: (v, o, l) => v.getInt16(o, l) },
  u2: { size: 2, make: (n) => new Uint16Array(n), read: (v, o, l) => v.getUint16(o, l) },
  i4: { size: 4, make: (n) => new Int32Array(n), read: (v, o, l) => v.getInt32(o, l) },
  u4: { size: 4, make: (n) => new Uint32Array(n), read: (v, o, l) => v.getUint32(o, l) },
  i8: { size: 8, make: (n) => new Float64Array(n), read: (v, o, l) => Number(v.getBigInt64(o, l)) },
  u8: { size: 8, make: (n) => new Float64Array(n), read: (v, o, l) => Number(v.getBigUint64(o, l)) },
};

function parseHeader(header: string, file: string): { descr: string; fortran: boolean; shape: number[] } {
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shape === undefined) {
    throw new InputError('malformed .npy header', file, undefined, 'header');
  }
  const dims = shape
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);
  if (dims.some((d) => !Number.isInteger(d) || d < 0))
    throw new InputError(`bad shape (${shape})`, file, undefined, 'shape');
  return { descr, fortran: fortran === 'True', shape: dims };
}

/** Row-major index order for a Fortran-ordered buffer. */
function fortranToC(src: NpyData, shape: number[], make: (n: number) => NpyData): NpyData {
  const out = make(src.length);
  const n = shape.length;
  const idx = new Array<number>(n).fill(0);
  for (let c = 0; c < src.length; c++) {
    let f = 0;
    for (let d = n - 1; d >= 0; d--) f = f * shape[d] + idx[d];
    out[c] = src[f];
    for (let d = n - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

/**
 * Parses the bytes of a .npy file (see the file header for what is supported); `file` names it in errors.
 *
 * @example
 * const a = parseNpy(encodeNpy(Float32Array.from([1, 2, 3, 4]), [2, 2]));
 * // → { data: Float32Array [1, 2, 3, 4], shape: [2, 2], dtype: 'f4' }
 */
export function parseNpy(buf: Uint8Array, file = '<npy>'): NpyArray {
  if (buf.length < 10 || MAGIC.some((b, i) => buf[i] !== b))
    throw new InputError('not a .npy file (bad magic)', file);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const major = buf[6];
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(buf.subarray(start, start + headerLen));
  const { descr, fortran, shape } = parseHeader(header, file);
  const order = descr[0];
  const kind = KINDS[descr.slice(1)];
  if (!kind || !'<>|='.includes(order))
    throw new InputError(`unsupported dtype '${descr}'`, file, undefined, 'descr');
  const little = order !== '>';
  const n = shape.reduce((a, b) => a * b, 1);
  const offset = start + headerLen;
  if (buf.length < offset + n * kind.size) {
    throw new InputError(`truncated: shape (${shape.join(', ')}) needs ${n * kind.size} bytes of data`, file);
  }
  let data = kind.make(n);
  for (let i = 0; i < n; i++) data[i] = kind.read(view, offset + i * kind.size, little);
  if (fortran && shape.length > 1) data = fortranToC(data, shape, kind.make);
  return { data, shape, dtype: descr.slice(1) };
}

/**
 * Reads a .npy file (see `parseNpy`).
 *
 * @example
 * const { data, shape } = readNpy('probs.npy');
 * const t = tf.tensor(Float32Array.from(data), shape);
 */
export function readNpy(file: string): NpyArray {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new InputError(`cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, file);
  }
  return parseNpy(buf, file);
}

const DESCR: [new (...a: never[]) => NpyData, string][] = [
  [Float32Array, '<f4'],
  [Float64Array, '<f8'],
  [Int8Array, '|i1'],
  [Uint8Array, '|u1'],
  [Int16Array, '<i2'],
  [Uint16Array, '<u2'],
  [Int32Array, '<i4'],
  [Uint32Array, '<u4'],
];

/**
 * Encodes a typed array as a version-1 .npy file (little-endian, C order); `shape` must match the number
 * of values.
 *
 * @example
 * const bytes = encodeNpy(Float64Array.from([0.1, 0.9]), [1, 2]); // Uint8Array: 128-byte header + data
 */
export function encodeNpy(data: NpyData, shape: number[]): Uint8Array {
  const descr = DESCR.find(([ctor]) => data instanceof ctor)?.[1];
  if (!descr) throw new Error('unsupported array type for .npy');
  if (shape.reduce((a, b) => a * b, 1) !== data.length)
    throw new Error(`shape (${shape}) does not match ${data.length} values`);
  const shapeStr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  // Pad so the data starts on a 64-byte boundary, as NumPy does; the header ends with '\n'.
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}

/**
 * Writes a typed array to a .npy file that NumPy reads (`np.load`); the file is replaced atomically.
 *
 * @example
 * const r = can(probs, prior);
 * writeNpy('adjusted.npy', await r.probs.data(), r.probs.shape); // float32 [rows, classes]
 */
export function writeNpy(file: string, data: NpyData, shape: number[]): void {
  writeFileAtomic(file, encodeNpy(data, shape));
}
