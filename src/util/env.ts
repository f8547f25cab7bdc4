import os from 'node:os';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import type { RunEnvironment } from '../experiments/types.js';

const require = createRequire(import.meta.url);

export function packageVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** Versions, backend and machine, recorded in every results file. */
export function runEnvironment(): RunEnvironment {
  let tfjs = tf.version_core;
  try {
    tfjs = (require('@tensorflow/tfjs-core/package.json') as { version: string }).version;
  } catch {
    // keep version_core
  }
  return {
    kexue: packageVersion(),
    tfjs,
    node: process.version,
    backend: tf.getBackend(),
    platform: `${os.platform()} ${os.arch()}`,
    cpus: os.cpus().length,
    date: new Date().toISOString(),
  };
}
