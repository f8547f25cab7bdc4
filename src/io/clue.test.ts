import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseClueJsonl, readClueDataset } from './clue.js';
import { InputError } from './errors.js';

const good = ['{"text": "天气很好", "label": 1}', '', '{"text": "股票大涨", "label": 0}'].join('\n');

test('parses CLUE JSONL, skipping blank lines and a BOM', () => {
  assert.deepEqual(parseClueJsonl('\uFEFF' + good + '\n', 'x.jsonl'), [
    { text: '天气很好', label: 1 },
    { text: '股票大涨', label: 0 },
  ]);
});

function expectInputError(content: string, line: number, field?: string, classes?: number): void {
  assert.throws(
    () => parseClueJsonl(content, 'data/train.jsonl', classes),
    (e: unknown) => {
      assert.ok(e instanceof InputError);
      assert.equal(e.file, 'data/train.jsonl');
      assert.equal(e.line, line);
      assert.equal(e.field, field);
      assert.match(e.message, new RegExp(`^data/train.jsonl, line ${line}`));
      return true;
    },
  );
}

test('malformed lines raise InputError with file and line', () => {
  expectInputError(good + '\n{"text": "半行', 4);
  expectInputError(good + '\n[1, 2]', 4);
  expectInputError('{"label": 0}', 1, 'text');
  expectInputError('{"text": "a", "label": "3"}', 1, 'label');
  expectInputError('{"text": "a", "label": 1.5}', 1, 'label');
  expectInputError('{"text": "a", "label": -1}', 1, 'label');
  expectInputError(good + '\n{"text": "a", "label": 2}', 4, 'label', 2);
});

test('reads a task folder and checks labels against labels.json', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kexue-clue-'));
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'labels.json'), '["a", "b"]');
  for (const s of ['train', 'dev', 'test']) writeFileSync(path.join(dir, `${s}.jsonl`), good);
  const ds = await readClueDataset(dir);
  assert.deepEqual(ds.labels, ['a', 'b']);
  assert.equal(ds.train.length, 2);
  writeFileSync(path.join(dir, 'labels.json'), '["only one"]');
  await assert.rejects(readClueDataset(dir), /labels\.json: expected a JSON array/);
  writeFileSync(path.join(dir, 'labels.json'), '["a", "b"]');
  writeFileSync(path.join(dir, 'dev.jsonl'), good + '\n{"text": "x", "label": 5}\n');
  await assert.rejects(
    readClueDataset(dir),
    /dev\.jsonl, line 4, field label: label 5 is out of range for 2 classes/,
  );
  await assert.rejects(readClueDataset(path.join(dir, 'missing')), InputError);
});
