/**
 * Progress for long work: a redrawn bar with ETA and the current metric on a terminal, plain periodic
 * lines otherwise (CI logs, pipes). Writes to stderr so `--json` output on stdout stays clean.
 */
export interface ProgressOptions {
  label: string;
  total: number;
  /** Seconds between plain lines when stderr is not a terminal. */
  every?: number;
  stream?: NodeJS.WriteStream;
  silent?: boolean;
  /** When the work started (Date.now() ms), if before the bar was made; the ETA counts from it. */
  startedAt?: number;
}

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const whole = Math.round(s); // round first: 119.6 s is 2m00s, not 1m60s
  const m = Math.floor(whole / 60);
  const r = whole % 60;
  return m > 0 ? `${m}m${String(r).padStart(2, '0')}s` : `${r}s`;
}

export class Progress {
  private done = 0;
  private total: number;
  /** Steps counted as done without being worked here (reused records); the ETA leaves them out. */
  private skipped = 0;
  private readonly start: number;
  private lastPrint = 0;
  private readonly stream: NodeJS.WriteStream;
  private readonly tty: boolean;

  constructor(private readonly opts: ProgressOptions) {
    this.total = opts.total;
    this.start = opts.startedAt ?? Date.now();
    this.stream = opts.stream ?? process.stderr;
    this.tty = Boolean(this.stream.isTTY) && !process.env.CI;
  }

  /** Advance by `n` steps; `metric` is shown beside the bar (e.g. "loss 0.412"). */
  tick(n = 1, metric = ''): void {
    this.done = Math.min(this.total, this.done + n);
    const now = Date.now();
    const interval = this.tty ? 100 : (this.opts.every ?? 10) * 1000;
    if (this.done < this.total && now - this.lastPrint < interval) return;
    this.lastPrint = now;
    this.print(metric);
  }

  /**
   * Counts `n` steps as done without work (a run reused from its record): the bar advances, but the
   * ETA is extrapolated from the steps worked in this process only, so a resumed job's ETA is not
   * shortened by the runs it skipped.
   */
  skip(n: number): void {
    this.skipped += Math.min(n, this.total - this.done);
    this.tick(n);
  }

  /** Adds `n` steps of work found along the way (runs planned once earlier results are in). */
  grow(n: number): void {
    this.total += n;
  }

  private print(metric: string): void {
    if (this.opts.silent) return;
    const elapsed = (Date.now() - this.start) / 1000;
    const frac = this.total > 0 ? this.done / this.total : 1;
    const worked = this.done - this.skipped;
    const eta = frac >= 1 ? 0 : worked > 0 ? (elapsed * (this.total - this.done)) / worked : Infinity;
    const pct = `${Math.floor(frac * 100)}%`.padStart(4);
    const tail = `${this.done}/${this.total} ${fmtTime(elapsed)} eta ${fmtTime(eta)}${metric ? ' ' + metric : ''}`;
    if (this.tty) {
      const width = 24;
      const fill = Math.round(frac * width);
      const bar = '█'.repeat(fill) + '░'.repeat(width - fill);
      this.stream.write(`\r\x1b[2K${this.opts.label} ${bar} ${pct} ${tail}`);
      if (this.done >= this.total) this.stream.write('\n');
    } else {
      this.stream.write(`${this.opts.label} ${pct} ${tail}\n`);
    }
  }
}

/**
 * A `(done, total)` callback that shows a progress bar only once the work has run `afterMs`: quick runs
 * stay quiet, long ones (a large matrix, a big grid) show their progress and ETA.
 */
export function lateProgress(
  label: string,
  opts: { afterMs?: number; silent?: boolean; stream?: NodeJS.WriteStream } = {},
): (done: number, total: number) => void {
  const startedAt = Date.now();
  let bar: Progress | undefined;
  let shown = 0;
  return (done, total) => {
    if (!bar) {
      if (opts.silent || Date.now() - startedAt < (opts.afterMs ?? 2000)) return;
      bar = new Progress({ label, total, startedAt, stream: opts.stream });
    }
    bar.tick(done - shown);
    shown = done;
  };
}
