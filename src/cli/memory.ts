/**
 * Refusing sizes that cannot fit, before any work: each training command estimates the peak memory its
 * flags imply (float32 weights, gradients and optimizer moments, plus the activations one step keeps
 * for its backward pass) and stops with the estimate when it exceeds what the machine has available.
 * The estimates are lower bounds of the real peak (no allocator or runtime overhead), so a refusal is
 * never a false alarm; a size that passes can still be tight.
 */
import fs from 'node:fs';
import os from 'node:os';
import type { EncoderConfig } from '../encoder/config.js';
import { InputError } from '../io/errors.js';

const F32 = 4;
const GIB = 2 ** 30;

/** Bytes the machine can still give this process: Linux's MemAvailable, else the OS's free memory. */
export function availableMemory(): number {
  try {
    const m = /^MemAvailable:\s+(\d+) kB/m.exec(fs.readFileSync('/proc/meminfo', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux: fall through
  }
  return os.freemem();
}

const gib = (bytes: number) =>
  bytes / GIB >= 0.1 ? `${(bytes / GIB).toFixed(1)} GiB` : `${(bytes / 2 ** 20).toFixed(0)} MiB`;

/**
 * Throws an InputError naming `flags` when `bytes` (an estimate for `what`) exceeds `available`.
 * KEXUE_MEMORY_BYTES overrides the available memory (for tests and for machines that swap).
 */
export function checkMemory(
  bytes: number,
  what: string,
  flags: string[],
  available = Number(process.env.KEXUE_MEMORY_BYTES) || availableMemory(),
): void {
  if (!(bytes > available)) return;
  throw new InputError(
    `${what} needs at least ${gib(bytes)} of memory but ${gib(available)} is available; lower ${flags.map((f) => `--${f}`).join(' or ')}`,
  );
}

/** Sizes of a Transformer encoder step. `intermediate` defaults to 4·hidden. */
export interface TransformerSize {
  vocab: number;
  layers: number;
  hidden: number;
  heads: number;
  seq: number;
  batch: number;
  intermediate?: number;
  /** Rows of output logits per sequence position (the MLM head's vocabulary), 0 without one. */
  outputVocab?: number;
}

/**
 * Parameters of a BERT-style encoder: token embeddings, the blocks, and an MLM head over `outputVocab`
 * (a transform and a bias; its output matrix is the tied embedding). Positions, token types and the
 * embedding LayerNorm are left out: a lower bound.
 */
export function transformerParameters(s: TransformerSize): number {
  const h = s.hidden;
  const f = s.intermediate ?? 4 * h;
  const block = 4 * h * h + 4 * h + 2 * h * f + f + h + 4 * h;
  const head = s.outputVocab ? h * h + h + s.outputVocab : 0;
  return s.vocab * h + s.layers * block + head;
}

/**
 * Peak bytes of one AdamW training step (`training`) or of an inference batch: weights, gradients and
 * two moments, plus per-layer activations (the hidden states, the feed-forward layer and the attention
 * probabilities) and the output logits with their gradient.
 */
export function transformerStepBytes(s: TransformerSize, training = true): number {
  const tokens = s.batch * s.seq;
  const f = s.intermediate ?? 4 * s.hidden;
  const perLayer = tokens * (8 * s.hidden + 2 * f) + 2 * s.batch * s.heads * s.seq * s.seq;
  const activations = training ? s.layers * perLayer : perLayer;
  const logits = tokens * (s.outputVocab ?? 0) * (training ? 3 : 1);
  return F32 * (transformerParameters(s) * (training ? 4 : 1) + activations + logits);
}

/** Peak bytes of training (or evaluating) a fully connected network of the given widths on `batch` rows. */
export function mlpStepBytes(widths: number[], batch: number, training = true): number {
  let params = 0;
  for (let i = 1; i < widths.length; i++) params += widths[i - 1] * widths[i] + widths[i];
  const activations = batch * widths.reduce((a, w) => a + w, 0) * (training ? 2 : 1);
  return F32 * (params * (training ? 4 : 1) + activations);
}

/**
 * Refuses a training step (or inference batch) of `batch` sequences of `seq` tokens through an encoder
 * with `config` that cannot fit; `flags` are the options that set the size.
 */
export function checkEncoderStep(
  config: Pick<EncoderConfig, 'vocabSize' | 'layers' | 'hidden' | 'heads' | 'intermediate'>,
  run: { seq: number; batch: number; outputVocab?: number; training?: boolean },
  what: string,
  flags: string[],
): void {
  const size: TransformerSize = { vocab: config.vocabSize, ...config, ...run };
  checkMemory(transformerStepBytes(size, run.training ?? true), what, flags);
}

/**
 * Peak bytes of a VAE step on `rows` = batch × k samples: the weights (with gradients and moments when
 * training) and every layer's activations in the encoder and decoder networks.
 */
export function vaeStepBytes(
  c: { dataDim: number; latent: number[]; hidden: number[][] },
  rows: number,
  training = true,
): number {
  let bytes = 0;
  let input = c.dataDim;
  c.latent.forEach((d, i) => {
    bytes += mlpStepBytes([input, ...c.hidden[i], 2 * d], rows, training);
    bytes += mlpStepBytes([d, ...[...c.hidden[i]].reverse(), 2 * input], rows, training);
    input = d;
  });
  return bytes;
}
