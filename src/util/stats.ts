/** Summaries over seeds, as every experiment reports them. */

/** Mean and sample standard deviation (n − 1; 0 for a single value). */
export function meanStd(v: readonly number[]): { mean: number; std: number } {
  const n = v.length;
  const mean = v.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std };
}

/** "mean ± std" with `digits` decimals. */
export function fmtMeanStd(v: readonly number[], digits = 2): string {
  const { mean, std } = meanStd(v);
  return `${mean.toFixed(digits)} ± ${std.toFixed(digits)}`;
}
