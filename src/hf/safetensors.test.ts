import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeSafetensors, parseSafetensors } from './safetensors.js';

/** A safetensors file from a header object and raw data bytes, as another writer would produce it. */
function file(header: Record<string, unknown>, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

test('safetensors: write → read keeps names, shapes, values (incl. -0, NaN bits) and metadata', () => {
  const a = Float32Array.from([1, -0, 3.5, 1e-40, -7, Math.PI]);
  const bytes = encodeSafetensors(
    [
      { name: 'a', shape: [2, 3], data: a },
      { name: 'b', shape: [1], data: Float32Array.from([2]) },
    ],
    { format: 'pt' },
  );
  const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(headerLen % 8, 0, 'header padded to 8 bytes');
  const { tensors, metadata } = parseSafetensors(bytes);
  assert.deepEqual(metadata, { format: 'pt' });
  assert.deepEqual(tensors.get('a')!.shape, [2, 3]);
  assert.ok(tensors.get('a')!.data!.every((x, i) => Object.is(x, a[i])));
  assert.deepEqual(Array.from(tensors.get('b')!.data!), [2]);
});

test('safetensors: F16, BF16 and F64 become float32; integer tensors keep shape without values', () => {
  const data = new Uint8Array(2 * 4 + 2 * 2 + 8 + 8);
  const v = new DataView(data.buffer);
  // F16: 1.0 = 0x3c00, -2.5 = 0xc100, 2^-24 (smallest subnormal) = 0x0001, inf = 0x7c00
  [0x3c00, 0xc100, 0x0001, 0x7c00].forEach((h, i) => v.setUint16(2 * i, h, true));
  // BF16: 1.0 = 0x3f80, -0.15625 = 0xbe20
  [0x3f80, 0xbe20].forEach((h, i) => v.setUint16(8 + 2 * i, h, true));
  v.setFloat64(12, 0.1, true);
  v.setBigInt64(20, 5n, true);
  const f = file(
    {
      h: { dtype: 'F16', shape: [4], data_offsets: [0, 8] },
      b: { dtype: 'BF16', shape: [2], data_offsets: [8, 12] },
      d: { dtype: 'F64', shape: [1], data_offsets: [12, 20] },
      i: { dtype: 'I64', shape: [1, 1], data_offsets: [20, 28] },
    },
    data,
  );
  const { tensors } = parseSafetensors(f);
  assert.deepEqual(Array.from(tensors.get('h')!.data!), [1, -2.5, 2 ** -24, Infinity]);
  assert.deepEqual(Array.from(tensors.get('b')!.data!), [1, -0.15625]);
  assert.equal(tensors.get('d')!.data![0], Math.fround(0.1));
  assert.deepEqual(tensors.get('i'), { shape: [1, 1], dtype: 'I64' });
});

test('safetensors: malformed files are rejected with the reason', () => {
  const four = new Uint8Array(16);
  const cases: [Uint8Array, RegExp][] = [
    [new Uint8Array(4), /shorter than its 8-byte header length/],
    [file({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, new Uint8Array(4)), /do not fit/],
    [
      file({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(12)),
      /do not fit its 3 F32 values/,
    ],
    [file({ a: { dtype: 'C64', shape: [1], data_offsets: [0, 8] } }, four), /unsupported dtype C64/],
    [file({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, four), /bad shape/],
    [
      file(
        {
          a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
          b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
        },
        four,
      ),
      /tensors a and b overlap/,
    ],
  ];
  for (const [bytes, re] of cases) assert.throws(() => parseSafetensors(bytes, 'm.safetensors'), re);
  const huge = new Uint8Array(8);
  new DataView(huge.buffer).setBigUint64(0, 1000n, true);
  assert.throws(() => parseSafetensors(huge), /header length 1000 exceeds the file/);
  const notJson = file({}, new Uint8Array(0));
  notJson[8] = 0x7b + 1;
  assert.throws(() => parseSafetensors(notJson), /header is not UTF-8 JSON/);
  assert.throws(
    () => encodeSafetensors([{ name: 'x', shape: [3], data: new Float32Array(2) }]),
    /does not match 2 values/,
  );
});
