/** Flag parsing shared by every command: ranges in messages, negative values, subcommand flags. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeRange, numberOption, parseCommandArgs, type Command } from './command.js';
import { InputError } from '../io/errors.js';

const toy: Command = {
  name: 'toy',
  summary: '',
  usage: '',
  options: {
    lr: { type: 'string' },
    k: { type: 'string' },
    model: { type: 'string' },
    json: { type: 'boolean' },
  },
  subcommands: { train: ['lr', 'json'], score: ['model', 'k', 'json'] },
  run: async () => 0,
};

test('describeRange: the allowed values in words', () => {
  assert.equal(describeRange(), 'a number');
  assert.equal(describeRange({ integer: true }), 'an integer');
  assert.equal(describeRange({ integer: true, min: 1 }), 'an integer ≥ 1');
  assert.equal(describeRange({ integer: true, min: 1, max: 100 }), 'an integer from 1 to 100');
  assert.equal(describeRange({ above: 0, max: 1 }), 'a number > 0 and ≤ 1');
  assert.equal(describeRange({ min: 0, below: 1 }), 'a number ≥ 0 and < 1');
});

test('numberOption: the fallback, values in range, and one message naming flag, range and value', () => {
  assert.equal(numberOption(undefined, 'k', 7, { integer: true, min: 1 }), 7);
  assert.equal(numberOption('3', 'k', 7, { integer: true, min: 1 }), 3);
  assert.equal(numberOption('-2.5', 'x', 0), -2.5);
  const cases: [string, object, RegExp][] = [
    ['0', { integer: true, min: 1 }, /^--k must be an integer ≥ 1, got '0'$/],
    ['1.5', { integer: true, min: 1 }, /^--k must be an integer ≥ 1, got '1.5'$/],
    ['1e400', {}, /^--k must be a number, got '1e400'$/],
    ['', {}, /^--k must be a number, got ''$/],
    ['nan', {}, /^--k must be a number, got 'nan'$/],
    ['1e20', { integer: true }, /must be an integer/],
    ['2', { above: 0, max: 1 }, /^--k must be a number > 0 and ≤ 1, got '2'$/],
  ];
  for (const [value, range, message] of cases)
    assert.throws(
      () => numberOption(value, 'k', 0, range),
      (e: unknown) => e instanceof InputError && message.test(e.message),
      value,
    );
});

test('parseCommandArgs: a negative number after a flag is its value', () => {
  const { values } = parseCommandArgs(toy, ['train', '--lr', '-1e-3']);
  assert.equal(values.lr, '-1e-3');
  assert.equal(parseCommandArgs(toy, ['train', '--lr', '-.5']).values.lr, '-.5');
  // A dash that is not a number is still not taken as a value.
  assert.throws(() => parseCommandArgs(toy, ['train', '--lr', '--json']), InputError);
});

test('parseCommandArgs: subcommands must exist and flags of another subcommand are errors', () => {
  assert.deepEqual(parseCommandArgs(toy, ['score', '--k', '5']).positionals, ['score']);
  assert.throws(
    () => parseCommandArgs(toy, ['score', '--lr', '0.1']),
    /--lr is not an option of 'kexue toy score' \(its options: --model, --k, --json\)$/,
  );
  assert.throws(
    () => parseCommandArgs(toy, ['fit']),
    /expected 'kexue toy train' or 'kexue toy score', got 'fit'/,
  );
  assert.throws(() => parseCommandArgs(toy, []), /expected 'kexue toy train' or 'kexue toy score', got ''/);
  assert.throws(() => parseCommandArgs(toy, ['train', 'extra']), /got 'train extra'/);
  assert.equal(parseCommandArgs(toy, ['--help']).values.help, true, '--help needs no subcommand');
});
