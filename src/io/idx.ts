/** IDX files (MNIST, Fashion-MNIST), optionally gzip-compressed. */
import fs from 'node:fs';
import zlib from 'node:zlib';
import { InputError } from './errors.js';

/** An IDX file's contents: the values, row-major, and the shape from its header. */
export interface IdxArray {
  data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
  shape: number[];
}

const TYPES: Record<
  number,
  { size: number; make: (n: number) => IdxArray['data']; read: (v: DataView, o: number) => number }
> = {
  0x08: { size: 1, make: (n) => new Uint8Array(n), read: (v, o) => v.getUint8(o) },
  0x09: { size: 1, make: (n) => new Int8Array(n), read: (v, o) => v.getInt8(o) },
  0x0b: { size: 2, make: (n) => new Int16Array(n), read: (v, o) => v.getInt16(o) },
  0x0c: { size: 4, make: (n) => new Int32Array(n), read: (v, o) => v.getInt32(o) },
  0x0d: { size: 4, make: (n) => new Float32Array(n), read: (v, o) => v.getFloat32(o) },
  0x0e: { size: 8, make: (n) => new Float64Array(n), read: (v, o) => v.getFloat64(o) },
};

/**
 * Parses the bytes of an (uncompressed) IDX file; `file` names it in errors. Unsigned bytes, the MNIST
 * type, come back as a Uint8Array; other types as the matching typed array.
 *
 * @example
 * const bytes = new Uint8Array([0, 0, 0x08, 1, 0, 0, 0, 3, 7, 2, 1]); // ubyte, rank 1, shape (3)
 * parseIdx(bytes); // { data: Uint8Array [7, 2, 1], shape: [3] }
 */
export function parseIdx(buf: Uint8Array, file = '<idx>'): IdxArray {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf.length < 4 || buf[0] !== 0 || buf[1] !== 0)
    throw new InputError('not an IDX file (bad magic)', file);
  const type = TYPES[buf[2]];
  const rank = buf[3];
  if (!type) throw new InputError(`unsupported IDX data type 0x${buf[2].toString(16)}`, file);
  if (buf.length < 4 + 4 * rank) throw new InputError('truncated header', file);
  const shape = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  const n = shape.reduce((a, b) => a * b, 1);
  const offset = 4 + 4 * rank;
  if (buf.length < offset + n * type.size)
    throw new InputError(`truncated: shape (${shape.join(', ')})`, file);
  if (type.size === 1 && buf[2] === 0x08) return { data: buf.slice(offset, offset + n), shape };
  const data = type.make(n);
  for (let i = 0; i < n; i++) data[i] = type.read(view, offset + i * type.size);
  return { data, shape };
}

/**
 * Reads `file` (gunzipped when it ends in .gz).
 *
 * @example
 * const { data, shape } = readIdx('mnist/t10k-labels-idx1-ubyte.gz'); // shape [10000]
 */
export function readIdx(file: string): IdxArray {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
    if (file.endsWith('.gz')) buf = zlib.gunzipSync(buf);
  } catch (e) {
    throw new InputError(`cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, file);
  }
  return parseIdx(buf, file);
}

/** A set of grey-scale images and their labels, as `readImageSet` returns it. */
export interface ImageSet {
  /** Pixels scaled to [0, 1], row-major [n, rows, cols]. */
  images: Float32Array;
  labels: Uint8Array;
  n: number;
  height: number;
  width: number;
}

/**
 * The standard MNIST-layout pair of files in `dir` for split 'train' or 't10k'
 * (`<split>-images-idx3-ubyte.gz`, `<split>-labels-idx1-ubyte.gz`), the first `limit` images only.
 *
 * @example
 * const { images, labels, n, height, width } = readImageSet('mnist/', 'train', 10000);
 * const xs = tf.tensor2d(images, [n, height * width]); // [10000, 784], values in [0, 1]
 */
export function readImageSet(dir: string, split: 'train' | 't10k', limit = Infinity): ImageSet {
  const img = readIdx(`${dir}/${split}-images-idx3-ubyte.gz`);
  const lab = readIdx(`${dir}/${split}-labels-idx1-ubyte.gz`);
  const [count, height, width] = img.shape;
  if (img.shape.length !== 3 || lab.shape.length !== 1 || lab.shape[0] !== count) {
    throw new InputError(`images (${img.shape}) and labels (${lab.shape}) do not match`, dir);
  }
  const n = Math.min(count, limit);
  const images = new Float32Array(n * height * width);
  for (let i = 0; i < images.length; i++) images[i] = img.data[i] / 255;
  return { images, labels: Uint8Array.from(lab.data.subarray(0, n)), n, height, width };
}
