/** Helpers for tests that run the real `kexue` binary on small files in a scratch folder. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/kexue.js', import.meta.url));

/** Runs `kexue ...args` in a child process (backend notice silenced). */
export function kexue(...args: string[]): { code: number | null; out: string; err: string } {
  return kexueWithEnv({}, ...args);
}

/** `kexue` with extra environment variables. */
export function kexueWithEnv(
  env: Record<string, string>,
  ...args: string[]
): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    env: { ...process.env, KEXUE_QUIET: '1', ...env },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** A fresh temporary folder and a function that writes a file into it and returns its path. */
export function scratch(prefix: string): {
  dir: string;
  put: (name: string, data: string | Uint8Array) => string;
} {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `kexue-${prefix}-`));
  const put = (name: string, data: string | Uint8Array) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, data);
    return f;
  };
  return { dir, put };
}
