import { test } from 'node:test';
import assert from 'node:assert/strict';
import { charNgrams, NgramVocab, normalizeText } from './ngrams.js';

test('character n-grams by code point, whitespace dropped', () => {
  assert.deepEqual(charNgrams('今天 好', [1, 2]), ['今', '天', '好', '今天', '天好']);
  assert.deepEqual(charNgrams('𠀀a', [2]), ['𠀀a']);
  assert.deepEqual(charNgrams('abcd', [3]), ['abc', 'bcd']);
  assert.deepEqual(charNgrams('a', [2]), []);
  assert.throws(() => charNgrams('ab', [0]), RangeError);
});

test('normalisation folds full-width forms and case', () => {
  assert.equal(normalizeText('ＡｐｐＳ１'), 'apps1');
});

test('vocabulary from training texts only, ordered by document frequency, with minCount', () => {
  const vocab = NgramVocab.build(['ab', 'abc', 'b'], { orders: [1, 2] });
  // b: 3 texts, a: 2, ab: 2, c: 1, bc: 1; ties by string.
  assert.deepEqual(
    ['b', 'a', 'ab', 'bc', 'c'].map((g) => vocab.id(g)),
    [0, 1, 2, 3, 4],
  );
  const pruned = NgramVocab.build(['ab', 'abc', 'b'], { orders: [1, 2], minCount: 2 });
  assert.equal(pruned.size, 3);
  assert.equal(pruned.id('c'), undefined);
  assert.equal(NgramVocab.build(['ab', 'abc', 'b'], { maxSize: 2 }).size, 2);
});

test('encode gives distinct sorted ids with counts, dropping unseen n-grams', () => {
  const vocab = NgramVocab.build(['abab'], { orders: [1, 2] });
  const bags = vocab.encode(['abab', 'zz', 'ba']);
  assert.equal(bags.rows, 3);
  assert.deepEqual(Array.from(bags.offsets), [0, 4, 4, 7]);
  const row0 = new Map(Array.from(bags.ids.slice(0, 4), (id, k) => [id, bags.counts[k]]));
  assert.deepEqual(
    ['a', 'b', 'ab', 'ba'].map((g) => row0.get(vocab.id(g)!)),
    [2, 2, 2, 1],
  );
  assert.deepEqual(
    Array.from(bags.ids.slice(0, 4)),
    [...bags.ids.slice(0, 4)].sort((x, y) => x - y),
  );
  assert.deepEqual(Array.from(bags.counts.slice(4)), [1, 1, 1]);
});
