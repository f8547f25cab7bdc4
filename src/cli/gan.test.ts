/**
 * `kexue gan` and `kexue gradpenalty` end to end: a short toy run writes a valid PNG and reports
 * metrics; the inequality command agrees with the library on a JSON model; bad input exits 2 with one
 * line naming the file and field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { gradientPenaltyInequality, type Mlp } from '../penalty/inequality.js';
import { kexue } from './cli.test-util.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kexue-gan-cli-'));

test('kexue gan on a toy writes a PNG and metrics', () => {
  const out = path.join(dir, 'toy.png');
  const r = kexue(
    'gan',
    '--data',
    '8gaussians',
    '--method',
    'gn-fast',
    '--iters',
    '20',
    '--out',
    out,
    '--json',
  );
  assert.equal(r.code, 0, r.err);
  const s = JSON.parse(r.out);
  assert.equal(s.modes, 8);
  assert.ok(s.highQuality >= 0 && s.highQuality <= 1);
  const png = fs.readFileSync(out);
  assert.equal(png.toString('ascii', 1, 4), 'PNG');
  assert.equal(png.readUInt32BE(16), 200);
});

/** A gzipped IDX file of unsigned bytes (the MNIST format): magic 0x08 type, then the dimensions. */
function writeIdx(file: string, shape: number[], data: Uint8Array) {
  const head = Buffer.alloc(4 + 4 * shape.length);
  head.writeUInt32BE(0x0800 + shape.length, 0);
  shape.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  fs.writeFileSync(file, zlib.gzipSync(Buffer.concat([head, data])));
}

test('kexue gan --arch conv trains the convolutional nets on MNIST-format images', () => {
  const mnist = path.join(dir, 'mnist');
  fs.mkdirSync(mnist);
  const n = 16;
  writeIdx(
    path.join(mnist, 'train-images-idx3-ubyte.gz'),
    [n, 28, 28],
    Uint8Array.from({ length: n * 784 }, (_, i) => (i * 37) % 256),
  );
  writeIdx(
    path.join(mnist, 'train-labels-idx1-ubyte.gz'),
    [n],
    Uint8Array.from({ length: n }, (_, i) => i % 10),
  );
  const out = path.join(dir, 'conv.png');
  const r = kexue(
    'gan',
    '--data',
    'mnist',
    '--mnist',
    mnist,
    '--arch',
    'conv',
    '--iters',
    '2',
    '--out',
    out,
    '--json',
  );
  assert.equal(r.code, 0, r.err);
  const s = JSON.parse(r.out);
  assert.equal(s.arch, 'conv');
  assert.ok(s.msPerIteration > 0);
  const png = fs.readFileSync(out);
  assert.equal(png.toString('ascii', 1, 4), 'PNG');
  assert.equal(png.readUInt32BE(16), 8 * 28 + 9); // an 8×8 grid of 28-pixel digits
});

test('kexue gan refuses a conv GAN on a 2-D toy', () => {
  const r = kexue('gan', '--arch', 'conv', '--data', 'swissroll');
  assert.equal(r.code, 2);
  assert.equal(r.err.trim().split('\n').length, 1);
  assert.match(r.err, /--arch conv needs image data \(--data mnist\), got --data swissroll/);
});

test('kexue gan rejects an unknown method', () => {
  const r = kexue('gan', '--method', 'magic');
  assert.equal(r.code, 2);
  assert.match(r.err, /--method must be one of/);
});

test('kexue gradpenalty matches the library on a JSON model', () => {
  const model = {
    layers: [
      {
        weight: [
          [0.5, -1],
          [2, 0.3],
          [-0.7, 1.1],
        ],
        bias: [0.1, 0, -0.2],
        activation: 'tanh',
      },
      { weight: [[1, -2, 0.5]], bias: [0.3], activation: 'linear' },
    ],
  };
  const file = path.join(dir, 'mlp.json');
  fs.writeFileSync(file, JSON.stringify(model));
  const xs = path.join(dir, 'x.json');
  fs.writeFileSync(xs, JSON.stringify([[0.2, -0.4]]));
  const r = kexue('gradpenalty', '--model', file, '--x', xs, '--json');
  assert.equal(r.code, 0, r.err);
  const [got] = JSON.parse(r.out);
  const mlp: Mlp = {
    layers: model.layers.map((l) => ({
      inDim: l.weight[0].length,
      outDim: l.weight.length,
      weight: Float64Array.from(l.weight.flat()),
      bias: Float64Array.from(l.bias),
      activation: l.activation as 'tanh' | 'linear',
    })),
  };
  const want = gradientPenaltyInequality(mlp, [0.2, -0.4]);
  assert.ok(Math.abs(got.left - want.left) < 1e-12 && Math.abs(got.right - want.right) < 1e-12);
  assert.ok(got.right >= got.left);
});

test('kexue gradpenalty names the bad field', () => {
  const file = path.join(dir, 'bad.json');
  fs.writeFileSync(file, JSON.stringify({ layers: [{ weight: [[1, 2]], bias: [0, 1] }] }));
  const r = kexue('gradpenalty', '--model', file);
  assert.equal(r.code, 2);
  assert.match(r.err, /layers\[0\]\.bias/);
});
