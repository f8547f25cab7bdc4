/**
 * 2-D toy distributions and their sample-quality metrics.
 *
 * - 8 Gaussians: means on the circle of radius 2, σ = 0.02 (the WGAN-GP toy's radius and width).
 * - 25 Gaussians: means on the grid {−2, −1, 0, 1, 2}², σ = 0.02 (WGAN-GP's grid scaled by ½).
 * - swiss roll: t ~ U(1.5π, 4.5π), point (t cos t, t sin t)/7.5 plus N(0, 0.05²) noise per coordinate;
 *   its "modes" are 20 equal-length pieces of t.
 *
 * Metrics (as in VEEGAN/PacGAN-style evaluations): a sample is high quality when it lies within 3σ
 * of the nearest mode's centre (for the roll: within 3σ of the noiseless curve), and a mode is covered
 * when it receives at least a fifth of its fair share of high-quality samples (n/(5K)). The fair-share
 * threshold keeps a handful of stray samples from counting a mode as generated.
 */
import type { Rng } from '../util/rng.js';

/** The 2-D toy distributions `toy` knows (see the file header). */
export type ToyName = '8gaussians' | '25gaussians' | 'swissroll';
/** Every `ToyName`, for command-line choices and loops. */
export const TOY_NAMES: readonly ToyName[] = ['8gaussians', '25gaussians', 'swissroll'];

/** A toy's sample-quality metrics for a set of generated points (see the file header). */
export interface ToyMetrics {
  /** Modes covered, out of `modes`. */
  covered: number;
  /** Number of modes: 8, 25, or the roll's 20 pieces. */
  modes: number;
  /** Fraction of samples within 3σ of a mode (of the curve). */
  highQuality: number;
}

/** A toy distribution: a seeded sampler and the metrics of generated points against it. */
export interface Toy {
  name: ToyName;
  /** n points, row-major [n, 2]. */
  sample(n: number, rng: Rng): Float32Array;
  /** Metrics of n points given row-major [n, 2]. */
  metrics(points: ArrayLike<number>, n: number): ToyMetrics;
}

function gaussianMixture(name: ToyName, means: [number, number][], sigma: number): Toy {
  return {
    name,
    sample(n, rng) {
      const out = new Float32Array(2 * n);
      for (let i = 0; i < n; i++) {
        const [mx, my] = means[rng.int(means.length)];
        out[2 * i] = mx + sigma * rng.normal();
        out[2 * i + 1] = my + sigma * rng.normal();
      }
      return out;
    },
    metrics(points, n) {
      const counts = new Array<number>(means.length).fill(0);
      let hq = 0;
      for (let i = 0; i < n; i++) {
        let best = Infinity;
        let arg = 0;
        means.forEach(([mx, my], k) => {
          const d = Math.hypot(points[2 * i] - mx, points[2 * i + 1] - my);
          if (d < best) [best, arg] = [d, k];
        });
        if (best <= 3 * sigma) {
          hq++;
          counts[arg]++;
        }
      }
      const need = Math.max(1, n / (5 * means.length));
      return { covered: counts.filter((c) => c >= need).length, modes: means.length, highQuality: hq / n };
    },
  };
}

const ROLL_T0 = 1.5 * Math.PI;
const ROLL_T1 = 4.5 * Math.PI;
const ROLL_SCALE = 1 / 7.5;
const ROLL_SIGMA = 0.05;
const ROLL_PIECES = 20;

function rollPoint(t: number): [number, number] {
  return [t * Math.cos(t) * ROLL_SCALE, t * Math.sin(t) * ROLL_SCALE];
}

/** Dense polyline of the noiseless roll, with the arc-length piece index of each vertex. */
const ROLL_CURVE = (() => {
  const m = 4000;
  const pts: [number, number][] = [];
  for (let i = 0; i <= m; i++) pts.push(rollPoint(ROLL_T0 + ((ROLL_T1 - ROLL_T0) * i) / m));
  const len = [0];
  for (let i = 1; i <= m; i++)
    len.push(len[i - 1] + Math.hypot(pts[i][0] - pts[i - 1][0], pts[i][1] - pts[i - 1][1]));
  const total = len[m];
  return pts.map((p, i) => ({
    p,
    piece: Math.min(ROLL_PIECES - 1, Math.floor((len[i] / total) * ROLL_PIECES)),
  }));
})();

const swissRoll: Toy = {
  name: 'swissroll',
  sample(n, rng) {
    const out = new Float32Array(2 * n);
    for (let i = 0; i < n; i++) {
      const [x, y] = rollPoint(ROLL_T0 + rng.next() * (ROLL_T1 - ROLL_T0));
      out[2 * i] = x + ROLL_SIGMA * rng.normal();
      out[2 * i + 1] = y + ROLL_SIGMA * rng.normal();
    }
    return out;
  },
  metrics(points, n) {
    // The curve density in t is not uniform in arc length, but pieces are equal in arc length and the
    // sampler is uniform in t, so fair shares differ; we use the smallest piece's expected share.
    const counts = new Array<number>(ROLL_PIECES).fill(0);
    let hq = 0;
    for (let i = 0; i < n; i++) {
      let best = Infinity;
      let piece = 0;
      for (const v of ROLL_CURVE) {
        const d = (points[2 * i] - v.p[0]) ** 2 + (points[2 * i + 1] - v.p[1]) ** 2;
        if (d < best) [best, piece] = [d, v.piece];
      }
      if (Math.sqrt(best) <= 3 * ROLL_SIGMA) {
        hq++;
        counts[piece]++;
      }
    }
    const need = Math.max(1, n / (5 * ROLL_PIECES) / 2);
    return { covered: counts.filter((c) => c >= need).length, modes: ROLL_PIECES, highQuality: hq / n };
  },
};

/**
 * The toy distribution `name` (see the file header for the exact means, widths and metrics).
 *
 * @example
 * const ring = toy('8gaussians');
 * const pts = ring.sample(1000, new Rng(0)); // Float32Array, row-major [1000, 2]
 * ring.metrics(pts, 1000); // real samples: { covered: 8, modes: 8, highQuality: ≈0.99 }
 */
export function toy(name: ToyName): Toy {
  switch (name) {
    case '8gaussians':
      return gaussianMixture(
        name,
        Array.from({ length: 8 }, (_, k) => [
          2 * Math.cos((k * Math.PI) / 4),
          2 * Math.sin((k * Math.PI) / 4),
        ]),
        0.02,
      );
    case '25gaussians': {
      const means: [number, number][] = [];
      for (let i = -2; i <= 2; i++) for (let j = -2; j <= 2; j++) means.push([i, j]);
      return gaussianMixture(name, means, 0.02);
    }
    case 'swissroll':
      return swissRoll;
  }
}
