/** Entry point of the `kexue` command. */
import { InputError } from '../io/errors.js';
import { fileSystemError, removeTemporaries } from '../io/atomic.js';
import { parseCommandArgs, type Command } from './command.js';
import { commands } from './commands/index.js';
import { packageVersion } from '../util/env.js';

function mainHelp(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'kexue — techniques from the Scientific Spaces notes for TensorFlow.js',
    '',
    'Usage: kexue <command> [options]   (kexue <command> --help for its options)',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Environment: KEXUE_BACKEND=aten|tensorflow|wasm|cpu forces a backend.',
  ].join('\n');
}

async function runCommand(cmd: Command, argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(cmd, argv);
  if (values.help) {
    process.stdout.write(`${cmd.usage.trim()}\n`);
    return 0;
  }
  const code = await cmd.run(values, positionals);
  return typeof code === 'number' ? code : 0;
}

/**
 * Ctrl-C or a kill: remove half-written temporaries, then exit 128 + the signal number, as shells do.
 * Returns the function that removes the handler again (runCli called from a program must not leave
 * handlers behind).
 */
function onInterrupt(signal: 'SIGINT' | 'SIGTERM', code: number): () => void {
  const handler = () => {
    removeTemporaries();
    process.stderr.write(`\nkexue: interrupted (${signal}); nothing half-written was left behind\n`);
    process.exit(code);
  };
  process.once(signal, handler);
  return () => process.off(signal, handler);
}

/**
 * Runs the `kexue` command line with `argv` (the arguments after `kexue`, as `process.argv.slice(2)`)
 * and resolves to the exit code: 0 on success, 2 for the user's errors (bad flags, input files, disk),
 * 1 for internal errors. Output goes to process.stdout/stderr; it never calls process.exit itself,
 * except on Ctrl-C or a kill during an interruptible command (exit 130 or 143).
 *
 * @example
 * const code = await runCli(['can', '--probs', 'probs.npy', '--prior', 'labels:train-labels.txt', '--json']);
 * process.exitCode = code; // 0, or 2 with a one-line message on stderr
 */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(mainHelp() + '\n');
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(packageVersion() + '\n');
    return 0;
  }
  const cmd = commands.find((c) => c.name === name);
  try {
    if (!cmd) throw new InputError(`unknown command '${name}' (see 'kexue --help')`);
    const handlers = cmd.interruptible ? [onInterrupt('SIGINT', 130), onInterrupt('SIGTERM', 143)] : [];
    try {
      return await runCommand(cmd, rest);
    } finally {
      for (const remove of handlers) remove();
    }
  } catch (e) {
    // The user's input, flags, paths, disk and permissions: one line, exit 2.
    const userError = e instanceof InputError ? e : fileSystemError(e);
    if (userError) {
      process.stderr.write(`kexue: ${userError.message.split('\n')[0]}\n`);
      return 2;
    }
    const err = e as Error;
    process.stderr.write(
      `kexue: internal error (a bug in kexue; please report it with the output of KEXUE_DEBUG=1): ${String(err?.message ?? e).split('\n')[0]}\n`,
    );
    if (process.env.KEXUE_DEBUG) process.stderr.write(`${err?.stack ?? ''}\n`);
    return 1;
  }
}
