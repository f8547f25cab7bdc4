/** The PNG encoder: CRC-32 check value, and a round trip through zlib of a small grid's scanlines. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { crc32, encodeGrayPng } from './png.js';
import { imageGrid } from '../gan/grid.js';

test('crc32 matches the standard check value', () => {
  assert.equal(crc32(Buffer.from('123456789', 'ascii')), 0xcbf43926);
});

test('PNG structure and pixel round trip', () => {
  const grid = imageGrid(Float32Array.from([0, 1, 0.5, 0.25, 1, 1, 0, 0]), 2, 2, 2, 2);
  assert.equal(grid.width, 7);
  assert.equal(grid.height, 4);
  const png = encodeGrayPng(grid.pixels, grid.width, grid.height);
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  assert.equal(png.toString('ascii', 12, 16), 'IHDR');
  assert.equal(png.readUInt32BE(16), 7);
  const idatLen = png.readUInt32BE(33);
  assert.equal(png.toString('ascii', 37, 41), 'IDAT');
  const raw = zlib.inflateSync(png.subarray(41, 41 + idatLen));
  assert.equal(raw.length, 8 * 4);
  // row 1 (after the gap row), pixels 1..2 are image 0's first row: 0 and 255
  assert.deepEqual([...raw.subarray(8 + 1 + 1, 8 + 1 + 3)], [0, 255]);
  assert.equal(png.readUInt32BE(41 + idatLen), crc32(png.subarray(37, 41 + idatLen)));
  assert.equal(png.toString('ascii', png.length - 8, png.length - 4), 'IEND');
});
