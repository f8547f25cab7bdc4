import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { encodeNpy, parseNpy, readNpy, writeNpy } from './npy.js';
import { readLabels, readMatrix, readVector } from './table.js';
import { readSentencePairs } from './sts.js';
import { parseIdx } from './idx.js';
import { InputError } from './errors.js';
import { findFolder, writeFolderAtomic } from './atomic.js';
import { referencePython } from '../util/python.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kexue-io-'));
const file = (name: string, text: string) => {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
};

test('npy round trip for every written dtype, 1-D and 2-D', () => {
  const arrays = [
    new Float32Array([1.5, -2, 3]),
    new Float64Array([1e-300, 2, 3, 4]),
    new Int32Array([-7, 8]),
    new Uint8Array([0, 255]),
  ];
  for (const a of arrays) {
    const shape = a.length === 4 ? [2, 2] : [a.length];
    const back = parseNpy(encodeNpy(a, shape));
    assert.deepEqual(back.shape, shape);
    assert.deepEqual(Array.from(back.data), Array.from(a));
    assert.equal(back.data.constructor, a.constructor);
  }
  const f = path.join(dir, 'm.npy');
  writeNpy(f, new Float64Array([1, 2, 3, 4, 5, 6]), [2, 3]);
  assert.deepEqual(readMatrix(f), { data: new Float64Array([1, 2, 3, 4, 5, 6]), rows: 2, cols: 3 });
});

test('npy files written by NumPy read correctly (Fortran order, int64, big-endian)', (t) => {
  const py = `
import numpy as np, sys
d = sys.argv[1]
np.save(d + '/f.npy', np.asfortranarray(np.arange(6, dtype='<f8').reshape(2, 3)))
np.save(d + '/i.npy', np.array([3, -1, 2**40], dtype='<i8'))
np.save(d + '/b.npy', np.array([[1.5, 2.5]], dtype='>f4'))
np.save(d + '/e.npy', np.zeros((0, 4), dtype='<f4'))`;
  try {
    execFileSync(referencePython(), ['-c', py, dir], { stdio: 'pipe' });
  } catch {
    t.skip('python3 with numpy is not installed');
    return;
  }
  assert.deepEqual(Array.from(readNpy(path.join(dir, 'f.npy')).data), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(Array.from(readNpy(path.join(dir, 'i.npy')).data), [3, -1, 2 ** 40]);
  assert.deepEqual(Array.from(readNpy(path.join(dir, 'b.npy')).data), [1.5, 2.5]);
  assert.deepEqual(readNpy(path.join(dir, 'e.npy')).shape, [0, 4]);
});

test('matrices from csv (with header) and jsonl (arrays or objects)', () => {
  assert.deepEqual(
    readMatrix(file('a.csv', 'p0,p1\n0.2,0.8\n0.6,0.4\n')).data,
    new Float64Array([0.2, 0.8, 0.6, 0.4]),
  );
  const j = readMatrix(file('a.jsonl', '[0.1,0.9]\n\n{"probs":[0.5,0.5]}\n'));
  assert.equal(j.rows, 2);
  assert.deepEqual(Array.from(j.data), [0.1, 0.9, 0.5, 0.5]);
});

test('malformed input names the file, line and field', () => {
  const f1 = file('bad.csv', '0.2,0.8\n0.6,x\n');
  assert.throws(
    () => readMatrix(f1),
    (e: Error) =>
      e instanceof InputError && e.message === `${f1}, line 2, field column 2: "x" is not a finite number`,
  );
  const f2 = file('ragged.jsonl', '[0.1,0.9]\n[1]\n');
  assert.throws(() => readMatrix(f2), /line 2: has 1 values, the first row has 2/);
  const f3 = file('badjson.jsonl', '[0.1,0.9]\n{oops\n');
  assert.throws(() => readMatrix(f3), /line 2: invalid JSON/);
  assert.throws(
    () => readLabels(file('l.txt', '1\n2\n-3\n')),
    /line 3, field label: -3 is not a class index/,
  );
  assert.throws(() => readMatrix(path.join(dir, 'missing.npy')), /missing.npy: cannot read: ENOENT/);
  assert.throws(() => parseNpy(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])), /bad magic/);
});

