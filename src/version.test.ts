import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VERSION } from './version.js';
import { packageVersion } from './util/env.js';

test('VERSION equals package.json version (bump both together)', () => {
  assert.equal(VERSION, packageVersion());
});
