/**
 * `kexue gradpenalty`: both sides of the input/parameter gradient inequality for an MLP — one given as
 * JSON, or random — at given or random inputs, with per-layer terms; or a survey over random MLPs.
 */
import fs from 'node:fs';
import { InputError } from '../../io/errors.js';
import { Rng } from '../../util/rng.js';
import {
  ACTIVATIONS,
  checkMlp,
  gradientPenaltyInequality,
  randomMlp,
  weightSpectralNormsSq,
  type Activation,
  type DenseLayer,
  type Mlp,
} from '../../penalty/inequality.js';
import { inequalitySurvey } from '../../penalty/property.js';
import { lateProgress } from '../progress.js';
import { numberOption, stringOption, type Command } from '../command.js';
import { checkMemory, mlpStepBytes } from '../memory.js';

const usage = `
Usage: kexue gradpenalty [--model FILE | --depth N --width N --input-dim N --activation A] [options]
       kexue gradpenalty --survey N

Computes ‖∇ₓf‖²·Σₜ(1+‖h⁽ᵗ⁾‖²)/(‖W⁽ᵗ⁾‖²‖∇ₓh⁽ᵗ⁾‖²) (left) and ‖∇_θf‖² (right) for an MLP
h⁽ᵗ⁺¹⁾ = g(W⁽ᵗ⁾h⁽ᵗ⁾ + b⁽ᵗ⁾) with scalar output f (spectral norms for W and the Jacobian).

  --model FILE       JSON {"layers": [{"weight": [[...], ...] (out × in), "bias": [...],
                     "activation": "relu"|"tanh"|"gelu"|"linear"}, ...]}; the last layer has one output
  --depth N          random MLP: number of weight layers (default 3)
  --width N          hidden width (default 32)
  --input-dim N      input size (default 10)
  --activation A     relu | tanh | gelu | linear (default relu)
  --x FILE           JSON array of inputs (one array per point); default: --points standard normal points
  --points N         random points (default 5)
  --seed N           (default 0)
  --survey N         instead: N random MLPs (depth 1–8, widths 1–64), ratio right/left quantiles
  --json             print JSON on stdout
`;

function parseModel(file: string): Mlp {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new InputError(`cannot read JSON: ${(e as Error).message}`, file);
  }
  const layers = (raw as { layers?: unknown }).layers;
  if (!Array.isArray(layers) || layers.length === 0)
    throw new InputError('expected a non-empty "layers" array', file);
  const out: DenseLayer[] = layers.map((l: { weight?: unknown; bias?: unknown; activation?: unknown }, t) => {
    const w = l.weight;
    if (
      !Array.isArray(w) ||
      w.length === 0 ||
      !w.every((r) => Array.isArray(r) && r.length === w[0].length)
    ) {
      throw new InputError(
        'weight must be a non-empty rectangular array',
        file,
        undefined,
        `layers[${t}].weight`,
      );
    }
    const outDim = w.length;
    const inDim = (w[0] as unknown[]).length;
    const flat = (w as unknown[][]).flat().map(Number);
    const bias = Array.isArray(l.bias) ? l.bias.map(Number) : [];
    if (bias.length !== outDim)
      throw new InputError(`bias must have ${outDim} values`, file, undefined, `layers[${t}].bias`);
    if ([...flat, ...bias].some((v) => !Number.isFinite(v)))
      throw new InputError('non-numeric value', file, undefined, `layers[${t}]`);
    const act = (l.activation ?? 'linear') as Activation;
    if (!ACTIVATIONS.includes(act))
      throw new InputError(
        `activation must be one of ${ACTIVATIONS.join(', ')}`,
        file,
        undefined,
        `layers[${t}].activation`,
      );
    return { inDim, outDim, weight: Float64Array.from(flat), bias: Float64Array.from(bias), activation: act };
  });
  const mlp = { layers: out };
  try {
    checkMlp(mlp);
  } catch (e) {
    throw new InputError((e as Error).message, file);
  }
  return mlp;
}

function parsePoints(file: string, dim: number): number[][] {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new InputError(`cannot read JSON: ${(e as Error).message}`, file);
  }
  if (!Array.isArray(raw)) throw new InputError('expected an array of points', file);
  return raw.map((p, i) => {
    if (!Array.isArray(p) || p.length !== dim || !p.every((v) => Number.isFinite(Number(v)))) {
      throw new InputError(`point ${i} must be ${dim} numbers`, file);
    }
    return p.map(Number);
  });
}

