/**
 * The attention-scale and RoPE flags shared by `kexue pretrain` and `kexue mlm-eval`
 * (src/attention: entropy-invariant log-n scale, NTK-aware RoPE, position interpolation).
 */
import { InputError } from '../../io/errors.js';
import type { EncoderConfig } from '../../encoder/config.js';
import { ROPE_SCALINGS, type RopeScaling } from '../../attention/rope.js';
import { SCALE_AT, type ScaleAt } from '../../attention/scale.js';
import { numberOption, stringOption, type Options } from '../command.js';

export const ATTENTION_OPTIONS: Options = {
  'attention-scale': { type: 'string' },
  'scale-base': { type: 'string' },
  'scale-at': { type: 'string' },
  'scale-clamp': { type: 'string' },
  'rope-base': { type: 'string' },
  'rope-scaling': { type: 'string' },
  'rope-factor': { type: 'string' },
};

export const ATTENTION_USAGE = `
  --attention-scale S  standard (1/√d, default) | log-n (× log n/log base: entropy-invariant, kexue.fm/archives/8823)
  --scale-base B     log-n base: 512 (default, the note's) | train-length | any number > 1
  --scale-at A       train (default: used in training and inference) | inference (max(1, log n/log base):
                     Qwen's logn, the standard scale up to the base; use with --scale-base train-length)
  --scale-clamp N    train mode: n below N counts as N (default 16, as bert4keras: short rows stay sharp)
  --rope-base N      RoPE base (default 10000)
  --rope-scaling K   at inference only: none (default) | ntk (fixed NTK-aware base, needs --rope-factor) |
                     dynamic-ntk (Qwen's, from the length) | interpolation (positions × train length/n,
                     or 1/--rope-factor)
  --rope-factor X    α for ntk, or the interpolation factor (≥ 1)`;

export interface AttentionFlags {
  scale?: { kind: 'log-n'; base: number | 'train-length'; at: ScaleAt; clamp: number };
  ropeBase?: number;
  ropeScaling?: RopeScaling;
}

/** Parses the flags; `trainLength` is what train-length-relative settings refer to. */
export function parseAttentionFlags(
  v: Record<string, unknown>,
  trainLength: number | undefined,
): AttentionFlags {
  const kind = stringOption(v['attention-scale']) ?? 'standard';
  if (kind !== 'standard' && kind !== 'log-n')
    throw new InputError(`--attention-scale must be standard or log-n, got '${kind}'`);
  const out: AttentionFlags = {};
  if (kind === 'standard') {
    const stray = ['scale-base', 'scale-at', 'scale-clamp'].find((k) => v[k] !== undefined);
    if (stray) throw new InputError(`--${stray} needs --attention-scale log-n`);
  } else {
    const b = stringOption(v['scale-base']) ?? '512';
    const base = b === 'train-length' ? b : numberOption(b, 'scale-base', 512, { above: 1 });
    const at = (stringOption(v['scale-at']) ?? 'train') as ScaleAt;
    if (!SCALE_AT.includes(at)) throw new InputError(`--scale-at must be train or inference, got '${at}'`);
    const clamp = numberOption(v['scale-clamp'], 'scale-clamp', 16, { min: 1 });
    if (base === 'train-length' && trainLength === undefined)
      throw new InputError('--scale-base train-length needs the training length (--train-length)');
    out.scale = { kind: 'log-n', base, at, clamp };
  }
  if (v['rope-base'] !== undefined)
    out.ropeBase = numberOption(v['rope-base'], 'rope-base', 10000, { above: 1 });
  const rs = stringOption(v['rope-scaling']) ?? 'none';
  if (rs !== 'none' && !(ROPE_SCALINGS as readonly string[]).includes(rs))
    throw new InputError(`--rope-scaling must be none, ${ROPE_SCALINGS.join(', ')}; got '${rs}'`);
  const factor =
    v['rope-factor'] === undefined ? undefined : numberOption(v['rope-factor'], 'rope-factor', 1, { min: 1 });
  if (rs === 'none' && factor !== undefined)
    throw new InputError('--rope-factor needs --rope-scaling ntk or interpolation');
  if (rs === 'ntk') {
    if (factor === undefined) throw new InputError('--rope-scaling ntk needs --rope-factor (α ≥ 1)');
    out.ropeScaling = { kind: 'ntk', factor };
  } else if (rs === 'dynamic-ntk' || rs === 'interpolation') {
    if (trainLength === undefined)
      throw new InputError(`--rope-scaling ${rs} needs the training length (--train-length)`);
    if (rs === 'dynamic-ntk' && factor !== undefined)
      throw new InputError('--rope-factor is not used by dynamic-ntk');
    out.ropeScaling =
      rs === 'dynamic-ntk'
        ? { kind: 'dynamic-ntk', trainLength }
        : { kind: 'interpolation', trainLength, ...(factor !== undefined && { factor }) };
  }
  return out;
}

/** The encoder config fields the flags set (for a trained model evaluated with other settings). */
export function flagsToConfig(f: AttentionFlags, trainLength: number | undefined): Partial<EncoderConfig> {
  return {
    ...(f.scale && {
      attentionScale: 'log-n',
      attentionScaleOptions: {
        base: f.scale.base,
        at: f.scale.at,
        clamp: f.scale.clamp,
        ...(trainLength !== undefined && { trainLength }),
      },
    }),
    ...(f.ropeBase !== undefined && { ropeBase: f.ropeBase }),
    ...(f.ropeScaling && { ropeScaling: f.ropeScaling }),
  };
}
