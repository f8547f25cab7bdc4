/**
 * tfjs-core specs not run against the 'aten' backend: a spec is skipped when its full name contains
 * `pattern`. Each entry says why.
 */
export interface Exclusion {
  pattern: string;
  reason: string;
}

export const EXCLUSIONS: readonly Exclusion[] = [
  {
    pattern: 'Switching cpu backends',
    reason: "registers backends 'cpu1'/'cpu2' and runs only when the backend under test is cpu",
  },
  {
    pattern: 'maxPool test-kexue {} [x=[3,3,1] f=[2,2] s=1 ignores NaNs',
    reason:
      "ATen's max_pool2d propagates NaN; tfjs's skips it (masking NaN would cost every max-pool an extra pass)",
  },
];
