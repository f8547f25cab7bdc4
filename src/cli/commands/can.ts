/** `kexue can`: re-normalise low-confidence predictions with a label prior (CAN). */
import path from 'node:path';
import {
  can,
  canTune,
  checkLabels,
  checkProbMatrix,
  emPrior,
  priorFromLabels,
  softmaxRows,
  topkAccuracy,
  accuracy,
  uniformPrior,
} from '../../can/index.js';
import { CAN_MAX_ITERS, type ProbMatrix } from '../../can/index.js';
import { InputError } from '../../io/errors.js';
import { checkOutputFile, writeFileAtomic } from '../../io/atomic.js';
import { encodeNpy } from '../../io/npy.js';
import { readLabels, readMatrix, readVector } from '../../io/table.js';
import { initBackend } from '../../backend/index.js';
import { numberOption, requireString, stringOption, type Command } from '../command.js';
import { lateProgress } from '../progress.js';

const usage = `
Usage: kexue can --probs P --prior (LABELS_FILE|VECTOR_FILE|uniform|em) [options]

Re-normalises the low-confidence rows of P (class probabilities, one row per example) against the
confident rows and a label prior (CAN, https://kexue.fm/archives/8728).

  --probs FILE         probabilities (.npy, .csv or .jsonl rows); rows must sum to 1 within 1e-3
  --logits             P holds logits: apply a softmax to each row first
  --prior SPEC         labels:FILE   class frequencies of training labels (.npy, .txt, .jsonl)
                       vector:FILE   a prior vector (.npy, .json, .txt or .csv numbers)
                       FILE          either of the above, told apart by its contents
                       uniform       equal prior
                       em            estimate the deployment prior from P (Saerens et al. 2002)
  --train-prior SPEC   with --prior em: the prior the classifier was trained under (default uniform)
  --labels FILE        true labels of P's rows: report accuracy before and after
  --topk K             classes in the uncertainty measure (default 3, or the class count if fewer)
  --threshold T        adjust rows whose normalised top-k entropy is ≥ T (default 0.9)
  --alpha A            exponent of each iteration (default 1)
  --iters D            alternating normalisations, 1 to 100 (default 1)
  --dev-probs FILE     tune topk/threshold/alpha/iters on this validation split ...
  --dev-labels FILE    ... with these labels (never tune on the rows you evaluate)
  --out FILE           write the adjusted probabilities (.npy float64, or .csv)
  --json               print a JSON summary on stdout
`;

function loadProbs(file: string, logits: boolean): ProbMatrix {
  const m = readMatrix(file);
  if (logits) {
    checkProbMatrixShape(m, file);
    return softmaxRows(m);
  }
  checkProbMatrix(m, file, 1e-3);
  return m;
}

function checkProbMatrixShape(m: ProbMatrix, file: string): void {
  if (m.cols < 2) throw new InputError(`needs at least 2 classes, got ${m.cols}`, file);
  const bad = m.data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new InputError(`row ${Math.floor(bad / m.cols) + 1}: value is ${m.data[bad]}`, file);
}

/** A labels file has integers in 0..classes-1; a vector file has one value per class. */
function readPriorFile(spec: string, classes: number): Float64Array {
  const [kind, file] = /^(labels|vector):/.test(spec)
    ? [spec.slice(0, spec.indexOf(':')), spec.slice(spec.indexOf(':') + 1)]
    : ['auto', spec];
  if (kind === 'labels') return priorFromLabels(readLabels(file), classes);
  const values = readVector(file);
  const integers = values.every((v) => Number.isInteger(v) && v >= 0 && v < classes);
  if (kind === 'vector' || !integers) {
    if (values.length !== classes)
      throw new InputError(`prior has ${values.length} classes, the probabilities have ${classes}`, file);
    return values;
  }
  if (values.length === classes) {
    throw new InputError(
      `ambiguous: ${classes} integers could be labels or a vector; write labels:${file} or vector:${file}`,
      file,
    );
  }
  return priorFromLabels(values, classes);
}

function resolvePrior(
  spec: string,
  probs: ProbMatrix,
  trainSpec: string | undefined,
): { prior: Float64Array; source: string } {
  if (spec === 'uniform') return { prior: uniformPrior(probs.cols), source: 'uniform' };
  if (spec === 'em') {
    const train = trainSpec ? resolvePrior(trainSpec, probs, undefined).prior : uniformPrior(probs.cols);
    const r = emPrior(probs, train);
    return {
      prior: r.prior,
      source: `em (${r.iterations} iterations${r.converged ? '' : ', not converged'})`,
    };
  }
  return { prior: readPriorFile(spec, probs.cols), source: spec };
}

const fmt = (v: number) => (100 * v).toFixed(2) + '%';

