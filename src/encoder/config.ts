/** Encoder hyper-parameters; everything that determines the weights' shapes and the forward pass. */
import { INIT_NAMES, type InitName } from '../nn/init.js';
import { validateRopeScaling, type RopeScaling } from '../attention/rope.js';
import { attentionScale } from './attention.js';

/** Position encoding: a learned absolute table (BERT) or rotary position embeddings (RoPE). */
export type PositionKind = 'learned' | 'rope';
/** Where LayerNorm sits in a block: after the residual sum (BERT, 'post') or before each sublayer ('pre'). */
export type NormPlacement = 'post' | 'pre';
/** FFN (and MLM head) activation: exact-erf GELU (BERT), its tanh approximation (`gelu_new`), or ReLU. */
export type Activation = 'gelu' | 'gelu-tanh' | 'relu';
/** Every `Activation`, for validation and messages. */
export const ACTIVATIONS: readonly Activation[] = ['gelu', 'gelu-tanh', 'relu'];

/** Encoder hyper-parameters: everything that determines the weights' shapes and the forward pass. */
export interface EncoderConfig {
  vocabSize: number;
  hidden: number;
  layers: number;
  heads: number;
  /** FFN inner width (BERT: 4·hidden). */
  intermediate: number;
  /** Learned absolute positions: table size. RoPE has no table and accepts any length. */
  maxPositions: number;
  position: PositionKind;
  /** Segment ("token type") embeddings; 0 disables them. */
  typeVocabSize: number;
  /** Post-LN (original Transformer/BERT) or Pre-LN. */
  norm: NormPlacement;
  dropout: number;
  attentionDropout: number;
  /** Initializer for dense kernels; embeddings always use truncated normal with `initStd`. */
  init: InitName;
  initStd: number;
  layerNormEps: number;
  ropeBase: number;
  /** Name of a registered attention logit scale (see attention.ts); 'inv-sqrt-d' is 1/√d. */
  attentionScale: string;
  /** Settings of a parameterised scale, e.g. 'log-n' (see src/attention/scale.ts); absent otherwise. */
  attentionScaleOptions?: Record<string, unknown>;
  /** RoPE extension applied at inference only (NTK-aware base, position interpolation; src/attention/rope.ts). */
  ropeScaling?: RopeScaling;
  /** Id whose positions are padding when no mask is given. */
  padId: number;
  seed: number;
  /** FFN and MLM-head activation; absent means 'gelu' (all models saved before this field existed). */
  activation?: Activation;
  /**
   * Learned positions: the table row of position 0 (RoBERTa: padding_idx + 1 = 2). Absent means 0.
   * The table keeps `maxPositions` rows, so sequences may have at most maxPositions − offset tokens.
   */
  positionOffset?: number;
  /** BERT's pooler (dense + tanh on the first token), as in Hugging Face checkpoints; absent means none. */
  pooler?: boolean;
  /** Whether the model has the MLM head; absent means true (kexue pretrains with it). */
  mlmHead?: boolean;
  /**
   * Whether the MLM head has BERT's transform (Dense + activation + LayerNorm) before the tied output;
   * absent means true. false: logits = h·Eᵀ + b straight from the encoder (Su's note on σ = 0.02
   * explains the transform as what lets the output scale grow without the encoder's last LayerNorm).
   */
  mlmTransform?: boolean;
}

/**
 * The defaults `makeConfig` fills in: a small BERT (hidden 256, 4 layers, 4 heads, Post-LN, learned
 * positions up to 512, dropout 0.1). Its `intermediate` is not used: makeConfig takes 4·hidden unless
 * given.
 */
export const DEFAULT_CONFIG: Omit<EncoderConfig, 'vocabSize'> = {
  hidden: 256,
  layers: 4,
  heads: 4,
  intermediate: 1024,
  maxPositions: 512,
  position: 'learned',
  typeVocabSize: 2,
  norm: 'post',
  dropout: 0.1,
  attentionDropout: 0.1,
  init: 'truncated-normal',
  initStd: 0.02,
  layerNormEps: 1e-12,
  ropeBase: 10000,
  attentionScale: 'inv-sqrt-d',
  padId: 0,
  seed: 1,
};

