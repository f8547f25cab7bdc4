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

export function parseCommandArgs(cmd: Command, argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      options: { ...cmd.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: cmd.positionals ?? false,
      strict: true,
    });
  } catch (e) {
    throw new InputError(`${(e as Error).message.split('\n')[0]} (see 'kexue ${cmd.name} --help')`);
  }
}

/**
 * Reads a numeric option, with a clear error naming the option and, when given, the allowed values
 * (e.g. 'an integer from 1 to 100').
 */
export function numberOption(
  value: unknown,
  name: string,
  fallback: number,
  check?: (v: number) => boolean,
  allowed = 'a valid number',
): number {
  if (value === undefined) return fallback;
  const v = Number(value);
  if (typeof value !== 'string' || value.trim() === '' || !Number.isFinite(v) || (check && !check(v))) {
    throw new InputError(`--${name} must be ${allowed}, got '${String(value).slice(0, 40)}'`);
  }
  return v;
}

export function stringOption(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function requireString(value: unknown, name: string): string {
  if (typeof value !== 'string' || value === '') throw new InputError(`--${name} is required`);
  return value;
}
