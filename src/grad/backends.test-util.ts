/**
 * The backends a backend-independent test runs on: always `cpu`, plus `wasm` (with kexue's extra wasm
 * kernels) whenever it can be initialised, whichever backend initBackend() picked.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createRequire } from 'node:module';
import path from 'node:path';
import { initBackend } from '../backend/index.js';
import { registerWasmKernels } from '../backend/wasm-kernels.js';

const require = createRequire(import.meta.url);

async function wasmAvailable(): Promise<boolean> {
  if (tf.findBackendFactory('wasm') == null) {
    try {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      const file = require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm');
      wasm.setWasmPaths(path.dirname(file) + path.sep);
      registerWasmKernels();
    } catch {
      return false;
    }
  }
  try {
    return await tf.setBackend('wasm');
  } catch {
    return false;
  }
}

/** Initialises kexue's backend choice, then lists 'cpu' and (if usable) 'wasm'. Leaves 'cpu' active. */
export async function testBackends(): Promise<string[]> {
  await initBackend({ quiet: true });
  const names = ['cpu'];
  if (await wasmAvailable()) names.push('wasm');
  await tf.setBackend('cpu');
  return names;
}
