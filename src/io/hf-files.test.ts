/**
 * Hugging Face BERT import/export against a reference written in plain PyTorch (src/io/hf_bert_ref.py:
 * BERT/RoBERTa from the published architecture, Hugging Face parameter names, safetensors by hand),
 * randomly initialised at test time: no download. Tolerance: 1e-4 max abs on every hidden state, the
 * pooled output and the MLM logits (the reference runs in float64 on the stored weights).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { testBackends } from '../grad/backends.test-util.js';
import { referencePython } from '../util/python.js';
import { Encoder } from '../encoder/model.js';
import { WordPieceTokenizer, DEFAULT_WORDPIECE } from '../tokenizers/wordpiece.js';
import { Vocab } from '../tokenizers/vocab.js';
import { hfTokenizer } from '../hf/tokenizer.js';
import { loadHuggingFaceBertFrom } from '../hf/load.js';
import { exportHuggingFaceBert, loadHuggingFaceBert } from './hf-files.js';
import { InputError } from './errors.js';
import { kexue, scratch } from '../cli/cli.test-util.js';
import { loadSentenceModel } from './sentence-files.js';

const REF = fileURLToPath(new URL('../../src/io/hf_bert_ref.py', import.meta.url));
const backends = [...(await testBackends()), ...(tf.findBackendFactory('aten') ? ['aten'] : [])];
const TOL = 1e-4;

function python(...args: string[]): string | undefined {
  try {
    return execFileSync(referencePython(), [REF, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
  } catch (e) {
    const err = (e as { stderr?: string }).stderr ?? '';
    if (/No module named 'torch'|ENOENT/.test(err + String(e))) return undefined;
    throw e;
  }
}

interface RefOut {
  hidden: number[][][][];
  pooled?: number[][];
  logits?: number[][][];
}

const VOCAB = [
  '[PAD]',
  '[UNK]',
  '[CLS]',
  '[SEP]',
  '[MASK]',
  ...'abcdefghijklmnopqrstuvwxyz'.split(''),
  '##s',
  '##ing',
  'the',
  'un',
  '##able',
  '中',
  '文',
  '.',
  ',',
];

const BASE = {
  vocab_size: 42,
  hidden_size: 16,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  intermediate_size: 32,
  max_position_embeddings: 12,
  type_vocab_size: 2,
  layer_norm_eps: 1e-12,
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  initializer_range: 0.02,
};
const IDS = [
  [2, 7, 9, 11, 3, 0, 0],
  [2, 5, 6, 8, 13, 15, 3],
];
const MASK = IDS.map((r, i) => r.map((_, j) => (i === 0 && j >= 5 ? 0 : 1)));
const TYPES = [
  [0, 0, 0, 0, 0, 0, 0],
  [0, 0, 0, 0, 1, 1, 1],
];

const SPECS = {
  'BERT pre-training layout (pooler, MLM head, NSP head, position_ids), gelu': {
    config: { ...BASE, model_type: 'bert', hidden_act: 'gelu', pad_token_id: 0 },
    layout: 'pretraining',
    dtype: 'F32',
  },
  'BertModel layout (no prefix, no MLM head), gelu_new, float16 weights': {
    config: { ...BASE, model_type: 'bert', hidden_act: 'gelu_new', layer_norm_eps: 1e-5 },
    layout: 'model',
    dtype: 'F16',
  },
  'RoBERTa layout (positions from padding_idx + 1, one token type, lm_head)': {
    config: {
      ...BASE,
      model_type: 'roberta',
      hidden_act: 'gelu',
      pad_token_id: 1,
      max_position_embeddings: 14,
      type_vocab_size: 1,
    },
    layout: 'masked_lm',
    dtype: 'F32',
  },
} as const;

/** The largest difference seen by any comparison, reported as a test diagnostic. */
let worst = 0;
function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>, keep?: (i: number) => boolean): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) if (!keep || keep(i)) m = Math.max(m, Math.abs(a[i] - b[i]));
  worst = Math.max(worst, m);
  return m;
}