export const canCommand: Command = {
  name: 'can',
  summary: 'adjust low-confidence predictions with a label prior (CAN)',
  usage,
  options: {
    probs: { type: 'string' },
    logits: { type: 'boolean' },
    prior: { type: 'string' },
    'train-prior': { type: 'string' },
    labels: { type: 'string' },
    topk: { type: 'string' },
    threshold: { type: 'string' },
    alpha: { type: 'string' },
    iters: { type: 'string' },
    'dev-probs': { type: 'string' },
    'dev-labels': { type: 'string' },
    out: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(v) {
    const probsFile = requireString(v.probs, 'probs');
    const json = Boolean(v.json);
    const out = stringOption(v.out);
    if (out) {
      const inputs = [probsFile, v.labels, v['dev-probs'], v['dev-labels'], v.prior].map(stringOption);
      checkOutputFile(out, '--out', { extensions: ['.npy', '.csv'], inputs });
    }
    await initBackend();
    const probs = loadProbs(probsFile, Boolean(v.logits));
    const { prior, source } = resolvePrior(
      requireString(v.prior, 'prior'),
      probs,
      stringOption(v['train-prior']),
    );
    let options = {
      topk: numberOption(v.topk, 'topk', Math.min(3, probs.cols), { integer: true, min: 2, max: probs.cols }),
      threshold: numberOption(v.threshold, 'threshold', 0.9),
      alpha: numberOption(v.alpha, 'alpha', 1, { above: 0 }),
      iters: numberOption(v.iters, 'iters', 1, { integer: true, min: 1, max: CAN_MAX_ITERS }),
    };
    const devProbsFile = stringOption(v['dev-probs']);
    let tuned: ReturnType<typeof canTune> | undefined;
    if (devProbsFile) {
      const dev = loadProbs(devProbsFile, Boolean(v.logits));
      if (dev.cols !== probs.cols)
        throw new InputError(`has ${dev.cols} classes, --probs has ${probs.cols}`, devProbsFile);
      const devLabels = readLabels(requireString(v['dev-labels'], 'dev-labels'));
      checkLabels(devLabels, dev.rows, dev.cols, stringOption(v['dev-labels']));
      tuned = canTune(
        dev,
        devLabels,
        prior,
        {},
        { onProgress: lateProgress('can: tuning on --dev-probs', { silent: json }) },
      );
      options = tuned.options;
    }
    const labelsFile = stringOption(v.labels);
    const labels = labelsFile ? readLabels(labelsFile) : undefined;
    if (labels && labelsFile) checkLabels(labels, probs.rows, probs.cols, labelsFile);
    const r = can(probs, prior, { ...options, onProgress: lateProgress('can', { silent: json }) });
    const outFile = stringOption(v.out);
    if (outFile) writeOutput(outFile, r.probs);
    const uncertain = r.adjusted.reduce((a, b) => a + b, 0);
    const k5 = Math.min(5, probs.cols);
    const summary = {
      n: probs.rows,
      classes: probs.cols,
      uncertain,
      ...(labels && {
        accuracy_before: accuracy(probs, labels),
        accuracy_after: accuracy(r.probs, labels),
        top5_before: topkAccuracy(probs, labels, k5),
        top5_after: topkAccuracy(r.probs, labels, k5),
      }),
      prior: Array.from(prior),
      prior_source: source,
      settings: options,
      ...(tuned && {
        tuned: {
          dev_accuracy_before: tuned.accuracyBefore,
          dev_accuracy_after: tuned.accuracyAfter,
          applied: tuned.apply,
          tried: tuned.tried,
        },
      }),
    };
    if (v.json) {
      process.stdout.write(JSON.stringify(summary) + '\n');
      return;
    }
    const lines = [
      `${probs.rows} rows, ${probs.cols} classes; ${uncertain} uncertain (${fmt(uncertain / Math.max(1, probs.rows))}) adjusted`,
      `settings: topk ${options.topk}, threshold ${options.threshold}, alpha ${options.alpha}, iters ${options.iters}${tuned ? ` (tuned on dev: ${fmt(tuned.accuracyBefore)} → ${fmt(tuned.accuracyAfter)}${tuned.apply ? '' : ', no gain: defaults kept'})` : ''}`,
      `prior: ${source}`,
    ];
    if (summary.accuracy_before !== undefined) {
      lines.push(`accuracy: ${fmt(summary.accuracy_before)} → ${fmt(summary.accuracy_after!)}`);
      lines.push(`top-${k5} accuracy: ${fmt(summary.top5_before!)} → ${fmt(summary.top5_after!)}`);
    }
    if (outFile) lines.push(`wrote ${outFile}`);
    process.stdout.write(lines.join('\n') + '\n');
  },
};

function writeOutput(file: string, r: ProbMatrix): void {
  const e = path.extname(file).toLowerCase();
  if (e === '.npy') return writeFileAtomic(file, encodeNpy(Float64Array.from(r.data), [r.rows, r.cols]));
  if (e === '.csv') {
    const rows: string[] = [];
    for (let i = 0; i < r.rows; i++)
      rows.push(Array.from(r.data.subarray(i * r.cols, (i + 1) * r.cols)).join(','));
    return writeFileAtomic(file, rows.join('\n') + '\n');
  }
  throw new InputError('unsupported output format: use .npy or .csv', file);
}
