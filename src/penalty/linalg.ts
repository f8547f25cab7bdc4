/**
 * Small dense float64 linear algebra for the inequality and FID: spectral norms (largest singular
 * value) and symmetric eigen-decompositions. Matrices are row-major Float64Array with explicit shape.
 */

/** G = A·Aᵀ (rows × rows) or Aᵀ·A (cols × cols), whichever is smaller: same nonzero eigenvalues. */
export function smallGram(a: Float64Array, rows: number, cols: number): { g: Float64Array; n: number } {
  if (rows <= cols) {
    const g = new Float64Array(rows * rows);
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j <= i; j++) {
        let s = 0;
        for (let k = 0; k < cols; k++) s += a[i * cols + k] * a[j * cols + k];
        g[i * rows + j] = s;
        g[j * rows + i] = s;
      }
    }
    return { g, n: rows };
  }
  const g = new Float64Array(cols * cols);
  for (let k = 0; k < rows; k++) {
    const o = k * cols;
    for (let i = 0; i < cols; i++) {
      const ai = a[o + i];
      if (ai === 0) continue;
      for (let j = 0; j <= i; j++) g[i * cols + j] += ai * a[o + j];
    }
  }
  for (let i = 0; i < cols; i++) for (let j = 0; j < i; j++) g[j * cols + i] = g[i * cols + j];
  return { g, n: cols };
}

/**
 * Householder reduction of a symmetric matrix (destroyed) to tridiagonal form: diagonal d and
 * sub-diagonal e (e[i] couples i and i+1). Eigenvalues are preserved (orthogonal similarity).
 */
function tridiagonalize(a: Float64Array, n: number): { d: Float64Array; e: Float64Array } {
  const v = new Float64Array(n);
  const p = new Float64Array(n);
  for (let k = 0; k < n - 2; k++) {
    let norm2 = 0;
    for (let i = k + 1; i < n; i++) norm2 += a[i * n + k] ** 2;
    const norm = Math.sqrt(norm2);
    const x0 = a[(k + 1) * n + k];
    if (norm === 0 || norm2 === x0 * x0) continue; // already zero below the sub-diagonal
    const alpha = x0 > 0 ? -norm : norm;
    // v = x − αe₁, normalised; H = I − 2vvᵀ maps x to αe₁.
    let vn = 0;
    for (let i = k + 1; i < n; i++) {
      v[i] = a[i * n + k] - (i === k + 1 ? alpha : 0);
      vn += v[i] * v[i];
    }
    vn = Math.sqrt(vn);
    for (let i = k + 1; i < n; i++) v[i] /= vn;
    // A ← HAH on the trailing block: A − 2(vwᵀ + wvᵀ), p = Av, K = vᵀp, w = p − Kv.
    let kk = 0;
    for (let i = k + 1; i < n; i++) {
      let s = 0;
      for (let j = k + 1; j < n; j++) s += a[i * n + j] * v[j];
      p[i] = s;
      kk += v[i] * s;
    }
    for (let i = k + 1; i < n; i++) p[i] -= kk * v[i];
    for (let i = k + 1; i < n; i++) {
      for (let j = k + 1; j < n; j++) a[i * n + j] -= 2 * (v[i] * p[j] + p[i] * v[j]);
    }
    a[(k + 1) * n + k] = alpha;
    a[k * n + k + 1] = alpha;
    for (let i = k + 2; i < n; i++) a[i * n + k] = a[k * n + i] = 0;
  }
  const d = new Float64Array(n);
  const e = new Float64Array(Math.max(n - 1, 0));
  for (let i = 0; i < n; i++) d[i] = a[i * n + i];
  for (let i = 0; i < n - 1; i++) e[i] = a[(i + 1) * n + i];
  return { d, e };
}

/** Number of eigenvalues of the tridiagonal (d, e) strictly below `x` (Sturm sequence). */
function countBelow(d: Float64Array, e: Float64Array, x: number): number {
  let count = 0;
  let q = 1;
  for (let i = 0; i < d.length; i++) {
    q = d[i] - x - (i > 0 ? (e[i - 1] * e[i - 1]) / q : 0);
    if (q === 0) q = -1e-300; // perturb an exact zero pivot; counts it as below
    if (q < 0) count++;
  }
  return count;
}

/**
 * Largest eigenvalue of a symmetric matrix (copied, not modified), by tridiagonalisation and
 * bisection on the Sturm count to full double precision. Returns the upper end of the final bracket,
 * so it never underestimates by more than rounding.
 */
export function largestEigenvalue(sym: Float64Array, n: number): number {
  if (n === 0) return 0;
  if (n === 1) return sym[0];
  const { d, e } = tridiagonalize(Float64Array.from(sym), n);
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    const r = (i > 0 ? Math.abs(e[i - 1]) : 0) + (i < n - 1 ? Math.abs(e[i]) : 0);
    lo = Math.min(lo, d[i] - r);
    hi = Math.max(hi, d[i] + r);
  }
  const scale = Math.max(Math.abs(lo), Math.abs(hi), 1e-300);
  hi += 1e-12 * scale;
  for (let it = 0; it < 200 && hi - lo > 4e-16 * scale; it++) {
    const mid = 0.5 * (lo + hi);
    if (mid <= lo || mid >= hi) break;
    if (countBelow(d, e, mid) === n) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** Squared spectral norm ‖A‖₂² = λ_max(AᵀA) of a rows × cols matrix. */
export function spectralNormSq(a: Float64Array, rows: number, cols: number): number {
  if (rows === 0 || cols === 0) return 0;
  const { g, n } = smallGram(a, rows, cols);
  return Math.max(0, largestEigenvalue(g, n));
}

/**
 * All eigenvalues and eigenvectors of a symmetric matrix by cyclic Jacobi rotations (accurate to
 * rounding; O(n³) per sweep, fine for n ≲ 200). Returns values and row-major vectors V with
 * A = V·diag(values)·Vᵀ (eigenvectors in V's columns).
 */
export function symmetricEigen(
  sym: Float64Array,
  n: number,
): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(sym);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    let diag = 0;
    for (let i = 0; i < n; i++) {
      diag += a[i * n + i] ** 2;
      for (let j = i + 1; j < n; j++) off += a[i * n + j] ** 2;
    }
    if (off <= 1e-30 * Math.max(diag, 1e-300)) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (apq === 0) continue;
        const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p];
          const akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k];
          const aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p];
          const vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = a[i * n + i];
  return { values, vectors: v };
}
