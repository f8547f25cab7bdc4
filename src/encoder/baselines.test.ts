import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../util/rng.js';
import { mlmCountBaselines } from './baselines.js';

const SPECIAL = new Set([0, 1, 2]); // pad, [CLS], [SEP]

test('mlmCountBaselines: hand-counted case', () => {
  // Training: 5 is always between 3 and 4; 6 is the most frequent token overall.
  const train = [
    [1, 3, 5, 4, 2],
    [1, 3, 5, 4, 2],
    [1, 6, 6, 6, 6, 2],
  ];
  const held = [[1, 3, 5, 4, 6, 2]];
  const b = mlmCountBaselines(train, held, SPECIAL);
  assert.equal(b.positions, 4);
  // Unigram always says 6: right once in four.
  assert.equal(b.unigram, 1 / 4);
  // Two neighbours: 3 in ([CLS], 5) and 5 in (3, 4) were seen → right; 4 in (5, 6) was not, 5's most
  // frequent successor is 4 → right; 6 in (4, [SEP]): no pair, 4 has no non-special successor, and
  // [SEP]'s most frequent predecessor is 4 (twice vs 6 once) → wrong.
  assert.equal(b.neighbours, 3 / 4);
});

/** The same definition written plainly with string keys (reference). */
function reference(train: number[][], held: number[][]) {
  const count = (m: Map<string, Map<number, number>>, k: string, t: number) => {
    const c = m.get(k) ?? new Map<number, number>();
    c.set(t, (c.get(t) ?? 0) + 1);
    m.set(k, c);
  };
  const best = (c: Map<number, number> | undefined) =>
    c ? [...c].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0][0] : undefined;
  const ctx = new Map<string, Map<number, number>>();
  for (const s of train)
    s.forEach((t, i) => {
      if (SPECIAL.has(t)) return;
      count(ctx, 'u', t);
      if (i > 0) count(ctx, `l${s[i - 1]}`, t);
      if (i + 1 < s.length) count(ctx, `r${s[i + 1]}`, t);
      if (i > 0 && i + 1 < s.length) count(ctx, `b${s[i - 1]},${s[i + 1]}`, t);
    });
  let n = 0;
  let u = 0;
  let nb = 0;
  for (const s of held)
    s.forEach((t, i) => {
      if (SPECIAL.has(t)) return;
      n++;
      if (best(ctx.get('u')) === t) u++;
      const g =
        (i > 0 && i + 1 < s.length ? best(ctx.get(`b${s[i - 1]},${s[i + 1]}`)) : undefined) ??
        (i > 0 ? best(ctx.get(`l${s[i - 1]}`)) : undefined) ??
        (i + 1 < s.length ? best(ctx.get(`r${s[i + 1]}`)) : undefined) ??
        best(ctx.get('u'));
      if (g === t) nb++;
    });
  return { unigram: u / n, neighbours: nb / n, positions: n };
}

test('mlmCountBaselines equals a plainly written reference on random Markov text', () => {
  const rng = new Rng(9);
  const seq = () => {
    const s = [1];
    let t = 3 + rng.int(20);
    for (let i = 0; i < 30; i++) {
      s.push(t);
      t = rng.next() < 0.6 ? 3 + ((t * 7) % 20) : 3 + rng.int(20);
    }
    return [...s, 2];
  };
  const train = Array.from({ length: 200 }, seq);
  const held = Array.from({ length: 40 }, seq);
  const got = mlmCountBaselines(train, held, SPECIAL);
  assert.deepEqual(got, reference(train, held));
  // Structured text: the neighbours model far above the unigram.
  assert.ok(got.neighbours > got.unigram + 0.3, `${got.neighbours} vs ${got.unigram}`);
  assert.ok(Number.isNaN(mlmCountBaselines(train, [[1, 2]], SPECIAL).unigram));
});
