/**
 * Backend selection for Node, in one place. Order: the native ATen backend when its addon is built,
 * then `@tensorflow/tfjs-node` if the user already has it, then WebAssembly (SIMD), then plain JS `cpu`.
 * `KEXUE_BACKEND=aten|tensorflow|wasm|cpu` forces one. A backend the user set first is kept.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { createRequire } from 'node:module';
import path from 'node:path';
import { registerGradientFixes } from '../grad/index.js';

/** The backends initBackend can choose. */
export type BackendName = 'aten' | 'tensorflow' | 'wasm' | 'cpu';
/** initBackend's order of preference. */
export const BACKEND_ORDER: readonly BackendName[] = ['aten', 'tensorflow', 'wasm', 'cpu'];

const require = createRequire(import.meta.url);

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

/**
 * tfjs-backend-cpu prints a "Hi, looks like you are running TensorFlow.js in Node.js" banner through
 * tfjs-core's warn() on its first write when IS_NODE. kexue chose the backend on purpose (and says so in
 * its own one-line notice), so that first write is made here with warn() muted (IS_TEST, which is
 * what warn() checks), then the flag is restored. Done whenever a cpu backend is registered, since the
 * native backend's fallbacks write to it too.
 */
function muteCpuBanner(): void {
  if (tf.findBackendFactory('cpu') == null) return;
  const env = tf.env();
  const was = env.getBool('IS_TEST');
  env.set('IS_TEST', true);
  try {
    const cpu = tf.findBackend('cpu');
    if (cpu) cpu.disposeData(cpu.write(new Float32Array(1), [1], 'float32'));
  } finally {
    env.set('IS_TEST', was);
  }
}

async function tryBackend(name: BackendName): Promise<boolean> {
  if (!(await registrars[name]())) return false;
  try {
    return await tf.setBackend(name);
  } catch {
    return false;
  }
}

/** The backend already active (set with tf.setBackend, or picked by TF.js when tensors were made), if any. */
function activeBackend(): string | undefined {
  // engine().backendName is set only once a backend is active; tf.getBackend() would pick one itself.
  return (tf.engine() as { backendName?: string | null }).backendName ?? undefined;
}

async function choose(opts: InitBackendOptions): Promise<string> {
  const named = opts.backend ?? requested();
  if (named) {
    if (!BACKEND_ORDER.includes(named)) {
      throw new Error(`initBackend: backend '${String(named)}' is not one of ${BACKEND_ORDER.join(', ')}`);
    }
    if (activeBackend() === named || (await tryBackend(named))) return named;
    const how = opts.backend ? `initBackend({ backend: '${named}' })` : `KEXUE_BACKEND=${named}`;
    throw new Error(`${how}: that backend could not be initialised on this machine`);
  }
  const active = activeBackend();
  if (active && !opts.force) return active;
  for (const name of BACKEND_ORDER) {
    if (await tryBackend(name)) {
      if (name !== 'aten' && !opts.quiet && process.env.KEXUE_QUIET !== '1') {
        process.stderr.write(
          `kexue: native ATen backend not built; using '${name}' (see README, "Native backend")\n`,
        );
      }
      return name;
    }
  }
  throw new Error('no TensorFlow.js backend could be initialised');
}

/** Options of `initBackend`. */
export interface InitBackendOptions {
  /** No notice on stderr when the native backend is not the one used (KEXUE_QUIET=1 does the same). */
  quiet?: boolean;
  /** Choose by kexue's order even when a backend is already active (replacing the user's choice). */
  force?: boolean;
  /** Use exactly this backend, or throw if it cannot be initialised (KEXUE_BACKEND does the same). */
  backend?: BackendName;
}

let queue: Promise<unknown> = Promise.resolve();

/**
 * Makes a backend active and returns its name. A backend the user already set (tf.setBackend, or one
 * TF.js picked when tensors were made) is kept, unless `force` is given or a backend is named
 * (`backend`, or KEXUE_BACKEND). Otherwise the fastest available is chosen, in BACKEND_ORDER: the
 * native ATen backend, tfjs-node's 'tensorflow' if installed, wasm, cpu; without the native backend
 * a one-line notice goes to stderr (silenced by `quiet` or KEXUE_QUIET=1). TF.js's "Hi, looks like
 * you are running TensorFlow.js in Node.js" banner is never printed. Calls are serialised; repeating
 * one returns the same backend.
 *
 * @example
 * import { initBackend } from 'kexue/node';
 * const name = await initBackend(); // 'aten', else 'tensorflow', 'wasm' or 'cpu'
 * await initBackend({ backend: 'wasm' }); // exactly wasm
 */
export function initBackend(opts: InitBackendOptions = {}): Promise<string> {
  registerGradientFixes();
  const run = queue.then(async () => {
    const name = await choose(opts);
    await tf.ready();
    muteCpuBanner();
    return name;
  });
  queue = run.catch(() => undefined);
  return run;
}
