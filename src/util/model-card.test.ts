import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderModelCard } from './model-card.js';
import { VERSION } from '../version.js';

test('a model card has the parts given, in order, and nothing that changes between identical runs', () => {
  const card = {
    title: 'T',
    baseModel: 'enc/model',
    data: { training: 'a.tsv (3 pairs)' },
    settings: { lr: 0.0001, epochs: 2, pooling: 'cls' },
    metrics: { 'dev Spearman': 78.456, skipped: undefined },
    usage: [{ lang: 'sh', lines: ['kexue encode'] }],
  };
  const md = renderModelCard(card);
  assert.equal(md, renderModelCard(card));
  const order = [
    '# T',
    '## Model',
    'Fine-tuned from `enc/model`.',
    '## Training data',
    '## Training settings',
    '## Results',
    '## Usage',
  ];
  let at = -1;
  for (const s of order) {
    const i = md.indexOf(s);
    assert.ok(i > at, `${s} after the previous part`);
    at = i;
  }
  assert.match(md, /\| lr \| 0\.0001 \|/);
  assert.match(md, /\| pooling \| cls \|/);
  assert.match(md, /\| dev Spearman \| 78\.46 \|/);
  assert.doesNotMatch(md, /skipped/);
  assert.ok(md.endsWith(`Made with kexue ${VERSION}.\n`));
  assert.equal(renderModelCard({ title: 'Bare' }), `# Bare\n\nMade with kexue ${VERSION}.\n`);
});
