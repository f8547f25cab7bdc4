/**
 * `kexue density train|score`: train a VAE or IWAE on binarized images (MNIST, Fashion-MNIST or a
 * .npy array) with resumable epoch checkpoints, and score inputs with the importance-sampled
 * log p̂(x). Models are saved in the TF.js format (model.json + weights.bin).
 */
import fs from 'node:fs';
import path from 'node:path';
import { initBackend } from '../../backend/index.js';
import { InputError } from '../../io/errors.js';
import { checkOutputFile, checkOutputFolder } from '../../io/atomic.js';
import { readIdx } from '../../io/idx.js';
import { readNpy, writeNpy } from '../../io/npy.js';
import {
  findTrainCheckpoint,
  directoryHandler,
  trainEpochsWithCheckpoints,
  loadVAEDir,
  readTrainState,
} from '../../io/vae-files.js';
import {
  binarizeFixed,
  checkData,
  logitMean,
  logLikelihood,
  paperConfig,
  paperLearningRate,
  saveVAE,
  VAEModel,
  VAETrainer,
  type Binarization,
  type Estimator,
  type Likelihood,
  type Objective,
} from '../../density/index.js';
import { defaultDataDir } from '../../experiments/run.js';
import { Progress } from '../progress.js';
import { numberOption, requireString, stringOption, type Command } from '../command.js';
import { checkMemory, vaeStepBytes } from '../memory.js';

const usage = `
Usage: kexue density train --data mnist|fashion-mnist|FILE.npy --out DIR [options]
       kexue density score --model DIR --in X.npy|IDX[.gz] --out SCORES.npy [options]

train: fits a VAE (k-sample ELBO) or an IWAE (k-sample importance-weighted bound) with the IWAE
paper's networks (tanh MLPs, Glorot init, Adam ε = 1e-4, batch 20, dynamic binarization). After
every epoch a checkpoint is written to DIR/checkpoint; running the same command again resumes it.
The final model is saved in the TF.js format: DIR/model.json + DIR/weights.bin.

  --data D           mnist | fashion-mnist (from --data-dir) or a .npy array [n, dim] / [n, h, w]
                     (uint8 is scaled by 1/255; floats must lie in [0, 1] for the Bernoulli decoder)
  --objective O      vae | iwae (default iwae)
  --k K              samples per datapoint (default 5)
  --estimator E      standard | dreg (DReG encoder gradient; iwae only; default standard)
  --layers L         1 | 2 stochastic layers (default 1)
  --decoder P        bernoulli | gaussian (learned per-pixel variance) (default bernoulli)
  --epochs E         total epochs (default 10)
  --batch-size N     (default 20)
  --lr X             constant learning rate (default: the paper's schedule compressed to E epochs)
  --binarize B       dynamic | fixed | none (default dynamic for bernoulli, none for gaussian)
  --limit N          use the first N training images
  --data-dir DIR     folder holding mnist/ and fashion-mnist/ (default ../shared/data)
  --seed N           (default 0)
  --out DIR          output folder
  --json             print a JSON summary on stdout

score: writes log p̂(x) (nats, float64, one per row) to SCORES.npy.

  --model DIR        a folder written by 'kexue density train'
  --in FILE          .npy [n, dim] / [n, h, w] or an IDX image file (.gz allowed); uint8 scaled by 1/255
  --k K              importance samples per input (default 5000)
  --binarize B       fixed: binarize the inputs once (seed --seed) before scoring | none (default)
  --chunk N          samples per pass (default: bounded by memory)
  --seed N           (default 0)
  --out FILE         .npy to write
  --json             print mean NLL, bits/dim, k and time on stdout
`;

function choice<T extends string>(value: unknown, name: string, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T))
    throw new InputError(`--${name} must be one of ${allowed.join(', ')}, got '${String(value)}'`);
  return value as T;
}

/** Reads images as a flat [n, dim] Float32Array in [0, 1] (uint8 scaled), with the file named in errors. */
export function readImages(file: string, limit = Infinity): { data: Float32Array; n: number; dim: number } {
  const isNpy = file.endsWith('.npy');
  const arr = isNpy ? readNpy(file) : readIdx(file);
  const shape = arr.shape;
  if (shape.length < 2 || shape.some((d) => d < 1)) {
    throw new InputError(`expected an array of shape [n, dim] or [n, h, w], got (${shape.join(', ')})`, file);
  }
  const dim = shape.slice(1).reduce((a, b) => a * b, 1);
  const n = Math.min(shape[0], limit);
  const scale = arr.data instanceof Uint8Array ? 1 / 255 : 1;
  const data = new Float32Array(n * dim);
  for (let i = 0; i < data.length; i++) {
    const v = arr.data[i] * scale;
    if (!Number.isFinite(v))
      throw new InputError(`non-finite value (${v}) at row ${Math.floor(i / dim)}`, file);
    data[i] = v;
  }
  return { data, n, dim };
}

