/** Loading from file maps: sharded checkpoints, legacy names, tied-decoder checks, tokenizer fallbacks. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { Encoder } from '../encoder/model.js';
import { Vocab } from '../tokenizers/vocab.js';
import { WordPieceTokenizer, DEFAULT_WORDPIECE } from '../tokenizers/wordpiece.js';
import { huggingFaceBertFiles, loadHuggingFaceBertFrom, type HfFiles } from './load.js';
import { encodeSafetensors, parseSafetensors } from './safetensors.js';

await initBackend({ quiet: true });

const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'hello', 'world', 'é', 'e'];
const tok = new WordPieceTokenizer(new Vocab(VOCAB), DEFAULT_WORDPIECE);

async function checkpoint(): Promise<{ enc: Encoder; files: HfFiles }> {
  const enc = new Encoder({
    vocabSize: VOCAB.length,
    hidden: 8,
    layers: 2,
    heads: 2,
    intermediate: 16,
    maxPositions: 8,
    seed: 2,
  });
  const files = Object.fromEntries(await huggingFaceBertFiles({ encoder: enc, tokenizer: tok }));
  return { enc, files };
}

function tensorsOf(files: HfFiles) {
  const { tensors } = parseSafetensors(files['model.safetensors'] as Uint8Array);
  return [...tensors].map(([name, t]) => ({ name, shape: t.shape, data: t.data! }));
}

function same(a: Encoder, b: Encoder): boolean {
  return [...a.namedParameters()].every(([n, v]) => {
    const x = v.dataSync();
    const y = b.namedParameters().get(n)!.dataSync();
    return x.every((val, i) => Object.is(val, y[i]));
  });
}

test('a sharded checkpoint (model.safetensors.index.json) loads like a single file', async () => {
  const { enc, files } = await checkpoint();
  const all = tensorsOf(files);
  const half = Math.floor(all.length / 2);
  const shards: HfFiles = { ...files };
  delete shards['model.safetensors'];
  shards['model-00001-of-00002.safetensors'] = encodeSafetensors(all.slice(0, half), { format: 'pt' });
  shards['model-00002-of-00002.safetensors'] = encodeSafetensors(all.slice(half), { format: 'pt' });
  const weightMap = Object.fromEntries(
    all.map((t, i) => [t.name, `model-0000${i < half ? 1 : 2}-of-00002.safetensors`]),
  );
  shards['model.safetensors.index.json'] = JSON.stringify({ metadata: {}, weight_map: weightMap });
  const loaded = await loadHuggingFaceBertFrom(shards);
  assert.ok(same(enc, loaded.model));
  loaded.model.dispose();
  delete shards['model-00002-of-00002.safetensors'];
  await assert.rejects(
    loadHuggingFaceBertFrom(shards),
    /model-00002-of-00002\.safetensors: shard named in model\.safetensors\.index\.json is missing/,
  );
  enc.dispose();
});

test('TF-converted LayerNorm names (gamma/beta) load; a missing tensor and an untied decoder are errors', async () => {
  const { enc, files } = await checkpoint();
  const renamed = tensorsOf(files).map((t) => ({
    ...t,
    name: t.name
      .replace(/LayerNorm\.weight$/, 'LayerNorm.gamma')
      .replace(/LayerNorm\.bias$/, 'LayerNorm.beta'),
  }));
  assert.ok(renamed.some((t) => t.name.endsWith('.gamma')));
  const legacy = await loadHuggingFaceBertFrom({
    ...files,
    'model.safetensors': encodeSafetensors(renamed, { format: 'pt' }),
  });
  assert.ok(same(enc, legacy.model));
  legacy.model.dispose();

  const without = tensorsOf(files).filter((t) => t.name !== 'bert.encoder.layer.1.output.dense.bias');
  await assert.rejects(
    loadHuggingFaceBertFrom({ ...files, 'model.safetensors': encodeSafetensors(without, { format: 'pt' }) }),
    /model\.safetensors: has no tensor bert\.encoder\.layer\.1\.output\.dense\.bias/,
  );
  const word = tensorsOf(files).find((t) => t.name === 'bert.embeddings.word_embeddings.weight')!;
  const tied = [...tensorsOf(files), { ...word, name: 'cls.predictions.decoder.weight' }];
  const ok = await loadHuggingFaceBertFrom({
    ...files,
    'model.safetensors': encodeSafetensors(tied, { format: 'pt' }),
  });
  assert.ok(!ok.ignored.includes('cls.predictions.decoder.weight'), 'a tied decoder copy is recognised');
  ok.model.dispose();
  const untiedData = word.data.slice();
  untiedData[0] += 1;
  const untied = [...tensorsOf(files), { ...word, name: 'cls.predictions.decoder.weight', data: untiedData }];
  await assert.rejects(
    loadHuggingFaceBertFrom({ ...files, 'model.safetensors': encodeSafetensors(untied, { format: 'pt' }) }),
    /untied MLM decoder is not supported/,
  );
  const nan = tensorsOf(files).map((t) =>
    t.name.endsWith('pooler.dense.bias') || t.name === 'cls.predictions.bias'
      ? { ...t, data: t.data.map((x, i) => (i === 1 ? NaN : x)) }
      : t,
  );
  await assert.rejects(
    loadHuggingFaceBertFrom({ ...files, 'model.safetensors': encodeSafetensors(nan, { format: 'pt' }) }),
    /tensor cls\.predictions\.bias holds a non-finite value at index 1/,
  );
  assert.equal(tf.memory().numTensors, enc.namedParameters().size, 'failed loads leave no tensors behind');
  enc.dispose();
});

test('tokenizer settings: tokenizer_config.json first, then the fast tokenizer.json normalizer, then special_tokens_map.json', async () => {
  const { enc, files } = await checkpoint();
  const base = { ...files };
  delete base['tokenizer_config.json'];
  const load = async (extra: HfFiles) => {
    const l = await loadHuggingFaceBertFrom({ ...base, ...extra });
    l.model.dispose();
    return l.tokenizer!;
  };
  assert.deepEqual(
    (await load({})).tokenize('Hello É'),
    ['hello', 'e'],
    'BertTokenizer defaults: lower-case, strip accents',
  );
  const fast = {
    'tokenizer.json': JSON.stringify({
      normalizer: {
        type: 'BertNormalizer',
        lowercase: false,
        strip_accents: null,
        handle_chinese_chars: true,
      },
    }),
  };
  assert.deepEqual((await load(fast)).tokenize('Hello é'), ['[UNK]', 'é']);
  const both = {
    ...fast,
    'tokenizer_config.json': JSON.stringify({ do_lower_case: true, strip_accents: false }),
  };
  assert.deepEqual((await load(both)).tokenize('Hello É'), ['hello', 'é'], 'tokenizer_config.json wins');
  const renamedVocab = VOCAB.map((t) => (t === '[UNK]' ? '<unk>' : t)).join('\n');
  const map = {
    'vocab.txt': renamedVocab,
    'special_tokens_map.json': JSON.stringify({ unk_token: '<unk>' }),
  };
  assert.deepEqual((await load(map)).tokenize('zzz'), ['<unk>']);
  await assert.rejects(
    load({ 'vocab.txt': renamedVocab }),
    /vocab\.txt: the vocabulary has no \[UNK\] token/,
  );
  await assert.rejects(load({ 'tokenizer_config.json': '{ nope' }), /tokenizer_config\.json: not valid JSON/);
  enc.dispose();
});

test('a RoBERTa-layout encoder (positions from padId + 1, one token type, no MLM head) round-trips exactly', async () => {
  const enc = new Encoder({
    vocabSize: VOCAB.length,
    hidden: 8,
    layers: 1,
    heads: 2,
    intermediate: 16,
    maxPositions: 10,
    positionOffset: 2,
    padId: 1,
    typeVocabSize: 1,
    mlmHead: false,
    pooler: true,
    activation: 'gelu-tanh',
    seed: 4,
  });
  const files = Object.fromEntries(await huggingFaceBertFiles({ encoder: enc, tokenizer: tok }));
  const config = JSON.parse(files['config.json'] as string) as Record<string, unknown>;
  assert.deepEqual(
    [config.model_type, config.architectures, config.pad_token_id, config.hidden_act],
    ['roberta', ['RobertaModel'], 1, 'gelu_new'],
  );
  assert.ok(
    tensorsOf(files).every((t) => !t.name.startsWith('roberta.')),
    'RobertaModel names have no prefix',
  );
  const back = await loadHuggingFaceBertFrom(files);
  assert.deepEqual(back.model.config, enc.config);
  assert.ok(same(enc, back.model));
  back.model.dispose();
  const bad = new Encoder({
    vocabSize: VOCAB.length,
    hidden: 8,
    layers: 1,
    heads: 2,
    maxPositions: 10,
    positionOffset: 3,
    padId: 1,
  });
  await assert.rejects(
    huggingFaceBertFiles({ encoder: bad, tokenizer: tok }),
    /config positionOffset is 3; RoBERTa needs padId \+ 1 = 2/,
  );
  enc.dispose();
  bad.dispose();
});