/** Runs kexue's model on the spec's batch: hidden states, pooled output and MLM logits as flat arrays. */
function kexueForward(model: Encoder, ids: number[][], mask: number[][], types: number[][]) {
  return tf.tidy(() => {
    const out = model.apply({
      ids: tf.tensor2d(ids, undefined, 'int32'),
      mask: tf.tensor2d(mask),
      typeIds: model.config.typeVocabSize ? tf.tensor2d(types, undefined, 'int32') : undefined,
    });
    return {
      hidden: out.hiddenStates.map((h) => h.dataSync()),
      pooled: model.pooler ? model.pooled(out).dataSync() : undefined,
      logits: model.mlm ? model.mlmLogits(out.last).dataSync() : undefined,
    };
  });
}

function compare(
  name: string,
  model: Encoder,
  ref: RefOut,
  spec: { ids: number[][]; mask: number[][]; types: number[][] },
) {
  const got = kexueForward(model, spec.ids, spec.mask, spec.types);
  const n = spec.ids[0].length;
  // RoBERTa's padding positions get position padding_idx (kexue: the next row); they are masked out as keys.
  const roberta = (model.config.positionOffset ?? 0) > 0;
  const tokenAt = (i: number, width: number) => {
    const pos = Math.floor(i / width);
    return !roberta || spec.mask[Math.floor(pos / n)][pos % n] === 1;
  };
  const H = model.config.hidden;
  assert.equal(got.hidden.length, ref.hidden.length, `${name}: number of hidden states`);
  got.hidden.forEach((h, l) => {
    const d = maxAbsDiff(h, ref.hidden[l].flat(2), (i) => tokenAt(i, H));
    assert.ok(d <= TOL, `${name}: hidden state ${l} differs by ${d}`);
  });
  assert.equal(got.pooled !== undefined, ref.pooled !== undefined, `${name}: pooler presence`);
  if (got.pooled) assert.ok(maxAbsDiff(got.pooled, ref.pooled!.flat()) <= TOL, `${name}: pooled output`);
  assert.equal(got.logits !== undefined, ref.logits !== undefined, `${name}: MLM head presence`);
  if (got.logits) {
    const V = model.config.vocabSize;
    const d = maxAbsDiff(got.logits, ref.logits!.flat(2), (i) => tokenAt(i, V));
    assert.ok(d <= TOL, `${name}: MLM logits differ by ${d}`);
  }
}

const made = new Map<
  string,
  { dir: string; ref: RefOut; ids: number[][]; mask: number[][]; types: number[][] }
>();
function makeReference(label: keyof typeof SPECS, seed: number) {
  if (made.has(label)) return made.get(label)!;
  const spec = SPECS[label];
  const roberta = spec.config.model_type === 'roberta';
  // RoBERTa pads with id 1 and has one token type.
  const ids = roberta ? IDS.map((r, i) => r.map((x, j) => (i === 0 && j >= 5 ? 1 : x === 1 ? 10 : x))) : IDS;
  const types = roberta ? TYPES.map((r) => r.map(() => 0)) : TYPES;
  const { dir, put } = scratch('hf');
  put('vocab.txt', VOCAB.join('\n') + '\n');
  const out = python('make', dir, JSON.stringify({ ...spec, seed, ids, mask: MASK, types }));
  if (out === undefined) return undefined;
  const r = { dir, ref: JSON.parse(out) as RefOut, ids, mask: MASK, types };
  made.set(label, r);
  return r;
}

for (const [label] of Object.entries(SPECS) as [keyof typeof SPECS, unknown][]) {
  test(`import matches the PyTorch reference: ${label} (${backends.join(', ')})`, async (t) => {
    const r = makeReference(label, 7);
    if (!r) return t.skip('python3 with torch is not installed');
    for (const backend of backends) {
      await tf.setBackend(backend);
      const before = tf.memory().numTensors;
      const loaded = await loadHuggingFaceBert(r.dir);
      worst = 0;
      compare(`${label} on ${backend}`, loaded.model, r.ref, r);
      t.diagnostic(`${backend}: max abs difference ${worst.toExponential(2)}`);
      loaded.model.dispose();
      assert.equal(tf.memory().numTensors, before, `${backend}: tensors leaked`);
    }
    await tf.setBackend('cpu');
  });
}

