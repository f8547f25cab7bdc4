/**
 * A CLI command: its options (node's parseArgs format), a one-line summary, usage text and a run
 * function. Commands stay thin: parse, call the library, print.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { InputError } from '../io/errors.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

export interface Command {
  name: string;
  summary: string;
  /** Usage and option descriptions, shown by `--help`. */
  usage: string;
  options: Options;
  /** Whether positional arguments are accepted. */
  positionals?: boolean;
  /**
   * Commands with subcommands (`kexue density train|score`): each subcommand's own flags. The first
   * positional must name one, and a flag of another subcommand is an error rather than silently ignored.
   */
  subcommands?: Record<string, string[]>;
  /**
   * Whether the command's long loops yield to the event loop between steps, so it can catch SIGINT and
   * SIGTERM (remove its temporaries, exit 130/143). A synchronous command keeps the default immediate
   * exit: a handler would run only when its work ends, so Ctrl-C would seem ignored; its temporaries are
   * cleaned by the next write beside them.
   */
  interruptible?: boolean;
  run(
    values: Record<string, string | boolean | string[] | boolean[] | undefined>,
    positionals: string[],
  ): Promise<number | void>;
}

/**
 * `--lr -1` as `--lr=-1`: parseArgs calls a value starting with a dash ambiguous, but a negative number
 * after a flag that takes a value can only be that value.
 */
function joinNegativeNumbers(cmd: Command, argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = /^--([^=]+)$/.exec(argv[i])?.[1];
    const next = argv[i + 1];
    if (name && cmd.options[name]?.type === 'string' && next !== undefined && /^-(\d|\.\d)/.test(next)) {
      out.push(`${argv[i]}=${next}`);
      i++;
    } else out.push(argv[i]);
  }
  return out;
}

/** Rejects a subcommand that does not exist and flags that belong to another subcommand. */
function checkSubcommand(cmd: Command, values: Record<string, unknown>, positionals: string[]): void {
  if (!cmd.subcommands || values.help) return;
  const names = Object.keys(cmd.subcommands);
  const sub = positionals[0];
  const expected = names.map((n) => `'kexue ${cmd.name} ${n}'`).join(' or ');
  if (sub === undefined || !Object.hasOwn(cmd.subcommands, sub) || positionals.length > 1)
    throw new InputError(
      `expected ${expected}, got '${positionals.join(' ')}' (see 'kexue ${cmd.name} --help')`,
    );
  const allowed = cmd.subcommands[sub];
  for (const flag of Object.keys(values)) {
    if (values[flag] !== undefined && !allowed.includes(flag))
      throw new InputError(
        `--${flag} is not an option of 'kexue ${cmd.name} ${sub}' (its options: ${allowed.map((f) => `--${f}`).join(', ')})`,
      );
  }
}

export type OptionValues = Parameters<Command['run']>[0];

export function parseCommandArgs(
  cmd: Command,
  argv: string[],
): { values: OptionValues; positionals: string[] } {
  let parsed: { values: OptionValues; positionals: string[] };
  try {
    parsed = parseArgs({
      args: joinNegativeNumbers(cmd, argv),
      options: { ...cmd.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: cmd.positionals ?? cmd.subcommands !== undefined,
      strict: true,
    });
  } catch (e) {
    throw new InputError(`${(e as Error).message.split('\n')[0]} (see 'kexue ${cmd.name} --help')`);
  }
  checkSubcommand(cmd, parsed.values, parsed.positionals);
  return parsed;
}

/** Allowed values of a numeric option: bounds inclusive (min, max) or exclusive (above, below). */
export interface NumberRange {
  integer?: boolean;
  min?: number;
  max?: number;
  above?: number;
  below?: number;
}

/** 'an integer from 1 to 100', 'a number > 0 and ≤ 1', 'a number': the range in words for messages. */
export function describeRange(r: NumberRange = {}): string {
  const kind = r.integer ? 'an integer' : 'a number';
  if (r.min !== undefined && r.max !== undefined) return `${kind} from ${r.min} to ${r.max}`;
  const parts = [
    r.min !== undefined ? `≥ ${r.min}` : r.above !== undefined ? `> ${r.above}` : '',
    r.max !== undefined ? `≤ ${r.max}` : r.below !== undefined ? `< ${r.below}` : '',
  ].filter(Boolean);
  return parts.length ? `${kind} ${parts.join(' and ')}` : kind;
}

function inRange(v: number, r: NumberRange): boolean {
  return (
    Number.isFinite(v) &&
    (!r.integer || Number.isSafeInteger(v)) &&
    (r.min === undefined || v >= r.min) &&
    (r.max === undefined || v <= r.max) &&
    (r.above === undefined || v > r.above) &&
    (r.below === undefined || v < r.below)
  );
}

/**
 * Reads a numeric option; a value outside `range` is an error naming the option, the allowed values
 * and what was given.
 */
export function numberOption(
  value: unknown,
  name: string,
  fallback: number,
  range: NumberRange = {},
): number {
  if (value === undefined) return fallback;
  const v = typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  if (!inRange(v, range))
    throw new InputError(`--${name} must be ${describeRange(range)}, got '${String(value).slice(0, 40)}'`);
  return v;
}

export function stringOption(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function requireString(value: unknown, name: string): string {
  if (typeof value !== 'string' || value === '') throw new InputError(`--${name} is required`);
  return value;
}
