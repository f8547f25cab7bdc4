/**
 * Encoders through tf.io: artifacts in memory (tf.io.withSaveHandler / tf.io.fromMemory), over HTTP
 * (a local node:http server serving a directory written by saveEncoder: the on-disk format is the
 * HTTP format), and the errors of damaged or missing files, named by URL or artifact field.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { Encoder, pool } from './model.js';
import { encodeTexts, disposeInput } from './inputs.js';
import {
  encoderArtifacts,
  encoderFromArtifacts,
  encoderHttpHandler,
  loadEncoderFrom,
  saveEncoderTo,
} from './io.js';
import { saveEncoder, loadEncoder } from '../io/encoder-files.js';
import { CharTokenizer, ENGLISH_CHAR } from '../tokenizers/index.js';
import { InputError } from '../io/errors.js';

await initBackend({ quiet: true });

const tok = CharTokenizer.build(['the cat sat on the mat', 'a dog'], ENGLISH_CHAR);
const config = { vocabSize: tok.vocab.size, hidden: 16, layers: 2, heads: 2, seed: 3 };
let dir = '';
let base = '';
let server: http.Server;
const requests: string[] = [];

function meanVectors(m: Encoder): Float32Array {
  const x = encodeTexts(tok, ['the cat', 'a dog sat']);
  try {
    return tf.tidy(() => pool(m.apply(x), 'mean').dataSync() as Float32Array);
  } finally {
    disposeInput(x);
  }
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kexue-http-'));
  server = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    const file = path.join(dir, decodeURIComponent(req.url ?? '/'));
    if (!fs.existsSync(file) || !fs.statSync(file).isFile()) res.writeHead(404).end();
    else res.writeHead(200).end(fs.readFileSync(file));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});

after(() => {
  server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('in memory: saveEncoderTo(tf.io.withSaveHandler) → loadEncoderFrom(tf.io.fromMemory) is bit-identical', async () => {
  const m = new Encoder(config);
  let saved: tf.io.ModelArtifacts | undefined;
  const result = await saveEncoderTo(
    tf.io.withSaveHandler(async (a) => {
      saved = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
    m,
    tok,
  );
  assert.ok(result.modelArtifactsInfo);
  assert.equal(saved?.format, 'kexue-encoder');
  const before = tf.memory().numTensors;
  const { model, tokenizer } = await loadEncoderFrom(tf.io.fromMemory(saved!));
  assert.deepEqual(model.config, m.config);
  assert.deepEqual(tokenizer?.vocab.tokens, tok.vocab.tokens);
  assert.deepEqual(meanVectors(model), meanVectors(m));
  model.dispose();
  assert.equal(tf.memory().numTensors, before, 'no tensor left behind by loading');
  m.dispose();
});

test('artifacts from an ArrayBuffer: wrong sizes, NaN weights, a foreign format are errors naming the field', async () => {
  const m = new Encoder(config);
  const a = await encoderArtifacts(m);
  m.dispose();
  const data = a.weightData as ArrayBuffer;
  assert.throws(
    () => encoderFromArtifacts({ ...a, weightData: data.slice(0, data.byteLength - 4) }),
    (e) => e instanceof InputError && /artifacts\.weightData: weights are \d+ bytes/.test(e.message),
  );
  const nan = data.slice(0);
  new Float32Array(nan)[7] = NaN;
  assert.throws(() => encoderFromArtifacts({ ...a, weightData: nan }), /non-finite weight \(.+\[7\] = NaN\)/);
  assert.throws(() => encoderFromArtifacts({ ...a, format: 'layers-model' }), /not a kexue-encoder model/);
  assert.throws(
    () => encoderFromArtifacts({ ...a, modelTopology: { ...(a.modelTopology as object), hidden: -1 } }),
    /artifacts\.modelTopology: /,
  );
});

test('over HTTP: a directory written by saveEncoder loads from its URL, equal to loadEncoder(dir)', async () => {
  const m = new Encoder(config);
  await saveEncoder(path.join(dir, 'enc'), m, tok);
  requests.length = 0;
  const { model, tokenizer } = await loadEncoderFrom(`${base}enc`);
  assert.deepEqual(
    requests.sort(),
    [
      '/enc/config.json',
      '/enc/model.json',
      '/enc/tokenizer.json',
      '/enc/vocab.txt',
      '/enc/weights.bin',
    ].sort(),
  );
  assert.deepEqual(tokenizer?.encode('the mat'), tok.encode('the mat'));
  const fromDisk = loadEncoder(path.join(dir, 'enc'));
  assert.deepEqual(meanVectors(model), meanVectors(m));
  assert.deepEqual(meanVectors(fromDisk.model), meanVectors(m));
  [m, model, fromDisk.model].forEach((x) => x.dispose());
});

test('over HTTP without a tokenizer, and with missing or damaged files: errors name the URL', async () => {
  const m = new Encoder(config);
  const d = path.join(dir, 'bare');
  await saveEncoder(d, m);
  m.dispose();
  const bare = await loadEncoderFrom(`${base}bare/`);
  assert.equal(bare.tokenizer, undefined);
  bare.model.dispose();

  const bin = path.join(d, 'weights.bin');
  const good = fs.readFileSync(bin);
  fs.writeFileSync(bin, good.subarray(0, 16));
  await assert.rejects(loadEncoderFrom(`${base}bare/`), (e) => {
    assert.ok(e instanceof InputError);
    assert.match(e.message, new RegExp(`^${base}bare/weights\\.bin: weights are 16 bytes`));
    return true;
  });
  fs.rmSync(bin);
  await assert.rejects(
    loadEncoderFrom(`${base}bare/`),
    new RegExp(`${base}bare/weights\\.bin: weights file named in model\\.json is missing`),
  );
  fs.writeFileSync(bin, good);
  await assert.rejects(loadEncoderFrom(`${base}nothing-here/`), /nothing-here\/config\.json: file not found/);

  const failing = encoderHttpHandler(`${base}bare/`, {
    fetchFunc: async () => new Response('no', { status: 500, statusText: 'Server Error' }),
  });
  await assert.rejects(failing.load(), /config\.json: HTTP 500 Server Error/);
  await assert.rejects(loadEncoderFrom({} as tf.io.IOHandler), /source must be a URL or a tf\.io\.IOHandler/);
});