/**
 * Fills defaults from `DEFAULT_CONFIG` (intermediate defaults to 4·hidden) and checks consistency; throws
 * an Error listing every problem (e.g. hidden not divisible by heads).
 *
 * @example
 * const cfg = makeConfig({ vocabSize: 8000, hidden: 128, layers: 2, heads: 2, position: 'rope' });
 * cfg.intermediate; // → 512
 * const enc = new Encoder(cfg);
 */
export function makeConfig(c: Partial<EncoderConfig> & { vocabSize: number }): EncoderConfig {
  const hidden = c.hidden ?? DEFAULT_CONFIG.hidden;
  const cfg: EncoderConfig = { ...DEFAULT_CONFIG, intermediate: 4 * hidden, ...c };
  validateConfig(cfg);
  return cfg;
}

export function validateConfig(c: EncoderConfig): void {
  const posInt = (v: number) => Number.isInteger(v) && v > 0;
  const problems: string[] = [];
  for (const k of ['vocabSize', 'hidden', 'layers', 'heads', 'intermediate', 'maxPositions'] as const) {
    if (!posInt(c[k])) problems.push(`${k} must be a positive integer (got ${c[k]})`);
  }
  if (posInt(c.hidden) && posInt(c.heads) && c.hidden % c.heads !== 0) {
    problems.push(`hidden (${c.hidden}) must be divisible by heads (${c.heads})`);
  }
  if (c.position === 'rope' && (c.hidden / c.heads) % 2 !== 0) problems.push('RoPE needs an even head size');
  if (!['learned', 'rope'].includes(c.position))
    problems.push(`position must be learned|rope (got ${c.position})`);
  if (!['post', 'pre'].includes(c.norm)) problems.push(`norm must be post|pre (got ${c.norm})`);
  if (c.activation !== undefined && !ACTIVATIONS.includes(c.activation))
    problems.push(`activation must be one of ${ACTIVATIONS.join(', ')} (got ${String(c.activation)})`);
  const offset = c.positionOffset ?? 0;
  if (!(Number.isInteger(offset) && offset >= 0 && offset < c.maxPositions))
    problems.push(`positionOffset must be an integer in [0, maxPositions) (got ${String(c.positionOffset)})`);
  if (offset > 0 && c.position !== 'learned') problems.push('positionOffset needs position learned');
  for (const k of ['pooler', 'mlmHead', 'mlmTransform'] as const) {
    if (c[k] !== undefined && typeof c[k] !== 'boolean') problems.push(`${k} must be true or false`);
  }
  if (!INIT_NAMES.includes(c.init)) problems.push(`init must be one of ${INIT_NAMES.join(', ')}`);
  for (const k of ['dropout', 'attentionDropout'] as const) {
    if (!(c[k] >= 0 && c[k] < 1)) problems.push(`${k} must be in [0, 1)`);
  }
  if (!(c.initStd > 0)) problems.push('initStd must be > 0');
  if (!(Number.isInteger(c.typeVocabSize) && c.typeVocabSize >= 0))
    problems.push('typeVocabSize must be ≥ 0');
  if (!(Number.isInteger(c.padId) && c.padId >= 0 && c.padId < c.vocabSize))
    problems.push('padId out of range');
  const check = (f: () => void) => {
    try {
      f();
    } catch (e) {
      problems.push((e as Error).message);
    }
  };
  if (c.ropeScaling !== undefined) {
    check(() => validateRopeScaling(c.ropeScaling!));
    if (c.position !== 'rope') problems.push('ropeScaling needs position rope');
  }
  // Parameterised scales check their options when built: do it here so a bad config.json is an input error.
  if (c.attentionScaleOptions !== undefined)
    check(() => attentionScale(c.attentionScale, c.attentionScaleOptions));
  if (problems.length) throw new Error(`invalid encoder config: ${problems.join('; ')}`);
}
