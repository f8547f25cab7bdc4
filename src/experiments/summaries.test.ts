/** The verdict-table rows each experiment reads from its own result tables. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { syntheticResult } from '../report/fixture.test-util.js';
import type { ExperimentResult, Table } from './types.js';
import { cellBracket, cellNumber } from './types.js';
import { summarizeDensity } from './density.js';
import { summarizeChildTuning } from './childtuning.js';
import { summarizeAttention } from './attention.js';
import { summarizeCan } from './can.js';
import { summarizeCosent } from './cosent.js';
import { summarizeGradpenalty } from './gradpenalty.js';
import { summarizeInit } from './init.js';
import { summarizeGan, summarizeGanConv } from './gan.js';

const result = (tables: Table[], budget: 'quick' | 'full' = 'full'): ExperimentResult => ({
  ...syntheticResult(),
  budget,
  tables,
});
const table = (title: string, columns: string[], rows: (string | number | null)[][]): Table => ({
  title,
  columns,
  rows,
});

test('cellNumber and cellBracket read table cells', () => {
  assert.equal(cellNumber('53.91 ± 2.25'), 53.91);
  assert.equal(cellNumber('−1.5'), -1.5);
  assert.equal(cellNumber(7), 7);
  assert.ok(Number.isNaN(cellNumber('—')));
  assert.equal(cellBracket('13.16 ± 1.43 (-1.52)'), -1.52);
  assert.equal(cellBracket('60.06 → 60.52 (+0.46)'), 0.46);
});

test('density: ordering and the 2-nat target decide; the long runs are the target rows', () => {
  const ladder = (v5: number) =>
    table(
      'MNIST test NLL',
      ['layers', 'objective', 'k', 'NLL (ours)'],
      [
        [1, 'VAE', 1, '95.00 ± 0.10'],
        [1, 'VAE', 5, v5],
        [1, 'VAE', 50, 93],
        [1, 'IWAE', 1, '95.00 ± 0.10'],
        [1, 'IWAE', 5, 93.5],
        [1, 'IWAE', 50, 92],
      ],
    );
  const long = table(
    'Long runs of the target rows: 50 epochs',
    ['layers', 'objective', 'k', 'NLL (ours)'],
    [
      [1, 'VAE', 1, 88.5],
      [1, 'IWAE', 5, 87.2],
    ],
  );
  assert.equal(summarizeDensity(result([ladder(94)]))?.status, 'partly');
  assert.equal(
    summarizeDensity(result([ladder(93)]))?.status,
    'does not reproduce',
    'IWAE k=5 worse than VAE k=5',
  );
  // Out of order at the table's budget, but the long target rows within 2 nats: partly.
  const unordered = summarizeDensity(result([ladder(93), long]))!;
  assert.equal(unordered.status, 'partly');
  assert.match(
    unordered.reason,
    /the 2-nat target is met; at this table's .* the IWAE\/VAE ordering does not hold/,
  );
  const s = summarizeDensity(result([ladder(94), long]));
  assert.equal(s?.status, 'reproduces');
  assert.match(s!.ours, /88\.50 \(VAE k=1\), 87\.20 \(IWAE k=5\)/);
  assert.equal(summarizeDensity(result([ladder(94), long], 'quick'))?.status, 'inconclusive');
});

test('childtuning: F ahead of vanilla in every, some or no regime', () => {
  const acc = (a: string, b: string) =>
    table(
      'Test accuracy %',
      ['method', 'TNEWS 16-shot (10 seeds)', 'TNEWS 64-shot (10 seeds)'],
      [
        ['vanilla', '20.00 ± 1.00', '30.00 ± 1.00'],
        ['ChildTuning-F (p=0.3)', `20.50 ± 1.00 (${a})`, `29.00 ± 1.00 (${b})`],
        ['vanilla, lr×√0.3', '19.00 ± 1.00 (-1.00)', '29.50 ± 1.00 (-0.50)'],
      ],
    );
  assert.equal(summarizeChildTuning(result([acc('+0.50', '+0.10')]))?.status, 'reproduces');
  const partly = summarizeChildTuning(result([acc('+0.50', '-1.00')]));
  assert.equal(partly?.status, 'partly');
  assert.match(partly!.ours, /TNEWS 16-shot \+0\.50, TNEWS 64-shot -1\.00/);
  assert.equal(summarizeChildTuning(result([acc('-0.50', '-1.00')]))?.status, 'does not reproduce');
});

test('attention, CAN and CoSENT rows', () => {
  const len = table(
    'Held-out MLM accuracy',
    ['model', '64', '128', '1024', 'note'],
    [
      ['O (standard 1/√d)', '50 ± 1', '40 ± 1', '30 ± 1', '—'],
      ['E (log-n, trained with it)', '50 ± 1', '41 ± 1', '29 ± 1', '—'],
    ],
  );
  const a = summarizeAttention(result([len]));
  assert.equal(a?.status, 'partly');
  assert.match(a!.reason, /E ahead of O at 1 of 2 longer lengths/);
  const canRow = (base: string, name: string, split: string, note: string, gain: string) => [
    base,
    name,
    15,
    `${split} (0.010)`,
    note,
    '50.00 ± 1.00',
    gain,
    '+0.10 ± 0.10',
    '0',
    '0',
    5,
  ];
  const can = table(
    'Test accuracy (%) before and after CAN: the note (BERT) beside ours, per base classifier and test split',
    ['base', 'dataset', 'classes', 'split', 'note', 'before', 'gain default'],
    [
      canRow(
        'fine-tuned kexue encoder',
        'IFLYTEK',
        'carved from train (prior-matched)',
        '60.06 → 60.52 (+0.46)',
        '+0.20 ± 0.10',
      ),
      canRow(
        'fine-tuned kexue encoder',
        'IFLYTEK',
        'FewCLUE public test (shifted)',
        '60.06 → 60.52 (+0.46)',
        '+0.90 ± 0.10',
      ),
      canRow(
        'fine-tuned kexue encoder',
        'TNEWS',
        'carved from train (prior-matched)',
        '56.80 → 56.86 (+0.06)',
        '-0.50 ± 0.10',
      ),
      canRow(
        'n-gram embedding bag',
        'TNEWS',
        'carved from train (prior-matched)',
        '56.80 → 56.86 (+0.06)',
        '+0.50 ± 0.10',
      ),
    ],
  );
  const cs = summarizeCan(result([can]))!;
  // The encoder's prior-matched rows decide (the note's setting); the bag's and the shifted split's do not.
  assert.equal(cs.status, 'partly');
  assert.equal(
    cs.ours,
    'fine-tuned kexue encoder, prior-matched test: IFLYTEK +0.20 ± 0.10, TNEWS -0.50 ± 0.10',
  );
  assert.equal(cs.note, 'default CAN: IFLYTEK +0.46, TNEWS +0.06 points (BERT)');
  // Both gains positive, but TNEWS's within one standard error (0.40/√5 ≈ 0.18): partly, not reproduces.
  const two = (tnews: string) =>
    summarizeCan(
      result([
        table(can.title, can.columns, [
          canRow(
            'fine-tuned kexue encoder',
            'IFLYTEK',
            'carved from train (prior-matched)',
            '60.06 → 60.52 (+0.46)',
            '+0.35 ± 0.10',
          ),
          canRow(
            'fine-tuned kexue encoder',
            'TNEWS',
            'carved from train (prior-matched)',
            '56.80 → 56.86 (+0.06)',
            tnews,
          ),
        ]),
      ]),
    )!;
  assert.equal(two('+0.17 ± 0.40').status, 'partly');
  assert.match(two('+0.17 ± 0.40').reason, /gains on 2 of 2 datasets, by more than one standard error on 1/);
  assert.equal(two('+0.30 ± 0.40').status, 'reproduces');
  const cos = table(
    'Spearman',
    ['task', 'split', 'CoSENT', 'SBERT', 'MSE', 'note: CoSENT', 'note: Sentence-BERT'],
    [
      ['ATEC', 'x', '30 ± 1', '20 ± 1', '25', 50, 46],
      ['STS-B', 'x', '10 ± 1', '12 ± 1', '25', 80, 70],
      // No number in the note: left out of both averages.
      ['STS-B (en)', 'x', '5 ± 1', '50 ± 1', '25', null, null],
    ],
  );
  const first = table(
    'Test Spearman ×100 after the first epoch (mean ± std over seeds)',
    ['task', 'CoSENT', 'SBERT', 'MSE'],
    [
      ['ATEC', '20 ± 1', '10 ± 1', '15'],
      ['STS-B', '8 ± 1', '4 ± 1', '5'],
      ['STS-B (en)', '1 ± 1', '90 ± 1', '5'],
    ],
  );
  const c = summarizeCosent(result([cos, first]));
  assert.equal(c?.status, 'partly');
  assert.equal(c?.reason, 'CoSENT ahead on 1 of 2 tasks; after one epoch +7.00');
  assert.equal(summarizeCosent(result([cos]))?.reason, 'CoSENT ahead on 1 of 2 tasks');
  assert.match(c!.note, /\+7\.00 Spearman points on average over the same 2 tasks/);
  assert.match(c!.ours, /\+4\.00 on average over 2 tasks/);
});

test('gradient penalties: any violation refutes the inequality; the regularizer decides the rest', () => {
  const verdict = (v: number, lowered: number) =>
    `The inequality held in all 990 random cases with ∇ₓf ≠ 0 (${v} violations; median right/left 3.2). The parameter penalty lowered the final input-gradient penalty below the unpenalised run in ${lowered} of 4 (dataset, model, λ) settings.`;
  const r = (v: number, lowered: number): ExperimentResult => ({
    ...result([]),
    verdict: verdict(v, lowered),
  });
  assert.equal(summarizeGradpenalty(r(0, 4))?.status, 'reproduces');
  assert.equal(summarizeGradpenalty(r(0, 2))?.status, 'partly');
  assert.equal(summarizeGradpenalty(r(1, 4))?.status, 'does not reproduce');
  assert.match(
    summarizeGradpenalty(r(0, 3))!.ours,
    /0 violations in 990 MLPs; input penalty lowered in 3 of 4/,
  );
});

test('init: the four findings of the verdict decide', () => {
  const verdict = (depth: string, warmup: string, ratio: string, gain: string) =>
    `(1) Post-LN ... ${depth} the note's 2^(−1/2) per residual+LayerNorm. (2) ${warmup} (3) Initial ratio — ${ratio}. (4) ... ${gain}.`;
  const r = (v: string): ExperimentResult => ({ ...result([]), verdict: v });
  const all = summarizeInit(
    r(
      verdict(
        'close to',
        'no-warmup training is clearly worse in every run, as the note says.',
        'small init keeps blocks near identity, as the note says',
        'the gain before the output grows, as the note says',
      ),
    ),
  )!;
  assert.equal(all.status, 'reproduces');
  assert.match(all.ours, /no warmup worse in every run/);
  const some = summarizeInit(
    r(
      verdict(
        'but far less than',
        'worse by > 0.1 nats in 1 of 3 seeds only: partial.',
        'small init keeps blocks near identity, as the note says',
        'the gain before the output grows, as the note says',
      ),
    ),
  )!;
  assert.equal(some.status, 'partly');
  assert.equal(some.reason, "2 of the note's 4 points hold fully, warmup partly");
  const none = summarizeInit(
    r(
      verdict(
        'but far less than',
        'no run is worse by more than 0.1 nats.',
        'not the clear separation the note predicts',
        'the gain before the output does not clearly grow',
      ),
    ),
  )!;
  assert.equal(none.status, 'does not reproduce');
  // The warmup finding as warmupVerdict words it: counted among the runs that learned, or untestable.
  const learned = summarizeInit(
    r(
      verdict(
        'but far less than',
        'worse by > 0.1 nats in 3 of the 6 (seed, depth, position) runs whose warmup run left the unigram plateau: partial.',
        'small init keeps blocks near identity, as the note says',
        'the gain before the output grows, as the note says',
      ),
    ),
  )!;
  assert.equal(learned.status, 'partly');
  assert.match(learned.ours, /no warmup worse in 3 of 6 runs that learned/);
  const untested = summarizeInit(
    r(
      verdict(
        'but far less than',
        'no warmup run left the unigram plateau in 60 steps, so this budget cannot test the claim.',
        'small init keeps blocks near identity, as the note says',
        'the gain before the output grows, as the note says',
      ),
    ),
  )!;
  assert.match(untested.ours, /no warmup worse in no run \(none left the unigram plateau\)/);
  assert.equal(summarizeInit(r('no structure')), undefined);
});

test('gan: GN behind GP on both, one or neither measure (the note found it behind)', () => {
  const toys = (gn: string, gp: string) =>
    table(
      '2-D toys: 3000 generator iterations',
      ['toy', 'method (loss)', 'modes', '% high-quality'],
      [
        ['8gaussians', 'gn (hinge)', '8.0 ± 0.0 / 8', gn],
        ['8gaussians', 'gp (wgan)', '8.0 ± 0.0 / 8', gp],
        ['25gaussians', 'gn (hinge)', '20.0 ± 1.0 / 25', '99.0 ± 0.1'],
      ],
    );
  const mnist = (gn: string, gp: string) =>
    table(
      'MNIST: MLP GAN, 3000 generator iterations',
      ['method (loss)', 'FID'],
      [
        ['gn (hinge)', gn],
        ['gp (wgan)', gp],
      ],
    );
  const s = (t: Table[]) => summarizeGan(result(t))!;
  assert.equal(s([toys('60.0 ± 1.0', '70.0 ± 1.0'), mnist('30.0 ± 1.0', '20.0 ± 1.0')]).status, 'reproduces');
  assert.equal(s([toys('80.0 ± 1.0', '70.0 ± 1.0'), mnist('30.0 ± 1.0', '20.0 ± 1.0')]).status, 'partly');
  const no = s([toys('80.0 ± 1.0', '70.0 ± 1.0'), mnist('10.0 ± 1.0', '20.0 ± 1.0')]);
  assert.equal(no.status, 'does not reproduce');
  assert.equal(no.ours, '% high-quality on 8gaussians: GN 80.0 vs GP 70.0; MNIST FID: GN 10.0 vs GP 20.0');
  assert.equal(summarizeGan(result([mnist('1', '2')])), undefined);
  // With seeds and standard errors, a difference within two standard errors decides nothing.
  const noisy = (gnHq: string, gnFid: string) =>
    s([
      table(
        '2-D toys: 3000 generator iterations, n_dis = 5, mean ± std over 3 seeds',
        ['toy', 'method (loss)', 'modes', '% high-quality'],
        [
          ['8gaussians', 'gp (wasserstein)', '4 / 8', '20.6 ± 6.1'],
          ['8gaussians', 'gn (hinge)', '3 / 8', gnHq],
        ],
      ),
      table(
        'MNIST: MLP GAN, 1000 generator iterations',
        ['method (loss)', 'FID', 'standard error'],
        [
          ['gn (hinge)', gnFid, '1.9'],
          ['gp (wasserstein)', '52.3 ± 1.9', '1.1'],
        ],
      ),
    ]);
  // Toy: 4.8 ahead against 2·hypot(26.1, 6.1)/√3 ≈ 31 (noise); FID 64 behind against 2·hypot(1.9, 1.1) ≈ 4.4.
  const mixed = noisy('25.4 ± 26.1', '116.4 ± 3.2');
  assert.equal(mixed.status, 'partly');
  assert.match(mixed.reason, /within noise on 8gaussians, behind on MNIST FID/);
  assert.equal(noisy('25.4 ± 26.1', '55.0 ± 3.2').status, 'inconclusive');
  assert.equal(noisy('25.4 ± 26.1', '40.0 ± 3.2').status, 'does not reproduce');
  assert.equal(noisy('5.0 ± 1.0', '116.4 ± 3.2').status, 'reproduces');
});

test('gan-conv: GN vs GP FID decided only beyond two standard errors of the difference', () => {
  const conv = (gn: string[], gp: string[]) =>
    result([
      table(
        'MNIST: conv GAN, 2000 generator iterations',
        ['method (loss)', 'FID', 'standard error'],
        [
          ['gn (hinge)', ...gn],
          ['gp (wasserstein)', ...gp],
        ],
      ),
    ]);
  // The difference 10 against 2·hypot(3, 4) = 10: not beyond, so inconclusive.
  assert.equal(summarizeGanConv(conv(['30.0 ± 5.2', '3.0'], ['20.0 ± 6.9', '4.0']))!.status, 'inconclusive');
  const worse = summarizeGanConv(conv(['31.0 ± 5.2', '3.0'], ['20.0 ± 6.9', '4.0']))!;
  assert.equal(worse.status, 'reproduces');
  assert.equal(worse.ours, 'MNIST conv FID: GN 31.0 vs GP 20.0 (standard error of the difference 5.0)');
  assert.equal(
    summarizeGanConv(conv(['9.0 ± 5.2', '3.0'], ['20.0 ± 6.9', '4.0']))!.status,
    'does not reproduce',
  );
  // One seed: no standard error, so no decision.
  assert.equal(summarizeGanConv(conv(['9.0', '—'], ['20.0', '—']))!.status, 'inconclusive');
  assert.equal(summarizeGanConv(result([])), undefined);
});