test('import reports the unused tensors, the parts it found and the tokenizer', async (t) => {
  const r = makeReference('BERT pre-training layout (pooler, MLM head, NSP head, position_ids), gelu', 7);
  if (!r) return t.skip('python3 with torch is not installed');
  const loaded = await loadHuggingFaceBert(r.dir);
  assert.deepEqual(loaded.ignored, [
    'bert.embeddings.position_ids',
    'cls.seq_relationship.bias',
    'cls.seq_relationship.weight',
  ]);
  assert.equal(loaded.model.config.pooler, true);
  assert.equal(loaded.model.config.mlmHead, true);
  assert.equal(loaded.model.config.activation, 'gelu');
  assert.deepEqual(loaded.tokenizer?.tokenize('The unable 中文.'), ['the', 'un', '##able', '中', '文', '.']);
  loaded.model.dispose();
});

test('the same checkpoint loads from a map of file contents and from a URL (fetch), as in a browser', async (t) => {
  const r = makeReference('RoBERTa layout (positions from padding_idx + 1, one token type, lm_head)', 7);
  if (!r) return t.skip('python3 with torch is not installed');
  const files = Object.fromEntries(
    fs.readdirSync(r.dir).map((f) => [f, new Uint8Array(fs.readFileSync(path.join(r.dir, f)))]),
  );
  const fromMap = await loadHuggingFaceBertFrom(files);
  compare('from a file map', fromMap.model, r.ref, r);
  fromMap.model.dispose();
  const requested: string[] = [];
  const fakeFetch = (async (url: string) => {
    requested.push(url);
    const name = url.replace('https://example.test/m/', '');
    const body = files[name];
    return body ? new Response(body) : new Response('not found', { status: 404, statusText: 'Not Found' });
  }) as unknown as typeof fetch;
  const { hfUrlReader } = await import('../hf/load.js');
  const fromUrl = await loadHuggingFaceBertFrom(hfUrlReader('https://example.test/m', fakeFetch));
  compare('from a URL', fromUrl.model, r.ref, r);
  fromUrl.model.dispose();
  assert.ok(requested.includes('https://example.test/m/model.safetensors'));
});

function sameParameters(a: Encoder, b: Encoder): void {
  const pa = a.namedParameters();
  const pb = b.namedParameters();
  assert.deepEqual([...pa.keys()].sort(), [...pb.keys()].sort());
  for (const [n, v] of pa) {
    const x = v.dataSync();
    const y = pb.get(n)!.dataSync();
    assert.deepEqual(v.shape, pb.get(n)!.shape, n);
    assert.ok(
      x.every((val, i) => Object.is(val, y[i])),
      `${n} is not bit-identical`,
    );
  }
}

test('export → re-import is bit-identical, and the exported files give the reference outputs in PyTorch', async (t) => {
  const r = makeReference('BERT pre-training layout (pooler, MLM head, NSP head, position_ids), gelu', 7);
  if (!r) return t.skip('python3 with torch is not installed');
  const loaded = await loadHuggingFaceBert(r.dir);
  const out = path.join(scratch('hf-export').dir, 'hf');
  await exportHuggingFaceBert(
    { encoder: loaded.model, tokenizer: loaded.tokenizer!, config: { pooling: 'mean', maxLen: 10 } },
    out,
  );
  for (const f of [
    'config.json',
    'model.safetensors',
    'vocab.txt',
    'tokenizer_config.json',
    'modules.json',
    '1_Pooling/config.json',
    'sentence_bert_config.json',
    'README.md',
  ])
    assert.ok(fs.existsSync(path.join(out, f)), `${f} written`);
  const card = fs.readFileSync(path.join(out, 'README.md'), 'utf8');
  assert.match(card, /^---\nlibrary_name: sentence-transformers\ntags:\n- kexue\n/);
  assert.match(card, /SentenceTransformer\('path\/to\/this\/folder'\)/);
  assert.equal(
    fs.existsSync(path.join(out, 'tokenizer.json')),
    false,
    "kexue's tokenizer.json would confuse transformers",
  );
  const again = await loadHuggingFaceBert(out);
  sameParameters(loaded.model, again.model);
  assert.deepEqual(again.model.config, loaded.model.config);
  assert.deepEqual(again.tokenizer?.vocab.tokens, loaded.tokenizer?.vocab.tokens);
  assert.deepEqual(again.tokenizer?.opts, loaded.tokenizer?.opts);
  assert.deepEqual(again.sentence, { normalize: false, pooling: 'mean', maxLen: 10 });
  assert.deepEqual(again.ignored, []);
  // The exported checkpoint read by the PyTorch reference (HF names, safetensors metadata format 'pt').
  const ref = JSON.parse(python('forward', out, JSON.stringify(r))!) as RefOut;
  compare('exported, run in PyTorch', loaded.model, ref, r);
  loaded.model.dispose();
  again.model.dispose();
});

