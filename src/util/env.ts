import os from 'node:os';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
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

/** The git commit of the package's checkout (with `+dirty` for uncommitted changes), or '?' outside one. */
export function gitCommit(): string {
  const cwd = fileURLToPath(new URL('../..', import.meta.url));
  const git = (...args: string[]) =>
    execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    const head = git('rev-parse', '--short=12', 'HEAD');
    return git('status', '--porcelain', '--untracked-files=no') ? `${head}+dirty` : head;
  } catch {
    return '?';
  }
}

/** Versions, commit, backend and machine, recorded in every results file. */
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
    machine: `${os.cpus()[0]?.model ?? '?'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`,
    commit: gitCommit(),
    date: new Date().toISOString(),
  };
}
