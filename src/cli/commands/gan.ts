/** `kexue gan`: train a GAN with a chosen Lipschitz method on a 2-D toy or MNIST; write samples as PNG. */
import path from 'node:path';
import { initBackend } from '../../backend/index.js';
import { checkOutputFile, writeFileAtomic } from '../../io/atomic.js';
import { InputError } from '../../io/errors.js';
import { readImageSet } from '../../io/idx.js';
import { encodeGrayPng } from '../../io/png.js';
import { imageGrid, scatterImage } from '../../gan/grid.js';
import { TOY_NAMES, toy, type ToyName } from '../../gan/toys.js';
import {
  GAN_LOSSES,
  GanTrainer,
  LIPSCHITZ_METHODS,
  type GanArchitecture,
  type GanLoss,
  type LipschitzMethod,
} from '../../gan/trainer.js';
import { MNIST_CONV_NETS, MNIST_NETS } from '../../experiments/gan.js';
import { defaultDataDir } from '../../experiments/run.js';
import { Progress } from '../progress.js';
import { numberOption, stringOption, type Command } from '../command.js';
import type { Rng } from '../../util/rng.js';

const usage = `
Usage: kexue gan [options]

Trains a GAN and writes generated samples as a PNG (2-D scatter plot or an 8×8 digit grid).

  --data NAME        8gaussians | 25gaussians | swissroll | mnist (default 8gaussians)
  --arch A           mlp | conv: MLPs, or DCGAN-style convolutional nets (mnist only) (default mlp)
  --method M         none | clip | gp | sn | gn | gn-fast | gran (default gn)
  --loss L           wasserstein | hinge | ns (default hinge)
  --iters N          generator iterations (default 2000)
  --n-dis N          critic steps per generator step (default 1)
  --lr X             Adam step size for both players (default 1e-3 toys, 2e-4 mnist)
  --beta1 X, --beta2 X   Adam betas (default 0.5, 0.9)
  --ema X            EMA decay of the generator weights, 0 = off (default 0)
  --seed N           (default 0)
  --mnist DIR        MNIST folder (default <data>/mnist)
  --out FILE         PNG to write (default gan-<data>-<method>.png)
  --json             print a JSON summary on stdout
`;

function choice<T extends string>(value: unknown, name: string, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T))
    throw new InputError(`--${name} must be one of ${allowed.join(', ')}, got '${String(value)}'`);
  return value as T;
}

export const ganCommand: Command = {
  name: 'gan',
  summary: 'train a GAN (GN, GP, SN, ...) on a 2-D toy or MNIST and write samples',
  usage,
  options: {
    data: { type: 'string' },
    arch: { type: 'string' },
    method: { type: 'string' },
    loss: { type: 'string' },
    iters: { type: 'string' },
    'n-dis': { type: 'string' },
    lr: { type: 'string' },
    beta1: { type: 'string' },
    beta2: { type: 'string' },
    ema: { type: 'string' },
    seed: { type: 'string' },
    mnist: { type: 'string' },
    out: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(values) {
    const data = choice(values.data, 'data', [...TOY_NAMES, 'mnist'] as const, '8gaussians');
    const method = choice<LipschitzMethod>(values.method, 'method', LIPSCHITZ_METHODS, 'gn');
    const loss = choice<GanLoss>(values.loss, 'loss', GAN_LOSSES, 'hinge');
    const iters = numberOption(values.iters, 'iters', 2000, { integer: true, min: 1, max: 10_000_000 });
    const nDis = numberOption(values['n-dis'], 'n-dis', 1, { integer: true, min: 1 });
    const isMnist = data === 'mnist';
    const arch = choice<GanArchitecture>(values.arch, 'arch', ['mlp', 'conv'], 'mlp');
    if (arch === 'conv' && !isMnist)
      throw new InputError(
        `--arch conv needs image data (--data mnist), got --data ${data}; toys use --arch mlp`,
      );
    const lr = numberOption(values.lr, 'lr', isMnist ? 2e-4 : 1e-3, { above: 0 });
    const beta1 = numberOption(values.beta1, 'beta1', 0.5, { min: 0, below: 1 });
    const beta2 = numberOption(values.beta2, 'beta2', 0.9, { min: 0, below: 1 });
    const emaDecay = numberOption(values.ema, 'ema', 0, { min: 0, below: 1 });
    const seed = numberOption(values.seed, 'seed', 0, { integer: true, min: 0 });
    const out = stringOption(values.out) ?? `gan-${data}-${method}.png`;
    checkOutputFile(out, '--out', { extensions: ['.png'] });
    await initBackend();
    let sampler: (n: number, rng: Rng) => Float32Array;
    if (isMnist) {
      const set = readImageSet(stringOption(values.mnist) ?? path.join(defaultDataDir(), 'mnist'), 'train');
      const scaled = set.images.map((v) => 2 * v - 1);
      sampler = (n, rng) => {
        const b = new Float32Array(n * 784);
        for (let i = 0; i < n; i++) {
          const k = rng.int(set.n);
          b.set(scaled.subarray(k * 784, (k + 1) * 784), i * 784);
        }
        return b;
      };
    } else {
      const t = toy(data as ToyName);
      sampler = (n, rng) => t.sample(n, rng);
    }
    const toyNets = { dataDim: 2, zDim: 2, genHidden: [128, 128], criticHidden: [128, 128] };
    // The networks `kexue experiment gan` trains.
    const nets = isMnist ? (arch === 'conv' ? MNIST_CONV_NETS : MNIST_NETS) : toyNets;
    const tr = new GanTrainer({
      ...nets,
      genOut: isMnist ? 'tanh' : 'linear',
      criticActivation: isMnist ? 'leakyRelu' : 'relu',
      lipschitz: method,
      loss,
      nDis,
      lrG: lr,
      lrD: lr,
      beta1,
      beta2,
      batchSize: isMnist ? 64 : 128,
      clip: isMnist ? 0.01 : 0.1,
      emaDecay,
      seed,
    });
    const bar = new Progress({
      label: `gan ${data} ${arch} ${method}`,
      total: iters,
      silent: Boolean(values.json),
    });
    let ms = 0;
    for (let i = 0; i < iters; i++) {
      const s = tr.step(sampler);
      ms += s.ms;
      bar.tick(1, `D ${s.lossD.toFixed(3)} G ${s.lossG.toFixed(3)}`);
    }
    const summary: Record<string, unknown> = {
      data,
      arch,
      method,
      loss,
      iters,
      msPerIteration: ms / iters,
      out,
    };
    if (isMnist) {
      const gen = tr.sample(64).map((v) => (v + 1) / 2);
      const grid = imageGrid(gen, 64, 28, 28, 8);
      writeFileAtomic(out, encodeGrayPng(grid.pixels, grid.width, grid.height));
    } else {
      const samples = tr.sample(2500);
      Object.assign(summary, toy(data as ToyName).metrics(samples, 2500));
      const img = scatterImage(samples, 2500, data === 'swissroll' ? 2.2 : 2.6);
      writeFileAtomic(out, encodeGrayPng(img.pixels, img.width, img.height));
    }
    tr.dispose();
    if (values.json) process.stdout.write(JSON.stringify(summary) + '\n');
    else
      for (const [k, v] of Object.entries(summary))
        process.stdout.write(`${k}: ${typeof v === 'number' ? +v.toFixed(4) : v}\n`);
    return 0;
  },
};
