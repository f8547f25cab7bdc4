/**
 * Registers the 'aten' backend and its kernels with tfjs-core: every native kernel (falling back to the cpu
 * kernel when it declines a case or ATen rejects the input), then a cpu fallback for every other kernel
 * the cpu backend has.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import os from 'node:os';
import type { AtenAddon } from './addon.js';
import { AtenBackend } from './backend.js';
import { runOnCpu } from './fallback.js';
import { mathKernels, type Inputs, type NativeKernel } from './kernels_math.js';
import { nnKernels } from './kernels_nn.js';
import { fusedKernels } from './kernels_fused.js';
import { shapeKernels } from './kernels_shape.js';
import { Unsupported, bindNative, scoped } from './native.js';
import { fuseTfjsOptimizers } from './tfjs-optimizers.js';

export const BACKEND_NAME = 'aten';
// KEXUE_ATEN_FUSED=0 leaves the fused kernels out (and tf.train.adam unpatched): for before/after benchmarks.
const fused = process.env.KEXUE_ATEN_FUSED !== '0';

export const nativeKernels: Readonly<Record<string, NativeKernel>> = {
  ...mathKernels,
  ...shapeKernels,
  ...nnKernels,
  ...(fused ? fusedKernels : {}),
};

function wrap(name: string, k: NativeKernel): tf.KernelFunc {
  return (args) => {
    const b = args.backend as AtenBackend;
    const inputs = args.inputs;
    for (const t of Object.values(inputs)) {
      if (t != null && b.data.get(t.dataId)?.cpu) return runOnCpu(name, args, 'cpu-held input');
    }
    try {
      return scoped(() => k(inputs as Inputs, args.attrs ?? {}));
    } catch (e) {
      // Declined cases, and inputs ATen rejects, get the cpu kernel's result (or its error message).
      const why =
        e instanceof Unsupported ? e.message : `native error: ${(e as Error).message.split('\n')[0]}`;
      if (!tf.getKernel(name, 'cpu')) throw e;
      return runOnCpu(name, args, why);
    }
  };
}

function threads(): number {
  const env = Number(process.env.KEXUE_ATEN_THREADS);
  if (Number.isInteger(env) && env > 0) return env;
  return os.availableParallelism?.() ?? os.cpus().length;
}

let registered = false;

/** Registers backend and kernels once; returns false if tfjs refused the registration. */
export function registerAten(addon: AtenAddon): boolean {
  if (registered || tf.findBackendFactory(BACKEND_NAME) != null) return true;
  addon.setThreads(threads());
  const ok = tf.registerBackend(
    BACKEND_NAME,
    () => {
      const backend = new AtenBackend(addon);
      bindNative(addon, backend);
      return backend;
    },
    4,
  );
  if (!ok) return false;
  const native = new Set(Object.keys(nativeKernels));
  for (const [name, k] of Object.entries(nativeKernels)) {
    tf.registerKernel({ kernelName: name, backendName: BACKEND_NAME, kernelFunc: wrap(name, k) });
  }
  for (const cfg of tf.getKernelsForBackend('cpu')) {
    if (native.has(cfg.kernelName)) continue;
    const name = cfg.kernelName;
    tf.registerKernel({
      kernelName: name,
      backendName: BACKEND_NAME,
      kernelFunc: (args) => runOnCpu(name, args),
    });
  }
  if (fused) fuseTfjsOptimizers();
  registered = true;
  return true;
}