test('csv: only a first row of text in every cell is a header; nan, empty cells and non-UTF-8 are errors', () => {
  // The first row is data, not a header: its 'nan' is an error naming the cell, never a dropped row.
  assert.throws(
    () => readMatrix(file('h.csv', 'nan,0.3,0.5\n0.2,0.3,0.5\n')),
    /h\.csv, line 1, field column 1: "nan" is not a finite number/,
  );
  assert.throws(
    () => readMatrix(file('e.csv', '0.2,,0.5\n0.2,0.3,0.5\n')),
    /line 1, field column 2: is empty/,
  );
  assert.throws(() => readMatrix(file('i.csv', '0.2,inf\n')), /"inf" is not a finite number/);
  assert.throws(() => readMatrix(file('m.csv', 'p0,0.5\n0.5,0.5\n')), /line 1, field column 1: "p0"/);
  const gbk = path.join(dir, 'gbk.csv');
  fs.writeFileSync(
    gbk,
    Buffer.concat([Buffer.from('0.5,0.5\n'), Buffer.from([0xc4, 0xe3, 0x2c, 0x31, 0x0a])]),
  );
  assert.throws(() => readMatrix(gbk), /gbk\.csv, line 2: is not UTF-8 text/);
  // A BOM is accepted; echoed content is quoted, escaped and cut short.
  assert.equal(readMatrix(file('bom.csv', '\uFEFFa,b\n1,2\n')).rows, 1);
  assert.throws(
    () => readLabels(file('esc.txt', `1\n\u001b[31m${'x'.repeat(100)}\n`)),
    (e: Error) =>
      /line 2, field label: "\\u001b\[31mx+…" is not a class index/.test(e.message) &&
      !e.message.includes('x'.repeat(50)),
  );
});

test('labels and vectors in their formats', () => {
  assert.deepEqual(Array.from(readLabels(file('l.jsonl', '{"label": 2}\n1\n'))), [2, 1]);
  assert.deepEqual(Array.from(readVector(file('v.json', '[0.5, 0.25, 0.25]'))), [0.5, 0.25, 0.25]);
  assert.deepEqual(Array.from(readVector(file('v.txt', '0.5, 0.25\n0.25\n'))), [0.5, 0.25, 0.25]);
});

test('sentence pairs: plain TSV, the ATEC layout with BOM, and the English STS-B header', () => {
  assert.deepEqual(readSentencePairs(file('p.tsv', 'a\tb\t1\nc\td\t0\n')), [
    { s1: 'a', s2: 'b', label: 1 },
    { s1: 'c', s2: 'd', label: 0 },
  ]);
  assert.deepEqual(readSentencePairs(file('atec.csv', '\uFEFF1\tx\ty\t1\n')), [
    { s1: 'x', s2: 'y', label: 1 },
  ]);
  const en = file(
    'en.tsv',
    'genre\tdataset\tyear\tsid\tscore\tsentence1\tsentence2\ng\td\t2012\t1\t4.5\tA b.\tC d.\n',
  );
  assert.deepEqual(readSentencePairs(en), [{ s1: 'A b.', s2: 'C d.', label: 4.5 }]);
  assert.throws(
    () => readSentencePairs(file('bad.tsv', 'a\tb\t1\nc\td\n')),
    /line 2: expected 3 tab-separated fields/,
  );
  assert.throws(
    () => readSentencePairs(file('badl.tsv', 'a\tb\tx\n')),
    /line 1, field label: 'x' is not a number/,
  );
});

test('IDX parsing of a hand-made file', () => {
  const buf = new Uint8Array([0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6]);
  const a = parseIdx(buf);
  assert.deepEqual(a.shape, [2, 3]);
  assert.deepEqual(Array.from(a.data), [1, 2, 3, 4, 5, 6]);
  assert.throws(() => parseIdx(buf.subarray(0, 14)), /truncated/);
});

test('writeFolderAtomic / findFolder: a trailing slash names the same folder', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kexue-atomic-'));
  const dir = path.join(root, 'out') + '/';
  for (const version of ['1', '2']) {
    await writeFolderAtomic(dir, async (tmp) => {
      fs.mkdirSync(tmp, { recursive: true });
      fs.writeFileSync(path.join(tmp, 'state.json'), version);
    });
  }
  assert.deepEqual(fs.readdirSync(root), ['out'], 'no .partial or .old left, nothing inside out/');
  assert.deepEqual(fs.readdirSync(path.join(root, 'out')), ['state.json']);
  assert.equal(fs.readFileSync(path.join(root, 'out', 'state.json'), 'utf8'), '2');
  assert.equal(findFolder(dir, 'state.json'), path.join(root, 'out'));
});