export const gradpenaltyCommand: Command = {
  name: 'gradpenalty',
  summary: 'input- vs parameter-gradient inequality for an MLP (given or random)',
  usage,
  options: {
    model: { type: 'string' },
    depth: { type: 'string' },
    width: { type: 'string' },
    'input-dim': { type: 'string' },
    activation: { type: 'string' },
    x: { type: 'string' },
    points: { type: 'string' },
    seed: { type: 'string' },
    survey: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(values) {
    const seed = numberOption(values.seed, 'seed', 0, { integer: true, min: 0 });
    const rng = new Rng(seed);
    const json = Boolean(values.json);
    if (values.survey !== undefined) {
      const n = numberOption(values.survey, 'survey', 1000, { integer: true, min: 1, max: 1_000_000 });
      const s = inequalitySurvey(
        rng,
        n,
        undefined,
        lateProgress('gradpenalty --survey', { silent: Boolean(values.json) }),
      );
      if (json) process.stdout.write(JSON.stringify(s) + '\n');
      else {
        process.stdout.write(`${s.cases} MLPs, ${s.zeroLeft} with ∇ₓf = 0, ${s.violations} violations\n`);
        for (const q of s.quantiles)
          process.stdout.write(`q${q.q}: right/left = ${q.ratio.toPrecision(5)}\n`);
        for (const d of s.medianByDepth)
          process.stdout.write(`depth ${d.depth}: median ${d.median.toPrecision(4)} (${d.cases})\n`);
      }
      return 0;
    }
    const modelFile = stringOption(values.model);
    let mlp: Mlp;
    if (modelFile) mlp = parseModel(modelFile);
    else {
      const depth = numberOption(values.depth, 'depth', 3, { integer: true, min: 1 });
      const width = numberOption(values.width, 'width', 32, { integer: true, min: 1 });
      const inputDim = numberOption(values['input-dim'], 'input-dim', 10, { integer: true, min: 1 });
      const act = (stringOption(values.activation) ?? 'relu') as Activation;
      if (!ACTIVATIONS.includes(act))
        throw new InputError(`--activation must be one of ${ACTIVATIONS.join(', ')}`);
      const widths = Array<number>(depth - 1).fill(width);
      // Plain float64 weights, and as much again for each layer's spectral norm and gradients.
      const bytes = 2 * 2 * mlpStepBytes([inputDim, ...widths, 1], 1, false);
      checkMemory(bytes, 'this network', ['width', 'depth', 'input-dim']);
      mlp = randomMlp(rng, { inputDim, widths, activation: act });
    }
    const dim = mlp.layers[0].inDim;
    const xFile = stringOption(values.x);
    const points = xFile
      ? parsePoints(xFile, dim)
      : Array.from(
          { length: numberOption(values.points, 'points', 5, { integer: true, min: 1, max: 1_000_000 }) },
          () => Array.from({ length: dim }, () => rng.normal()),
        );
    const norms = weightSpectralNormsSq(mlp);
    const results = points.map((x) => gradientPenaltyInequality(mlp, x, norms));
    if (json) process.stdout.write(JSON.stringify(results) + '\n');
    else {
      results.forEach((r, i) => {
        process.stdout.write(
          `point ${i}: f = ${r.f.toPrecision(5)}  ‖∇ₓf‖² = ${r.inputGradNormSq.toPrecision(5)}  left = ${r.left.toPrecision(6)}  right = ‖∇θf‖² = ${r.right.toPrecision(6)}  right/left = ${r.ratio.toPrecision(5)}\n`,
        );
        r.layers.forEach((l, t) =>
          process.stdout.write(
            `  layer ${t}: ‖h‖² ${l.hNormSq.toPrecision(4)}  ‖W‖₂² ${l.weightNormSq.toPrecision(4)}  ‖∇ₓh‖₂² ${l.jacobianNormSq.toPrecision(4)}  left ${l.left.toPrecision(4)}  right ${l.right.toPrecision(4)}\n`,
          ),
        );
      });
    }
    return 0;
  },
};