test('a kexue-native encoder (no token types, seed, init) survives export → import exactly', async () => {
  const tok = new WordPieceTokenizer(new Vocab(VOCAB), DEFAULT_WORDPIECE);
  const enc = new Encoder({
    vocabSize: VOCAB.length,
    hidden: 8,
    layers: 1,
    heads: 2,
    intermediate: 16,
    typeVocabSize: 0,
    maxPositions: 16,
    seed: 11,
    dropout: 0,
  });
  const out = path.join(scratch('hf-native').dir, 'hf');
  await exportHuggingFaceBert({ encoder: enc, tokenizer: tok }, out);
  const back = await loadHuggingFaceBert(out);
  sameParameters(enc, back.model);
  assert.deepEqual(back.model.config, { ...enc.config, activation: 'gelu', pooler: false, mlmHead: true });
  enc.dispose();
  back.model.dispose();
});

test('unsupported configs and broken files are one clear error naming the field or tensor', async () => {
  const { dir, put } = scratch('hf-bad');
  const tok = new WordPieceTokenizer(new Vocab(VOCAB), DEFAULT_WORDPIECE);
  const enc = new Encoder({
    vocabSize: VOCAB.length,
    hidden: 8,
    layers: 1,
    heads: 2,
    intermediate: 16,
    maxPositions: 16,
  });
  const good = path.join(dir, 'good');
  await exportHuggingFaceBert({ encoder: enc, tokenizer: tok }, good);
  const config = JSON.parse(fs.readFileSync(path.join(good, 'config.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  const variant = (name: string, patch: Record<string, unknown>) => {
    const d = path.join(dir, name);
    fs.cpSync(good, d, { recursive: true });
    fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify({ ...config, ...patch }));
    return d;
  };
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ hidden_act: 'swish' }, /field hidden_act: 'swish' is not supported/],
    [
      { position_embedding_type: 'relative_key' },
      /field position_embedding_type: 'relative_key' is not supported/,
    ],
    [{ model_type: 'gpt2' }, /field model_type: 'gpt2' is not supported/],
    [{ is_decoder: true }, /field is_decoder/],
    [{ num_attention_heads: 3 }, /hidden \(8\) must be divisible by heads \(3\)/],
    [
      { hidden_size: 12, num_attention_heads: 2 },
      /tensor bert\.embeddings\.word_embeddings\.weight is F32 \[40, 8\], config\.json implies a float \[40, 12\]/,
    ],
  ];
  for (const [patch, re] of cases) {
    await assert.rejects(
      loadHuggingFaceBert(variant(Object.keys(patch).join('-'), patch)),
      (e: Error) => e instanceof InputError && re.test(e.message),
      JSON.stringify(patch),
    );
  }
  const truncated = variant('truncated', {});
  const st = fs.readFileSync(path.join(truncated, 'model.safetensors'));
  fs.writeFileSync(path.join(truncated, 'model.safetensors'), st.subarray(0, st.length - 4));
  await assert.rejects(loadHuggingFaceBert(truncated), /model\.safetensors.*data_offsets/);
  const noWeights = variant('no-weights', {});
  fs.rmSync(path.join(noWeights, 'model.safetensors'));
  await assert.rejects(
    loadHuggingFaceBert(noWeights),
    /no model\.safetensors.*pytorch_model\.bin are not read/,
  );
  await assert.rejects(loadHuggingFaceBert(put('file.txt', 'x')), /not a directory/);
  const preLn = new Encoder({
    vocabSize: VOCAB.length,
    hidden: 8,
    layers: 1,
    heads: 2,
    norm: 'pre',
    maxPositions: 16,
  });
  await assert.rejects(
    exportHuggingFaceBert({ encoder: preLn, tokenizer: tok }, path.join(dir, 'x')),
    /config norm is 'pre'/,
  );
  await assert.rejects(
    exportHuggingFaceBert(
      { encoder: enc, tokenizer: tok, config: { pooling: 'first-last-avg' } },
      path.join(dir, 'y'),
    ),
    /pooling 'first-last-avg' has no sentence-transformers equivalent/,
  );
  assert.equal(
    fs.existsSync(path.join(dir, 'x')) || fs.existsSync(path.join(dir, 'y')),
    false,
    'no partial output',
  );
  enc.dispose();
  preLn.dispose();
});

