/**
 * Seeded pseudo-random numbers (mulberry32), so data splits, shuffles and initial weights are
 * reproducible from `--seed` alone.
 *
 * @example
 * const rng = new Rng(42);
 * const order = rng.shuffle([...Array(10).keys()]); // the same permutation for every run with seed 42
 * const u = rng.next(); // uniform in [0, 1)
 * const w = tf.randomNormal([4, 4], 0, 1, 'float32', rng.seed()); // a seed for a tf op
 */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** Fisher-Yates shuffle in place. */
  shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
  }

  /** A seed for a derived generator (for a tf op's `seed` argument, say). */
  seed(): number {
    return Math.floor(this.next() * 2 ** 31);
  }
}

/** A seed: a number (a fresh `Rng` is made from it) or a kexue `Rng` (which advances as it is used). */
export type Seed = number | Rng;

/** The `Rng` for `seed`; anything else is an error naming `name`. */
export function rngOf(seed: Seed, name = 'seed'): Rng {
  if (seed instanceof Rng) return seed;
  if (typeof seed === 'number' && Number.isFinite(seed)) return new Rng(seed);
  throw new Error(`${name}: must be a number or a kexue Rng, got ${String(seed)}`);
}

/**
 * A seed for one (step, purpose) of a run: trainers that draw each step's randomness from its own seed
 * (rather than from one stream) resume from a checkpoint exactly as if never stopped.
 *
 * @example
 * const order = new Rng(stepSeed(seed, epoch, 17)).shuffle([...Array(n).keys()]);
 */
export const stepSeed = (seed: number, step: number, salt: number): number =>
  (seed * 1000003 + step * 7919 + salt) >>> 0;