function checkUnit(data: Float32Array, dim: number, file: string): void {
  for (let i = 0; i < data.length; i++) {
    if (data[i] < 0 || data[i] > 1) {
      throw new InputError(
        `value ${data[i]} at row ${Math.floor(i / dim)} is outside [0, 1] (the Bernoulli decoder needs probabilities or binary pixels)`,
        file,
      );
    }
  }
}

function loadTraining(
  spec: string,
  dataDir: string,
  limit: number,
): { data: Float32Array; dim: number; source: string } {
  if (spec === 'mnist' || spec === 'fashion-mnist') {
    const file = path.join(dataDir, spec, 'train-images-idx3-ubyte.gz');
    const r = readImages(file, limit);
    return { data: r.data, dim: r.dim, source: file };
  }
  if (!spec.endsWith('.npy'))
    throw new InputError(`--data must be mnist, fashion-mnist or a .npy file, got '${spec}'`);
  const r = readImages(spec, limit);
  return { data: r.data, dim: r.dim, source: spec };
}

async function train(v: Record<string, unknown>): Promise<number> {
  const dataSpec = requireString(v.data, 'data');
  const out = requireString(v.out, 'out');
  const objective = choice<Objective>(v.objective, 'objective', ['vae', 'iwae'], 'iwae');
  const estimator = choice<Estimator>(v.estimator, 'estimator', ['standard', 'dreg'], 'standard');
  if (estimator === 'dreg' && objective !== 'iwae')
    throw new InputError('--estimator dreg needs --objective iwae');
  const k = numberOption(v.k, 'k', 5, { integer: true, min: 1 });
  const layers = Number(choice(v.layers, 'layers', ['1', '2'], '1')) as 1 | 2;
  const likelihood = choice<Likelihood>(v.decoder, 'decoder', ['bernoulli', 'gaussian'], 'bernoulli');
  const epochs = numberOption(v.epochs, 'epochs', 10, { integer: true, min: 1 });
  const batchSize = numberOption(v['batch-size'], 'batch-size', 20, { integer: true, min: 1 });
  const lr = v.lr === undefined ? undefined : numberOption(v.lr, 'lr', 1e-3, { above: 0 });
  const binarization = choice<Binarization>(
    v.binarize,
    'binarize',
    ['dynamic', 'fixed', 'none'],
    likelihood === 'bernoulli' ? 'dynamic' : 'none',
  );
  const limit = numberOption(v.limit, 'limit', Infinity, { integer: true, min: 1 });
  const seed = numberOption(v.seed, 'seed', 0, { integer: true, min: 0 });
  const dataDir = stringOption(v['data-dir']) ?? defaultDataDir();
  const { data, dim, source } = loadTraining(dataSpec, dataDir, limit);
  if (likelihood === 'bernoulli') checkUnit(data, dim, source);
  const rows = Math.min(batchSize, data.length / dim) * k;
  checkMemory(vaeStepBytes(paperConfig(layers, dim, likelihood), rows), 'a training step', [
    'batch-size',
    'k',
  ]);
  checkOutputFolder(out, '--out');
  const settings = {
    data: dataSpec,
    objective,
    k,
    estimator,
    layers,
    decoder: likelihood,
    batchSize,
    lr: lr ?? 'paper',
    binarization,
    limit: Number.isFinite(limit) ? limit : 'all',
    seed,
    dim,
  };
  await initBackend({ quiet: Boolean(v.json) });

  const ckptDir = path.join(out, 'checkpoint');
  const found = findTrainCheckpoint(ckptDir);
  let model: VAEModel;
  let state = {
    epoch: 0,
    settings: settings as Record<string, unknown>,
    history: [] as { epoch: number; bound: number; seconds: number }[],
  };
  if (found) {
    const saved = readTrainState(found);
    for (const [key, val] of Object.entries(settings)) {
      if (JSON.stringify(saved.settings[key]) !== JSON.stringify(val)) {
        throw new InputError(
          `the checkpoint was trained with ${key} = ${JSON.stringify(saved.settings[key])}, this run asks for ${JSON.stringify(val)}; use the same settings to resume or another --out`,
          path.join(found, 'state.json'),
        );
      }
    }
    model = await loadVAEDir(found);
    state = { ...saved, settings };
  } else {
    const config = paperConfig(layers, dim, likelihood);
    model = VAEModel.build(config, {
      seed,
      outputBias: likelihood === 'bernoulli' ? logitMean(data, dim) : meanOf(data, dim),
    });
  }
  const trainer = new VAETrainer(
    model,
    data,
    { objective, k, estimator, epochs, batchSize, learningRate: lr ?? paperLearningRate, binarization, seed },
    model.namedParameters(),
  );
  try {
    const startEpoch = found ? state.epoch : 0;
    const bar = new Progress({
      label: `density ${objective} k=${k}`,
      total: Math.max(0, epochs - startEpoch) * trainer.batchesPerEpoch,
      silent: Boolean(v.json),
    });
    await trainEpochsWithCheckpoints(trainer, model, state, {
      epochs,
      dir: ckptDir,
      resumeFrom: found,
      onBatch: (b) => bar.tick(1, `epoch ${trainer.epoch + 1}/${epochs} bound ${b.toFixed(2)}`),
    });
    await saveVAE(model, directoryHandler(out));
    const last = state.history[state.history.length - 1];
    const summary = {
      out,
      epochs: state.epoch,
      resumedFrom: startEpoch,
      finalBound: last?.bound ?? null,
      seconds: state.history.reduce((a, h) => a + h.seconds, 0),
      settings,
    };
    if (v.json) process.stdout.write(JSON.stringify(summary) + '\n');
    else
      process.stdout.write(
        `saved ${path.join(out, 'model.json')} after ${state.epoch} epoch(s); final training bound ${last ? last.bound.toFixed(3) : 'n/a'} nats\n`,
      );
    return 0;
  } finally {
    trainer.dispose();
    model.dispose();
  }
}

