import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CharTokenizer,
  CHINESE_CHAR,
  ENGLISH_CHAR,
  Vocab,
  WordPieceTokenizer,
  DEFAULT_WORDPIECE,
  basicTokenize,
  buildWordPieceVocab,
} from './index.js';
import { loadTokenizer, saveTokenizer } from '../io/tokenizer-files.js';
import { InputError } from '../io/errors.js';

test('Chinese char tokenizer: NFKC (full-width → half-width), lower-case, whitespace dropped, vocab by frequency', () => {
  const tok = CharTokenizer.build(['我爱北京', '北京欢迎你', 'ＡＢＣ 北'], CHINESE_CHAR);
  assert.deepEqual(tok.vocab.tokens.slice(0, 5), ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']);
  assert.equal(tok.vocab.tokens[5], '北'); // 3 times
  assert.equal(tok.vocab.tokens[6], '京'); // 2 times
  assert.deepEqual(tok.tokenize('ＡＢＣ  北京！'), ['a', 'b', 'c', '北', '京', '!']);
  const ids = tok.encode('我爱上海');
  assert.equal(ids[0], tok.vocab.special.cls);
  assert.equal(ids[ids.length - 1], tok.vocab.special.sep);
  assert.equal(ids[3], tok.vocab.special.unk); // 上 unseen
  assert.equal(tok.decode(tok.encode('北京欢迎你')), '北京欢迎你');
  assert.deepEqual(tok.encode('北京欢迎你', { maxLen: 4 }).length, 4);
});

test('char vocab limits: minCount and maxSize (specials included)', () => {
  const tok = CharTokenizer.build(['aab', 'abc'], CHINESE_CHAR, { minCount: 2 });
  assert.deepEqual(tok.vocab.tokens.slice(5), ['a', 'b']);
  assert.equal(CharTokenizer.build(['aab', 'abc'], CHINESE_CHAR, { maxSize: 6 }).vocab.size, 6);
});

test('English char tokenizer keeps case and single spaces; characters outside the BMP are one token', () => {
  const tok = CharTokenizer.build(['Hi  there\tyou 😀'], ENGLISH_CHAR);
  assert.deepEqual(tok.tokenize(' Hi  there '), ['H', 'i', ' ', 't', 'h', 'e', 'r', 'e']);
  assert.ok(tok.vocab.has('😀'));
  assert.equal(tok.decode(tok.encode('Hi you')), 'Hi you');
});

test('BERT basic tokenizer: accents, punctuation, CJK isolation, control characters', () => {
  assert.deepEqual(basicTokenize('Héllo, WORLD!\u0000 中文ok', true), [
    'hello',
    ',',
    'world',
    '!',
    '中',
    '文',
    'ok',
  ]);
  assert.deepEqual(basicTokenize('Héllo', false), ['Héllo']);
  assert.deepEqual(basicTokenize("don't  stop-now", true), ['don', "'", 't', 'stop', '-', 'now']);
});

test('WordPiece with a standard vocab.txt: greedy longest match ("unaffable" → un ##aff ##able), [UNK] per word', () => {
  const vocab = Vocab.fromText(
    [
      '[PAD]',
      '[unused0]',
      '[UNK]',
      '[CLS]',
      '[SEP]',
      '[MASK]',
      'un',
      '##aff',
      '##able',
      'want',
      '##ed',
      'runn',
      '##ing',
      ',',
      'a',
      '##b',
    ].join('\n') + '\n',
  );
  assert.equal(vocab.special.unk, 2);
  const tok = new WordPieceTokenizer(vocab, DEFAULT_WORDPIECE);
  assert.deepEqual(tok.tokenize('UNwanted, running'), ['[UNK]', ',', 'runn', '##ing']);
  assert.deepEqual(tok.tokenize('unaffable wanted abb'), [
    'un',
    '##aff',
    '##able',
    'want',
    '##ed',
    'a',
    '##b',
    '##b',
  ]);
  // 'abab' needs '##a', which is missing: the whole word becomes [UNK], not a partial split.
  assert.deepEqual(tok.tokenize('abab'), ['[UNK]']);
  assert.equal(tok.decode(tok.encode('unaffable wanted')), 'unaffable wanted');
  const pair = tok.encodePair('unaffable', 'wanted', 6);
  // 5 pieces for 3 free slots: the longer side loses pieces first (un ##aff ##able → un).
  assert.deepEqual(pair.ids, [3, 6, 4, 9, 10, 4]);
  assert.deepEqual(pair.typeIds, [0, 0, 0, 1, 1, 1]);
});

test('vocab.txt errors name the file and line', () => {
  assert.throws(
    () => Vocab.fromText('[PAD]\n\n[UNK]\n', 'v.txt'),
    (e) => e instanceof InputError && /v\.txt, line 2/.test(e.message),
  );
  assert.throws(() => Vocab.fromText('[PAD]\n[UNK]\n', 'v.txt'), /no \[CLS\]/);
  assert.throws(() => Vocab.fromText('[PAD]\n[PAD]\n', 'v.txt'), /duplicate/);
});

test('WordPiece builder: frequent words become single pieces, every seen word is covered, deterministic', () => {
  const corpus = ['the cat sat on the mat', 'the cat ate the rat', 'a mat for the cat'];
  const vocab = buildWordPieceVocab(corpus, { vocabSize: 40 });
  assert.ok(vocab.size <= 40);
  assert.deepEqual(vocab.tokens.slice(0, 5), ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']);
  assert.ok(vocab.has('the') && vocab.has('cat'), vocab.tokens.join(' '));
  const tok = new WordPieceTokenizer(vocab);
  for (const line of corpus) {
    assert.ok(!tok.encode(line).includes(vocab.special.unk));
    assert.equal(tok.decode(tok.encode(line)), line);
  }
  assert.deepEqual(buildWordPieceVocab(corpus, { vocabSize: 40 }).tokens, vocab.tokens);
  // Continuation pieces carry '##'; word-initial ones do not.
  assert.ok(vocab.tokens.some((t) => t.startsWith('##')));
  const likelihood = buildWordPieceVocab(corpus, { vocabSize: 40, score: 'likelihood' });
  assert.notDeepEqual(likelihood.tokens, vocab.tokens);
});

test('save/load tokenizers (char and WordPiece); a bare vocab.txt loads as BERT WordPiece', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kexue-tok-'));
  const en = CharTokenizer.build(['Hello world'], ENGLISH_CHAR);
  saveTokenizer(dir, en);
  const back = loadTokenizer(dir);
  assert.equal(back.kind, 'char');
  assert.deepEqual(back.encode('Hello  wor'), en.encode('Hello  wor'));
  const wp = new WordPieceTokenizer(buildWordPieceVocab(['some words here'], { vocabSize: 30 }), {
    lowercase: false,
    maxWordChars: 50,
  });
  saveTokenizer(dir, wp);
  const wpBack = loadTokenizer(dir);
  assert.deepEqual(wpBack.options(), { lowercase: false, maxWordChars: 50 });
  fs.rmSync(path.join(dir, 'tokenizer.json'));
  assert.equal(loadTokenizer(dir).kind, 'wordpiece');
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), '{"kind":"bpe"}');
  assert.throws(() => loadTokenizer(dir), /unknown tokenizer kind/);
  fs.rmSync(dir, { recursive: true });
});
