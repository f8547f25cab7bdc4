/**
 * Finished runs of an experiment, kept as JSON records (`<id>.json`, holding the run's key and what it
 * measured) in a folder of the work directory.
 *
 * - A rerun with the same settings reuses a recorded run; a changed setting (a different key) reruns it,
 *   so an interrupted full-budget experiment resumes where it stopped.
 * - Several processes started on the same folder share the work: each run is claimed with a lock file
 *   (`<id>.lock`, holding the process id) before it starts, a process skips runs that others hold and
 *   then waits for their records, and a claim whose process has died is taken over. This is how a full
 *   budget uses every core of a machine whose per-run work is single-threaded.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';

import { writeJsonAtomic } from '../io/atomic.js';
import type { RunTimes } from './types.js';

// The runs every store returned since the last `takeRunTimes()`: the experiment runner resets it before
// an experiment and reads it after, so a result says what its runs cost even when they were reused.
let tally: RunTimes = { runs: 0, reused: 0, seconds: 0, untimed: 0 };

/** The compute behind the runs returned since the last call, and a fresh tally. */
export function takeRunTimes(): RunTimes {
  const out = tally;
  tally = { runs: 0, reused: 0, seconds: 0, untimed: 0 };
  return out;
}

function count(seconds: number | undefined, reused: boolean): void {
  tally.runs++;
  if (reused) tally.reused++;
  if (seconds === undefined) tally.untimed++;
  else tally.seconds += seconds;
}

/** One unit of work: `compute` runs it when no record matches `key`. */
export interface RunUnit<T> {
  id: string;
  key: unknown;
  compute: () => Promise<T>;
  /** Called with a record found on disk (to advance a progress bar, say). */
  onReused?(record: T): void;
}

/** A folder of run records shared by the processes working on one experiment. */
export class RunStore {
  /** @param pollMs how often a process waiting for another's run looks again */
  constructor(
    readonly dir: string,
    private readonly pollMs = 5000,
  ) {
    fs.mkdirSync(dir, { recursive: true });
  }

  private file(id: string, ext: string): string {
    if (!/^[\w.=-]+$/.test(id)) throw new Error(`run id ${JSON.stringify(id)}: use letters, digits, . = - _`);
    return path.join(this.dir, `${id}${ext}`);
  }

  /** The recorded result of run `id` if it was made with this `key`. */
  get<T>(id: string, key: unknown): T | undefined {
    return this.read<T>(id, key)?.record;
  }

  /** The record and the seconds its run took (absent in records written before times were kept). */
  private read<T>(id: string, key: unknown): { record: T; seconds?: number } | undefined {
    const file = this.file(id, '.json');
    if (!fs.existsSync(file)) return undefined;
    try {
      const saved = JSON.parse(fs.readFileSync(file, 'utf8')) as {
        key: unknown;
        record: T;
        seconds?: number;
      };
      // Compare through JSON so `undefined` fields and key order do not matter.
      if (!isDeepStrictEqual(saved.key, JSON.parse(JSON.stringify(key)))) return undefined;
      // Older records may carry their time inside (a `seconds` field of the record itself).
      const inner = (saved.record as { seconds?: unknown } | null)?.seconds;
      const seconds = saved.seconds ?? (typeof inner === 'number' ? inner : undefined);
      return { record: saved.record, seconds };
    } catch {
      return undefined; // a damaged record is rerun
    }
  }

  /** Records run `id`'s result, with the seconds its computation took if known. */
  put<T>(id: string, key: unknown, record: T, seconds?: number): void {
    writeJsonAtomic(this.file(id, '.json'), { key, record, ...(seconds !== undefined && { seconds }) });
  }

  /** Claims run `id` for this process; false if a live process holds it. */
  claim(id: string): boolean {
    const lock = this.file(id, '.lock');
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
        return true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        if (holderAlive(lock)) return false;
        fs.rmSync(lock, { force: true }); // its process died: take the run over
      }
    }
    return false;
  }

  release(id: string): void {
    fs.rmSync(this.file(id, '.lock'), { force: true });
  }

  /**
   * Every unit's record, in order: recorded ones are reused, free ones computed here, and the ones
   * another process holds are waited for (or taken over if that process dies).
   */
  async runAll<T>(units: RunUnit<T>[]): Promise<T[]> {
    const out = new Array<T>(units.length);
    // Recorded runs are taken first, so a progress bar advanced by `onReused` knows what is left (and its
    // ETA is right) before the first run is computed.
    const open: number[] = [];
    for (let i = 0; i < units.length; i++) {
      const found = this.read<T>(units[i].id, units[i].key);
      if (found === undefined) open.push(i);
      else out[i] = this.reuse(units[i], found);
    }
    const held: number[] = [];
    for (const i of open) {
      const done = await this.tryRun(units[i]);
      if (done.ok) out[i] = done.record;
      else held.push(i);
    }
    for (const i of held) {
      for (;;) {
        const done = await this.tryRun(units[i]);
        if (done.ok) {
          out[i] = done.record;
          break;
        }
        await new Promise((r) => setTimeout(r, this.pollMs));
      }
    }
    return out;
  }

  private reuse<T>(u: RunUnit<T>, found: { record: T; seconds?: number }): T {
    count(found.seconds, true);
    u.onReused?.(found.record);
    return found.record;
  }

  private async tryRun<T>(u: RunUnit<T>): Promise<{ ok: true; record: T } | { ok: false }> {
    const found = this.read<T>(u.id, u.key);
    if (found !== undefined) return { ok: true, record: this.reuse(u, found) };
    if (!this.claim(u.id)) return { ok: false };
    try {
      // Another process may have finished it between our look and our claim.
      const again = this.read<T>(u.id, u.key);
      if (again !== undefined) return { ok: true, record: this.reuse(u, again) };
      const t0 = performance.now();
      const record = await u.compute();
      const seconds = (performance.now() - t0) / 1000;
      this.put(u.id, u.key, record, seconds);
      count(seconds, false);
      return { ok: true, record };
    } finally {
      this.release(u.id);
    }
  }
}

function holderAlive(lock: string): boolean {
  let pid: number;
  try {
    const text = fs.readFileSync(lock, 'utf8');
    if (text === '') return true; // being written right now
    pid = Number(text);
  } catch {
    return true; // released right now
  }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return false; // a claim this process left behind (a crash in an earlier run)
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
