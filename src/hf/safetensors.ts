/**
 * The safetensors format (Hugging Face's weight files), read and written without dependencies:
 *   8 bytes   little-endian u64 N, the header's length
 *   N bytes   UTF-8 JSON { name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: {..} }
 *   rest      the tensors' raw little-endian bytes; offsets are relative to the end of the header
 * Browser-safe: works on ArrayBuffers only.
 */

/** A tensor read from or written to a safetensors file; values as float32 (other float types are converted). */
export interface SafeTensor {
  shape: number[];
  /** The stored dtype (F32, F16, BF16, F64, I64, I32, ...). */
  dtype: string;
  /** Values as float32; absent for integer tensors (e.g. BERT's `position_ids` buffer), which kexue never needs. */
  data?: Float32Array;
}

const FLOAT_BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8 };
const INT_BYTES: Record<string, number> = { I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

function fail(source: string, problem: string): never {
  throw new Error(`${source}: not a valid safetensors file (${problem})`);
}

/** IEEE half → float. */
function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

const bits = new Uint32Array(1);
const asFloat = new Float32Array(bits.buffer);

function decodeFloats(bytes: Uint8Array, dtype: string, count: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    if (dtype === 'F32') out[i] = view.getFloat32(4 * i, true);
    else if (dtype === 'F64') out[i] = view.getFloat64(8 * i, true);
    else if (dtype === 'F16') out[i] = halfToFloat(view.getUint16(2 * i, true));
    else {
      // bfloat16 is the top half of a float32.
      bits[0] = view.getUint16(2 * i, true) << 16;
      out[i] = asFloat[0];
    }
  }
  return out;
}

/**
 * Parses a safetensors file. Float tensors (F32, F16, BF16, F64) are returned as float32; integer
 * tensors keep their shape and dtype but no values. Checks that the header is well formed and that the
 * offsets lie inside the data, match each tensor's size, and do not overlap. `source` names the file in errors.
 *
 * @example
 * const bytes = encodeSafetensors([{ name: 'w', shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) }]);
 * const { tensors } = parseSafetensors(bytes);
 * tensors.get('w'); // → { shape: [2, 2], dtype: 'F32', data: Float32Array [1, 2, 3, 4] }
 */
export function parseSafetensors(
  file: ArrayBuffer | Uint8Array,
  source = 'model.safetensors',
): { tensors: Map<string, SafeTensor>; metadata: Record<string, string> } {
  const bytes = file instanceof Uint8Array ? file : new Uint8Array(file);
  if (bytes.byteLength < 8) fail(source, 'shorter than its 8-byte header length');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen > bytes.byteLength - 8) fail(source, `header length ${headerLen} exceeds the file`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen)));
  } catch (e) {
    fail(source, `header is not UTF-8 JSON: ${(e as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    fail(source, 'header is not an object');
  const data = bytes.subarray(8 + headerLen);
  const tensors = new Map<string, SafeTensor>();
  const spans: [number, number, string][] = [];
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = String(e?.dtype);
    const width = FLOAT_BYTES[dtype] ?? INT_BYTES[dtype];
    if (width === undefined) fail(source, `tensor ${name} has unsupported dtype ${dtype}`);
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0))
      fail(source, `tensor ${name} has a bad shape`);
    const offsets = e.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isInteger(o)))
      fail(source, `tensor ${name} has bad data_offsets`);
    const [begin, end] = offsets as [number, number];
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (begin < 0 || end > data.byteLength || end - begin !== count * width)
      fail(source, `tensor ${name}: data_offsets [${begin}, ${end}] do not fit its ${count} ${dtype} values`);
    spans.push([begin, end, name]);
    const t: SafeTensor = { shape: shape as number[], dtype };
    if (dtype in FLOAT_BYTES) t.data = decodeFloats(data.subarray(begin, end), dtype, count);
    tensors.set(name, t);
  }
  spans.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i][0] < spans[i - 1][1]) fail(source, `tensors ${spans[i - 1][2]} and ${spans[i][2]} overlap`);
  }
  return { tensors, metadata };
}

/**
 * Writes float32 tensors as a safetensors file, in the given order, the header padded with spaces to a
 * multiple of 8 bytes (as the reference writer does, so the data is aligned).
 *
 * @example
 * const w = tf.randomNormal([4, 3]);
 * const data = w.dataSync() as Float32Array;
 * const bytes = encodeSafetensors([{ name: 'dense.weight', shape: w.shape, data }]);
 * // a Uint8Array; Python's safetensors reads it as {'dense.weight': a [4, 3] float32 tensor}
 */
export function encodeSafetensors(
  tensors: readonly { name: string; shape: readonly number[]; data: Float32Array }[],
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length)
      throw new Error(
        `tensor ${t.name}: shape [${t.shape.join(', ')}] does not match ${t.data.length} values`,
      );
    header[t.name] = { dtype: 'F32', shape: [...t.shape], data_offsets: [offset, offset + 4 * count] };
    offset += 4 * count;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const t of tensors) {
    for (let i = 0; i < t.data.length; i++) view.setFloat32(at + 4 * i, t.data[i], true);
    at += 4 * t.data.length;
  }
  return out;
}
