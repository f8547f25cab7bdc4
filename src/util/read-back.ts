/**
 * Drivers for work written once as a generator that yields tensors to read back and is sent their
 * values: `readBackSync` reads with `dataSync()`, `readBackAsync` with `await data()` (which keeps a
 * browser page responsive on webgl/webgpu). The generator disposes what it yields; if a read fails, the
 * generator is closed so its `finally` blocks still free what it holds.
 */
import type * as tf from '@tensorflow/tfjs-core';

type Work<R, V> = Generator<tf.Tensor, R, V>;

/**
 * Inside a work generator: `const v = yield* readAndDispose(t)` yields `t` to the driver and disposes it
 * once read, or when the work is abandoned (for intermediates the work owns, not the caller's tensors).
 */
export function* readAndDispose<T extends tf.Tensor, V extends ArrayLike<number> = ArrayLike<number>>(
  t: T,
): Generator<T, V, V> {
  try {
    return yield t;
  } finally {
    t.dispose();
  }
}

/** Runs `work`, reading each yielded tensor with `dataSync()`. */
export function readBackSync<R, V extends ArrayLike<number>>(work: Work<R, V>): R {
  let step = work.next(undefined as unknown as V);
  try {
    while (!step.done) step = work.next(step.value.dataSync() as unknown as V);
  } catch (e) {
    work.return(undefined as R);
    throw e;
  }
  return step.value;
}

/** Runs `work`, reading each yielded tensor with `await data()`. */
export async function readBackAsync<R, V extends ArrayLike<number>>(work: Work<R, V>): Promise<R> {
  let step = work.next(undefined as unknown as V);
  try {
    while (!step.done) step = work.next((await step.value.data()) as unknown as V);
  } catch (e) {
    work.return(undefined as R);
    throw e;
  }
  return step.value;
}
