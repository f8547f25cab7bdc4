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

/** Ctrl-C or a kill: remove half-written temporaries, then exit 128 + the signal number, as shells do. */
function onInterrupt(signal: 'SIGINT' | 'SIGTERM', code: number): void {
  process.once(signal, () => {
    removeTemporaries();
    process.stderr.write(`\nkexue: interrupted (${signal}); nothing half-written was left behind\n`);
    process.exit(code);
  });
}

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
    if (cmd.interruptible) {
      onInterrupt('SIGINT', 130);
      onInterrupt('SIGTERM', 143);
    }
    return await runCommand(cmd, rest);
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