// ---- tokenizer parity with the plain-Python reference of Hugging Face's BertTokenizer ----

const TOK_VOCAB = [
  '[PAD]',
  '[UNK]',
  '[CLS]',
  '[SEP]',
  '[MASK]',
  'hello',
  'world',
  'the',
  'un',
  '##aff',
  '##able',
  'run',
  '##ning',
  'cafe',
  'café',
  'naive',
  'naïve',
  'Hello',
  'World',
  'über',
  'uber',
  'straße',
  '中',
  '文',
  '字',
  '的',
  '。',
  '，',
  '!',
  ',',
  '.',
  '?',
  "'",
  '-',
  '(',
  ')',
  '[',
  ']',
  'a',
  '##b',
  'b',
  '##c',
  'don',
  't',
  'σ',
  'ο',
  '##δ',
  '##ο',
  '##σ',
  'οδος',
  '##ς',
  'x',
  '##x',
  '$',
  '5',
  '##0',
  '¿',
  '—',
  'é',
  'e',
  '##e',
  'ü',
  'u',
  '##s',
  'mask',
];
const TEXTS = [
  'Hello, World!',
  'unaffable running',
  'Café naïve ÜBER Straße',
  'Cafe\u0301 decomposed e\u0301 and NFC é',
  '中文字的。你好，world',
  "don't stop-now (a-b) [x]",
  'ΟΔΟΣ οδος',
  'tab\there\nnew\u00a0nbsp\u3000ideographic space',
  'control\u0007char\u200bzero-width\ufeffbom\ue000private',
  'x'.repeat(100),
  'x'.repeat(101),
  'unknownword zzz ¿Qué? —dash $50',
  'Hello [MASK] world [CLS][SEP] [mask]',
  '',
  '   ',
  'emoji 😀 and 𠀀 (CJK ext B)',
];

test('tokenizer: Hugging Face BertTokenizer parity with a plain-Python reference on mixed text', async (t) => {
  const { put } = scratch('hf-tok');
  const vocabFile = put('vocab.txt', TOK_VOCAB.join('\n') + '\n');
  const settings: { tc: Record<string, unknown>; ref: Record<string, unknown> }[] = [
    { tc: { do_lower_case: true }, ref: { lower: true } },
    { tc: { do_lower_case: false }, ref: { lower: false } },
    { tc: { do_lower_case: true, strip_accents: false }, ref: { lower: true, strip: false } },
    { tc: { do_lower_case: false, strip_accents: true }, ref: { lower: false, strip: true } },
    { tc: { do_lower_case: true, tokenize_chinese_chars: false }, ref: { lower: true, chinese: false } },
  ];
  for (const s of settings) {
    const specials = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
    const out = python('tokenize', vocabFile, JSON.stringify({ ...s.ref, specials }), JSON.stringify(TEXTS));
    if (out === undefined) return t.skip('python3 is not installed');
    const want = JSON.parse(out) as string[][];
    const tok = hfTokenizer(TOK_VOCAB.join('\n'), { tokenizerConfig: s.tc });
    TEXTS.forEach((text, i) =>
      assert.deepEqual(tok.tokenize(text), want[i], `${JSON.stringify(s.tc)}: ${JSON.stringify(text)}`),
    );
  }
});

