/** Error measures shared by the numeric tests. */

/** ‖a − b‖ / ‖b‖ (Euclidean), with ‖b‖ floored at 1e-15 so an all-zero reference is not a division by zero. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}
