/** Loads the native addon (build/Release/kexue_aten.node, built by `npm run build:native`). */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** Argument accepted by the generic op surface: tensor ids, numbers, int lists, dtype strings, null. */
export type OpArg = number | boolean | string | null | undefined | readonly (number | boolean | null)[];

export interface AtenAddon {
  /** Resolves an ATen operator ("aten::add", overload "Tensor") to a handle. */
  op(name: string, overload: string): number;
  /** Calls an operator; `mode` is a dtype to cast tensor results to, or 'raw' to keep int64/float64. */
  call(handle: number, args: readonly OpArg[], mode?: string): number | (number | number[])[];
  fromData(
    values: Float32Array | Int32Array | Uint8Array | null,
    shape: readonly number[],
    dtype: string,
  ): number;
  toData(id: number): Float32Array | Int32Array | Uint8Array;
  /** A float32 tensor of 0 and 1/(1 − rate), each element kept with probability 1 − rate (SplitMix64 from `seed`). */
  dropoutMask(shape: readonly number[], rate: number, seed: number): number;
  /** Standard-normal float32 draws of `shape` (ATen's normal, a generator made from `seed`). */
  randomNormal(shape: readonly number[], seed: number): number;
  /** Float32 0/1 per element of tensor `p`: 1 with probability p (SplitMix64 from `seed`). */
  bernoulli(p: number, seed: number): number;
  /**
   * The AdamW update of several variables in one pass each, split evenly over the threads: new
   * [param, m, v] ids per variable from ids [param, m, v, grad] per variable, an optional scalar clip
   * tensor, [clip, beta1, beta2, bc1, bc2, epsilon, lr] and each variable's decay factor (formula in
   * src/nn/fused-update.ts). A variable flagged in `sole` (tfjs holds its three tensors once) whose
   * tensors no ATen view shares is updated in place, and its outputs are new ids of the same tensors.
   */
  adamW(
    ids: readonly number[],
    clipScale: number | null,
    scalars: readonly number[],
    decays: readonly number[],
    sole: readonly boolean[],
  ): number[];
  /** Σ over the last axis of x·l − softplus(l) (x broadcast to l's shape), one pass. */
  bernoulliLogPmf(x: number, logits: number): number;
  /** dy[..., None]·(x − sigmoid(l)), shape of l: the gradient of `bernoulliLogPmf`, one pass. */
  bernoulliLogPmfGrad(dy: number, x: number, logits: number): number;
  /**
   * a @ b (each optionally transposed) over equal batch axes, the batch split over the threads, one
   * cblas_sgemm a product on the operands' strides; null when it does not apply (see native/aten.cc).
   */
  batchMatmul(a: number, b: number, transposeA: boolean, transposeB: boolean): number | null;
  /**
   * act(x·w + b) for float32 x [rows, in], w [in, out], b [out]; activation 0 linear, 1 relu, 2 tanh,
   * 3 sigmoid: one product, then the bias and the activation in one pass over it.
   */
  dense(x: number, w: number, b: number, activation: number): number;
  /** [dPre, dW, db] of `dense` from dy and its output y: dPre = dy·act'(y), dW = xᵀ·dPre, db = Σ_rows dPre. */
  denseGrad(dy: number, x: number, w: number, y: number, activation: number): number[];
  /** tanh of a float32 tensor in one pass (libmvec's vector tanhf; see native/loops.h). */
  tanh(x: number): number;
  /** dy·(1 − y²), tanh's gradient from its output y. */
  tanhGrad(dy: number, y: number): number;
  /** Frees one id, or several in one call. */
  free(id: number | number[]): void;
  shape(id: number): number[];
  /** The shape when the tensor has `dtype`, else null (an output's check and read in one call). */
  shapeIf(id: number, dtype: string): number[] | null;
  /** Whether the tensor is laid out row-major without gaps (false for a strided view). */
  isContiguous(id: number): boolean;
  count(): number;
  bytes(): number;
  setThreads(n: number): void;
  getThreads(): number;
  /** OpenBLAS's thread count (kept equal to ATen's by `setThreads`), or -1 when the BLAS is another. */
  getBlasThreads(): number;
  seed(n: number): void;
  /** Returns freed heap pages to the OS (malloc_trim), for RSS readings in leak checks. */
  trim(): void;
}

let cached: AtenAddon | null | undefined;
const setHere: string[] = [];

/** Sets an environment variable libraries read when they load, unless the user has set it. */
function envDefault(name: string, value: string): void {
  if (process.env[name] !== undefined) return;
  process.env[name] = value;
  setHere.push(name);
}

/**
 * The thread-behaviour environment variables `loadAddon` set because the user had not (OMP_WAIT_POLICY,
 * OPENBLAS_THREAD_TIMEOUT): child processes inherit them, so a benchmark can leave them out to run a
 * reference the way its users do.
 */
export function envSetByKexue(): readonly string[] {
  return setHere;
}

/** The addon, or null when it is not built or libtorch cannot be loaded (never throws). */
export function loadAddon(): AtenAddon | null {
  if (cached !== undefined) return cached;
  // libgomp reads this when libtorch loads: busy-waiting OpenMP workers collapse throughput (10-20x on
  // element-wise ops) whenever other processes share the cores, so wait passively unless told otherwise.
  envDefault('OMP_WAIT_POLICY', 'PASSIVE');
  // OpenBLAS's workers spin on sched_yield for ~2^28 cycles after each product (its THREAD_TIMEOUT
  // default, 28); between products, while the main thread runs JavaScript and ATen's element-wise ops want
  // the other core, that spinning took a third of the process's samples. 2^4 makes them sleep at once: the
  // recipe encoder's step went from 176–188 to 155–163 ms (medians of 15 steps, alternating runs).
  envDefault('OPENBLAS_THREAD_TIMEOUT', '4');
  try {
    const require = createRequire(import.meta.url);
    // dist/backend/aten/ -> package root; KEXUE_ATEN_ADDON points elsewhere (tests use it to simulate absence).
    const file =
      process.env.KEXUE_ATEN_ADDON ??
      fileURLToPath(new URL('../../../build/Release/kexue_aten.node', import.meta.url));
    cached = require(file) as AtenAddon;
  } catch {
    cached = null;
  }
  return cached;
}