test('tokenizer: special tokens come from tokenizer_config.json (strings or AddedToken objects)', () => {
  const vocab = ['<pad>', '<unk>', '<s>', '</s>', '<mask>', 'hello'];
  const tok = hfTokenizer(vocab.join('\n'), {
    tokenizerConfig: {
      do_lower_case: true,
      pad_token: '<pad>',
      unk_token: { content: '<unk>', __type: 'AddedToken' },
      cls_token: '<s>',
      sep_token: '</s>',
      mask_token: '<mask>',
    },
  });
  assert.deepEqual(tok.vocab.special, { pad: 0, unk: 1, cls: 2, sep: 3, mask: 4 });
  assert.deepEqual(tok.tokenize('Hello <mask> bye'), ['hello', '<mask>', '<unk>']);
  assert.deepEqual(tok.encode('hello'), [2, 5, 3]);
  assert.throws(
    () => hfTokenizer(vocab.join('\n'), { tokenizerConfig: { unk_token: 42 } }),
    /tokenizer_config\.json, field unk_token/,
  );
  assert.throws(() => hfTokenizer(vocab.join('\n'), {}), /vocab\.txt: the vocabulary has no \[PAD\] token/);
});

test('kexue import-hf: writes a sentence model the other commands read; bad input is one line, exit 2', async (t) => {
  const r = makeReference('BERT pre-training layout (pooler, MLM head, NSP head, position_ids), gelu', 7);
  if (!r) return t.skip('python3 with torch is not installed');
  const { dir } = scratch('hf-cli');
  const out = path.join(dir, 'kx');
  const ok = kexue('import-hf', r.dir, '--out', out, '--pooling', 'mean', '--max-len', '8');
  assert.equal(ok.code, 0, ok.err);
  assert.match(
    ok.out,
    /bert: 2 layers × 16, vocabulary 40, with pooler and MLM head; pooling mean, max length 8/,
  );
  assert.match(ok.out, /not used: bert\.embeddings\.position_ids/);
  const model = loadSentenceModel(out);
  assert.deepEqual(model.config, { pooling: 'mean', maxLen: 8 });
  const direct = await loadHuggingFaceBert(r.dir);
  sameParameters(direct.model, model.encoder);
  direct.model.dispose();
  model.dispose();
  const back = path.join(dir, 'hf-again');
  const exp = kexue('export-hf', out, '--out', back);
  assert.equal(exp.code, 0, exp.err);
  assert.equal(
    JSON.parse(fs.readFileSync(path.join(back, '1_Pooling/config.json'), 'utf8')).pooling_mode_mean_tokens,
    true,
  );
  const bad = fs.mkdtempSync(path.join(dir, 'bad-'));
  fs.writeFileSync(path.join(bad, 'config.json'), JSON.stringify({ ...BASE, hidden_act: 'silu' }));
  for (const args of [
    ['import-hf', bad, '--out', path.join(dir, 'o1')],
    ['import-hf', path.join(dir, 'missing'), '--out', path.join(dir, 'o2')],
    ['import-hf', r.dir],
    ['import-hf', r.dir, '--out', path.join(dir, 'o3'), '--pooling', 'max'],
  ]) {
    const res = kexue(...args);
    assert.equal(res.code, 2, `${args.join(' ')}: ${res.err}`);
    assert.equal(res.err.trim().split('\n').length, 1, res.err);
  }
  assert.match(
    kexue('import-hf', bad, '--out', path.join(dir, 'o1')).err,
    /field hidden_act: 'silu' is not supported/,
  );
  assert.equal(
    ['o1', 'o2', 'o3'].some((o) => fs.existsSync(path.join(dir, o))),
    false,
    'no partial output',
  );
});
