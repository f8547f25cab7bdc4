/** A synthetic ExperimentResult exercising every part of the report (text math, tables, both chart kinds). */
import type { ExperimentResult } from '../experiments/types.js';

export function syntheticResult(name = 'toy'): ExperimentResult {
  return {
    name,
    title: `Toy experiment <${name}> & friends`,
    claim:
      'Alternating normalization with a prior $q$ improves accuracy on uncertain rows: $\\text{acc}_\\text{after} > \\text{acc}_\\text{before}$.',
    source: 'Su Jianlin, https://kexue.fm/archives/8728 (CAN), and Jia et al. 2021.',
    verdict: "Reproduced: $+0.46$ points (mean over 5 seeds), within the note's range.",
    budget: 'quick',
    seeds: [0, 1, 2, 3, 4],
    settings: { epochs: 3, 'train rows': 12000, tuned: true, model: 'char n-gram bag' },
    text: [
      'The uncertainty of a row is $H(\\hat p_{1..k}) / \\log k$; rows above the threshold are adjusted. Costs \\$0.',
      'Plain paragraph with <b>markup</b> that must be escaped, and a lone $ sign.',
    ],
    math: [
      'Y \\leftarrow Y^{\\alpha}, \\quad Y_{:,j} \\leftarrow \\frac{q_j\\,Y_{:,j}}{\\sum_i Y_{ij}}',
      '\\badcommand{x}',
    ],
    tables: [
      {
        title: 'Test accuracy (%)',
        columns: ['dataset', 'before', 'after', 'gain'],
        rows: [
          ['IFLYTEK', 60.06, 60.52, 0.46],
          ['TNEWS', 56.8, 56.86, null],
        ],
        note: 'Mean over seeds; gain in points, $\\pm$ std omitted.',
      },
    ],
    charts: [
      {
        title: 'Accuracy before/after CAN',
        kind: 'bar',
        xLabel: 'dataset',
        yLabel: 'accuracy',
        categories: ['IFLYTEK', 'TNEWS'],
        series: [
          { name: 'before', x: [0, 1], y: [0.6006, 0.568], err: [0.004, 0.003] },
          { name: 'after', x: [0, 1], y: [0.6052, 0.5686], err: [0.004, 0.003] },
        ],
      },
      {
        title: 'Training loss',
        kind: 'line',
        xLabel: 'epoch',
        yLabel: 'loss',
        logY: true,
        series: [
          {
            name: 'seed mean',
            x: [1, 2, 3, 4, 5],
            y: [2.5, 1.1, NaN, 0.42, 0.3],
            err: [0.2, 0.1, 0, 0.05, 0.04],
          },
          { name: 'reference', x: [1, 2, 3, 4, 5], y: [2.4, 1.3, 0.8, 0.5, 0.35] },
          { name: 'ablation', x: [1, 3, 5], y: [2.6, 1.5, 0.9] },
        ],
      },
    ],
    env: {
      kexue: '0.1.0',
      tfjs: '4.22.0',
      node: 'v20.0.0',
      backend: 'wasm',
      platform: 'linux x64',
      cpus: 2,
      date: '2026-11-23T20:00:00.000Z',
    },
    seconds: 12.34,
  };
}
