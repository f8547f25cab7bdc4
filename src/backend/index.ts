/**
 * Backend selection, in one place. Order: the native ATen backend when its addon is built, then
 * `@tensorflow/tfjs-node` if the user already has it, then WebAssembly (SIMD), then plain JS `cpu`.
 * `KEXUE_BACKEND=aten|tensorflow|wasm|cpu` forces one.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { createRequire } from 'node:module';
import path from 'node:path';
import { registerGradientFixes } from '../grad/index.js';

export type BackendName = 'aten' | 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_ORDER: readonly BackendName[] = ['aten', 'tensorflow', 'wasm', 'cpu'];

const require = createRequire(import.meta.url);
let chosen: Promise<BackendName> | undefined;

async function registerAten(): Promise<boolean> {
  try {
    const aten = (await import('./aten/index.js')) as { isAvailable?: () => boolean };
    return aten.isAvailable?.() ?? false;
  } catch {
    return false;
  }
}

async function registerTfjsNode(): Promise<boolean> {
  try {
    require.resolve('@tensorflow/tfjs-node');
  } catch {
    return false;
  }
  try {
    await import('@tensorflow/tfjs-node' as string);
    return tf.findBackend('tensorflow') != null || tf.findBackendFactory('tensorflow') != null;
  } catch {
    return false;
  }
}

async function registerWasm(): Promise<boolean> {
  try {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    // Load the .wasm binaries from node_modules rather than a CDN: no network at run time.
    const dir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
    wasm.setWasmPaths(dir + path.sep);
    const { registerWasmKernels } = await import('./wasm-kernels.js');
    registerWasmKernels();
    return true;
  } catch {
    return false;
  }
}

const registrars: Record<BackendName, () => Promise<boolean>> = {
  aten: registerAten,
  tensorflow: registerTfjsNode,
  wasm: registerWasm,
  cpu: async () => true,
};

function requested(): BackendName | undefined {
  const v = process.env.KEXUE_BACKEND?.trim();
  if (!v) return undefined;
  if (!(BACKEND_ORDER as readonly string[]).includes(v)) {
    throw new Error(`KEXUE_BACKEND=${v} is not one of ${BACKEND_ORDER.join(', ')}`);
  }
  return v as BackendName;
}

async function tryBackend(name: BackendName): Promise<boolean> {
  if (!(await registrars[name]())) return false;
  try {
    return await tf.setBackend(name);
  } catch {
    return false;
  }
}

async function choose(quiet: boolean): Promise<BackendName> {
  const forced = requested();
  if (forced) {
    if (await tryBackend(forced)) return forced;
    throw new Error(`KEXUE_BACKEND=${forced}: that backend could not be initialised on this machine`);
  }
  for (const name of BACKEND_ORDER) {
    if (await tryBackend(name)) {
      if (name !== 'aten' && !quiet && process.env.KEXUE_QUIET !== '1') {
        process.stderr.write(
          `kexue: native ATen backend not built; using '${name}' (see README, "Native backend")\n`,
        );
      }
      await tf.ready();
      return name;
    }
  }
  throw new Error('no TensorFlow.js backend could be initialised');
}

/** Selects and initialises the fastest available backend once; later calls return the same choice. */
export function initBackend(opts: { quiet?: boolean } = {}): Promise<BackendName> {
  registerGradientFixes();
  chosen ??= choose(opts.quiet ?? false);
  return chosen;
}