function meanOf(data: Float32Array, dim: number): Float32Array {
  const n = data.length / dim;
  const m = new Float32Array(dim);
  for (let i = 0; i < data.length; i++) m[i % dim] += data[i] / n;
  return m;
}

async function score(v: Record<string, unknown>): Promise<number> {
  const modelDir = requireString(v.model, 'model');
  const input = requireString(v.in, 'in');
  const out = requireString(v.out, 'out');
  const k = numberOption(v.k, 'k', 5000, { integer: true, min: 1, max: 1_000_000 });
  const chunk =
    v.chunk === undefined ? undefined : numberOption(v.chunk, 'chunk', 1, { integer: true, min: 1 });
  const seed = numberOption(v.seed, 'seed', 0, { integer: true, min: 0 });
  checkOutputFile(out, '--out', { extensions: ['.npy'], inputs: [input] });
  if (!fs.existsSync(path.join(modelDir, 'model.json')))
    throw new InputError('no model.json here (train one with kexue density train)', modelDir);
  const images = readImages(input);
  await initBackend({ quiet: Boolean(v.json) });
  const model = await loadVAEDir(modelDir);
  try {
    if (images.dim !== model.dataDim)
      throw new InputError(`rows have ${images.dim} values, the model expects ${model.dataDim}`, input);
    // logLikelihood scores blocks of up to 100 inputs × chunk samples at once.
    if (chunk !== undefined) {
      const rows = Math.min(images.n, 100) * Math.min(chunk, k);
      checkMemory(vaeStepBytes(model.config, rows, false), 'a block of samples', ['chunk']);
    }
    const x = v.binarize ? binarizeFixed(images.data, seed) : images.data;
    try {
      await checkData(model, x);
    } catch (e) {
      throw new InputError((e as Error).message, input);
    }
    const bar = new Progress({ label: `density score k=${k}`, total: 1000, silent: Boolean(v.json) });
    let shown = 0;
    const t0 = Date.now();
    const r = await logLikelihood(model, x, {
      k,
      chunk,
      seed,
      onProgress: (f) => {
        const t = Math.floor(f * 1000);
        bar.tick(t - shown);
        shown = t;
      },
    });
    const seconds = (Date.now() - t0) / 1000;
    writeNpy(out, r.logPx, [r.logPx.length]);
    const meanElbo = r.elbo.reduce((a, b) => a + b, 0) / r.elbo.length;
    const summary = { n: images.n, k, meanNll: r.nll, bitsPerDim: r.bitsPerDim, meanElbo, seconds, out };
    if (v.json) process.stdout.write(JSON.stringify(summary) + '\n');
    else
      process.stdout.write(
        `${images.n} inputs, k = ${k}: mean NLL ${r.nll.toFixed(3)} nats (${r.bitsPerDim.toFixed(4)} bits/dim), mean ELBO ${meanElbo.toFixed(3)}, ${seconds.toFixed(1)} s → ${out}\n`,
      );
    return 0;
  } finally {
    model.dispose();
  }
}

export const densityCommand: Command = {
  name: 'density',
  summary: 'train a VAE/IWAE on binarized images and score log p(x) by importance sampling',
  usage,
  subcommands: {
    train: [
      'data',
      'objective',
      'k',
      'estimator',
      'layers',
      'decoder',
      'epochs',
      'batch-size',
      'lr',
      'binarize',
      'limit',
      'data-dir',
      'seed',
      'out',
      'json',
    ],
    score: ['model', 'in', 'k', 'binarize', 'chunk', 'seed', 'out', 'json'],
  },
  options: {
    data: { type: 'string' },
    objective: { type: 'string' },
    k: { type: 'string' },
    estimator: { type: 'string' },
    layers: { type: 'string' },
    decoder: { type: 'string' },
    epochs: { type: 'string' },
    'batch-size': { type: 'string' },
    lr: { type: 'string' },
    binarize: { type: 'string' },
    limit: { type: 'string' },
    'data-dir': { type: 'string' },
    seed: { type: 'string' },
    out: { type: 'string' },
    model: { type: 'string' },
    in: { type: 'string' },
    chunk: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(values, [sub]) {
    if (sub === 'score') {
      const b = choice(values.binarize, 'binarize', ['fixed', 'none'], 'none');
      return score({ ...values, binarize: b === 'fixed' });
    }
    return train(values);
  },
};
