/** Output files: written atomically, with every file-system failure turned into one clear line. */
import fs from 'node:fs';
import path from 'node:path';
import { InputError } from './errors.js';

const REASONS: Record<string, string> = {
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is exceeded',
  EISDIR: 'it is a folder',
  ENOTDIR: 'a parent of it is a file, not a folder',
  EEXIST: 'a parent of it is a file, not a folder',
  ENOENT: 'its folder cannot be created',
  ENAMETOOLONG: 'the name is too long',
};

/** A file-system error that names its path (from any read or write) as one line for the user, or undefined. */
export function fileSystemError(e: unknown): InputError | undefined {
  const err = e as NodeJS.ErrnoException;
  if (!err?.code || !err.path) return undefined;
  const reason = err.code === 'ENOENT' ? 'no such file or folder' : (REASONS[err.code] ?? err.code);
  return new InputError(`cannot ${err.syscall ?? 'access'}: ${reason} (${err.code})`, err.path);
}

/** A file-system error on an output path as the user's problem (InputError), or the error itself. */
export function outputError(e: unknown, file: string, flag?: string): unknown {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (!code || !(code in REASONS)) return e;
  return new InputError(
    `cannot write here: ${REASONS[code]} (${code})${flag ? `; choose another ${flag}` : ''}`,
    file,
  );
}

/** Temporaries being written now: removed on SIGINT/SIGTERM (see removeTemporaries). */
const inFlight = new Set<string>();

/** Marks a temporary file or folder as in flight until `done` is called. */
export function trackTemporary(p: string): () => void {
  inFlight.add(p);
  return () => inFlight.delete(p);
}

/** Removes every temporary still being written; the CLI calls it when interrupted. */
export function removeTemporaries(): void {
  for (const p of inFlight) {
    try {
      fs.rmSync(p, { recursive: true, force: true });
    } catch {
      // best effort while exiting
    }
  }
  inFlight.clear();
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes `<file>.tmp-<pid>-*` left beside `file` by a process that was killed (SIGKILL leaves them). */
function removeStaleTemporaries(file: string): void {
  const dir = path.dirname(path.resolve(file));
  const prefix = `${path.basename(file)}.tmp-`;
  if (!fs.existsSync(dir)) return;
  for (const name of fs.readdirSync(dir)) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length).split('-')[0]);
    if (Number.isInteger(pid) && pid !== process.pid && !alive(pid))
      fs.rmSync(path.join(dir, name), { force: true });
  }
}

/**
 * Writes a file so that readers never see a partial one: write a temp file beside it, then rename.
 * Temporaries of killed earlier runs beside it are removed.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  const done = trackTemporary(tmp);
  try {
    if (fs.existsSync(file) && fs.statSync(file).isDirectory())
      throw Object.assign(new Error(), { code: 'EISDIR' });
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    removeStaleTemporaries(file);
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      // the temporary could not even be created (e.g. a parent is a file)
    }
    throw outputError(e, file);
  } finally {
    done();
  }
}

export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n');
}

/**
 * Makes sure files can be written in `dir` (creating it), before any long work starts: a probe file is
 * written and removed. `flag` names the option in the error.
 */
export function checkOutputFolder(dir: string, flag: string): void {
  if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory())
    throw new InputError(`is a file, not a folder; choose another ${flag}`, dir);
  const probe = path.join(dir, `.kexue-probe-${process.pid}`);
  try {
    makeFolder(dir);
    fs.writeFileSync(probe, '');
    fs.rmSync(probe);
  } catch (e) {
    throw outputError(e, dir, flag);
  }
}

/**
 * mkdir -p that fails with the real reason: a recursive mkdirSync reports ENOENT for a read-only or
 * forbidden parent, so the folders are made one level at a time.
 */
function makeFolder(dir: string): void {
  const missing: string[] = [];
  for (let d = path.resolve(dir); !fs.existsSync(d); d = path.dirname(d)) missing.unshift(d);
  for (const d of missing) fs.mkdirSync(d);
}

/**
 * Writes a whole folder so that `dir` always holds a complete version: `write` fills `<dir>.partial`,
 * which then replaces `dir` by two renames (the previous version waits as `<dir>.old` in between, so a
 * crash there leaves one complete copy; see findFolder). A failed or interrupted write leaves no partial.
 */
export async function writeFolderAtomic(dir: string, write: (tmp: string) => Promise<void>): Promise<void> {
  dir = withoutTrailingSlash(dir); // 'out/' must give 'out.partial', not 'out/.partial'
  const partial = `${dir}.partial`;
  fs.rmSync(partial, { recursive: true, force: true });
  const done = trackTemporary(partial);
  try {
    await write(partial);
  } catch (e) {
    fs.rmSync(partial, { recursive: true, force: true });
    throw e;
  } finally {
    done();
  }
  const old = `${dir}.old`;
  fs.rmSync(old, { recursive: true, force: true });
  if (fs.existsSync(dir)) fs.renameSync(dir, old);
  fs.renameSync(partial, dir);
  fs.rmSync(old, { recursive: true, force: true });
}

/** The folder written by writeFolderAtomic that holds `marker`: `dir`, or the `<dir>.old` a crash left. */
export function findFolder(dir: string, marker: string): string | undefined {
  dir = withoutTrailingSlash(dir);
  for (const d of [dir, `${dir}.old`]) if (fs.existsSync(path.join(d, marker))) return d;
  return undefined;
}

/** 'out/' → 'out' (but '/' stays '/'): the sibling temporaries are named after the folder itself. */
function withoutTrailingSlash(dir: string): string {
  return dir.replace(/(?<=.)[\\/]+$/, '');
}

/**
 * Checks an output file before any work: its extension is one of `extensions`, it is not one of the
 * `inputs` (which it would overwrite), it is not a folder, and its folder can be written.
 */
export function checkOutputFile(
  file: string,
  flag: string,
  o: { extensions: string[]; inputs?: (string | undefined)[] },
): void {
  const ext = path.extname(file).toLowerCase();
  if (!o.extensions.includes(ext))
    throw new InputError(
      `${flag} must end in ${o.extensions.join(' or ')} (the format follows the name)`,
      file,
    );
  const real = (f: string) => (fs.existsSync(f) ? fs.realpathSync(f) : path.resolve(f));
  if (o.inputs?.some((i) => i !== undefined && real(i) === real(file)))
    throw new InputError(`${flag} is also an input and would be overwritten; choose another ${flag}`, file);
  if (fs.existsSync(file) && fs.statSync(file).isDirectory())
    throw new InputError(`cannot write here: it is a folder (EISDIR); choose another ${flag}`, file);
  checkOutputFolder(path.dirname(path.resolve(file)), flag);
}
