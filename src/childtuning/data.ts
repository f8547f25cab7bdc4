/** Labelled texts and deterministic subsets of them (few-shot, subsamples). */
import { Rng } from '../util/rng.js';

/** A text and its class label (an integer from 0). */
export interface LabelledText {
  text: string;
  label: number;
}

/**
 * A stratified few-shot subset: `perClass` examples of each class (all of a class that has fewer),
 * chosen by `seed` alone; classes appear in label order, examples in their original order.
 *
 * @example
 * const train16 = fewShot(train, 16, 1); // 16 examples of each class, the same ones for seed 1
 */
export function fewShot<T extends LabelledText>(examples: readonly T[], perClass: number, seed: number): T[] {
  if (!(Number.isInteger(perClass) && perClass >= 1))
    throw new Error(`few-shot size must be a positive integer, got ${perClass}`);
  const byClass = new Map<number, number[]>();
  examples.forEach((e, i) => {
    const list = byClass.get(e.label) ?? [];
    list.push(i);
    byClass.set(e.label, list);
  });
  const rng = new Rng(seed ^ 0x3c6ef372);
  const chosen: number[] = [];
  for (const label of [...byClass.keys()].sort((a, b) => a - b)) {
    const idx = rng.shuffle([...byClass.get(label)!]);
    chosen.push(...idx.slice(0, perClass).sort((a, b) => a - b));
  }
  return chosen.map((i) => examples[i]);
}

/** A seeded subsample of at most `n` examples (all when n is undefined or ≥ the size), original order kept. */
export function seededSubset<T>(examples: readonly T[], n: number | undefined, seed: number): T[] {
  if (n === undefined || n >= examples.length) return [...examples];
  const idx = new Rng(seed ^ 0x1b873593).shuffle(Array.from(examples.keys())).slice(0, n);
  return idx.sort((a, b) => a - b).map((i) => examples[i]);
}
