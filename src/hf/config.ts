/**
 * Hugging Face BERT `config.json` ↔ kexue `EncoderConfig`. Only what kexue computes exactly the same way
 * is accepted: BERT (and RoBERTa's layout: positions numbered from padding_idx + 1, one token type),
 * absolute learned positions, Post-LN, GELU (exact or tanh) or ReLU, an encoder (not a decoder).
 */
import { makeConfig, type Activation, type EncoderConfig } from '../encoder/config.js';
import { InputError } from '../io/errors.js';

/** The fields of a Hugging Face BertConfig / RobertaConfig that kexue reads and writes. */
export interface HfBertConfig {
  model_type?: string;
  architectures?: string[];
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  hidden_act?: string;
  hidden_dropout_prob?: number;
  attention_probs_dropout_prob?: number;
  max_position_embeddings: number;
  type_vocab_size?: number;
  initializer_range?: number;
  layer_norm_eps?: number;
  pad_token_id?: number;
  position_embedding_type?: string;
  is_decoder?: boolean;
  add_cross_attention?: boolean;
  [key: string]: unknown;
}

/** Model types whose weights kexue maps (both share BERT's layout). */
export const HF_MODEL_TYPES = ['bert', 'roberta'] as const;
/** A supported Hugging Face `model_type`. */
export type HfModelType = (typeof HF_MODEL_TYPES)[number];

const ACTS: Record<string, Activation> = {
  gelu: 'gelu',
  gelu_new: 'gelu-tanh',
  gelu_pytorch_tanh: 'gelu-tanh',
  relu: 'relu',
};

/** A config.json problem: an InputError naming the file and the field. */
function bad(file: string, field: string, problem: string): InputError {
  return new InputError(problem, file, undefined, field);
}

/** The model type a config names (absent: 'bert', as in the oldest BERT configs). */
export function hfModelType(hf: Record<string, unknown>, file = 'config.json'): HfModelType {
  const t = hf.model_type ?? 'bert';
  if (!HF_MODEL_TYPES.includes(t as HfModelType))
    throw bad(
      file,
      'model_type',
      `'${String(t)}' is not supported (supported: ${HF_MODEL_TYPES.join(', ')})`,
    );
  return t as HfModelType;
}

/**
 * The kexue config for a Hugging Face config. `parts` says which optional modules the weights hold.
 * Throws an InputError naming `file` and the first field kexue cannot honour.
 *
 * @example
 * const hf = { model_type: 'bert', vocab_size: 30522, hidden_size: 768, num_hidden_layers: 12,
 *   num_attention_heads: 12, intermediate_size: 3072, max_position_embeddings: 512 };
 * const cfg = encoderConfigFromHf(hf, { pooler: true, mlmHead: false });
 * const enc = new Encoder(cfg); // BERT-base's shapes, random weights
 */
export function encoderConfigFromHf(
  raw: unknown,
  parts: { pooler: boolean; mlmHead: boolean },
  file = 'config.json',
): EncoderConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new InputError('must be a JSON object', file);
  const hf = raw as Record<string, unknown>;
  const positiveInt = (field: string): number => {
    const v = hf[field];
    if (!(Number.isInteger(v) && (v as number) > 0))
      throw bad(file, field, `must be a positive integer (got ${JSON.stringify(v)})`);
    return v as number;
  };
  const optionalNumber = (field: string, fallback: number, ok: (x: number) => boolean): number => {
    const v = hf[field];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'number' || !ok(v)) throw bad(file, field, `out of range (got ${JSON.stringify(v)})`);
    return v;
  };
  const type = hfModelType(hf, file);
  const pet = hf.position_embedding_type ?? 'absolute';
  if (pet !== 'absolute')
    throw bad(file, 'position_embedding_type', `'${String(pet)}' is not supported (only 'absolute')`);
  const act = hf.hidden_act ?? 'gelu';
  if (typeof act !== 'string' || !(act in ACTS))
    throw bad(
      file,
      'hidden_act',
      `'${String(act)}' is not supported (supported: ${Object.keys(ACTS).join(', ')})`,
    );
  if (type === 'roberta' && act !== 'gelu' && parts.mlmHead)
    throw bad(
      file,
      'hidden_act',
      `RoBERTa's MLM head always uses gelu; '${act}' in the encoder is not supported`,
    );
  for (const f of ['is_decoder', 'add_cross_attention'] as const)
    if (hf[f] === true) throw bad(file, f, 'kexue loads encoders only (must be false)');
  const pad = optionalNumber(
    'pad_token_id',
    type === 'roberta' ? 1 : 0,
    (x) => Number.isInteger(x) && x >= 0,
  );
  const prob = (x: number) => x >= 0 && x < 1;
  try {
    return makeConfig({
      vocabSize: positiveInt('vocab_size'),
      hidden: positiveInt('hidden_size'),
      layers: positiveInt('num_hidden_layers'),
      heads: positiveInt('num_attention_heads'),
      intermediate: positiveInt('intermediate_size'),
      maxPositions: positiveInt('max_position_embeddings'),
      position: 'learned',
      typeVocabSize: optionalNumber('type_vocab_size', 2, (x) => Number.isInteger(x) && x >= 0),
      norm: 'post',
      dropout: optionalNumber('hidden_dropout_prob', 0.1, prob),
      attentionDropout: optionalNumber('attention_probs_dropout_prob', 0.1, prob),
      init: 'truncated-normal',
      initStd: optionalNumber('initializer_range', 0.02, (x) => x > 0),
      layerNormEps: optionalNumber('layer_norm_eps', 1e-12, (x) => x > 0),
      attentionScale: 'inv-sqrt-d',
      padId: pad,
      activation: ACTS[act],
      // RoBERTa numbers positions from padding_idx + 1 (its create_position_ids_from_input_ids).
      ...(type === 'roberta' ? { positionOffset: pad + 1 } : {}),
      pooler: parts.pooler,
      mlmHead: parts.mlmHead,
    });
  } catch (e) {
    throw new InputError((e as Error).message, file);
  }
}

const ACT_NAMES: Record<Activation, string> = { gelu: 'gelu', 'gelu-tanh': 'gelu_new', relu: 'relu' };

/**
 * The Hugging Face config for a kexue encoder. A model with positions offset by padId + 1 is written as
 * RoBERTa, any other as BERT. Throws naming the kexue config field that has no Hugging Face equivalent.
 *
 * @example
 * const hf = hfConfigFromEncoder(encoder.config);
 * hf.hidden_size === encoder.config.hidden; // → true
 * JSON.stringify(hf, null, 2); // the text of config.json
 */
export function hfConfigFromEncoder(c: EncoderConfig): HfBertConfig & { model_type: HfModelType } {
  const no = (field: string, problem: string) => {
    throw new Error(`cannot export to Hugging Face BERT: config ${field} ${problem}`);
  };
  if (c.position !== 'learned') no('position', `is '${c.position}' (BERT has learned absolute positions)`);
  if (c.norm !== 'post') no('norm', `is '${c.norm}' (BERT is Post-LN)`);
  if (c.attentionScale !== 'inv-sqrt-d') no('attentionScale', `is '${c.attentionScale}' (BERT uses 1/√d)`);
  if (c.ropeScaling) no('ropeScaling', 'is set');
  const offset = c.positionOffset ?? 0;
  const type: HfModelType = offset > 0 ? 'roberta' : 'bert';
  if (offset > 0 && offset !== c.padId + 1)
    no('positionOffset', `is ${offset}; RoBERTa needs padId + 1 = ${c.padId + 1}`);
  const mlm = c.mlmHead ?? true;
  if (mlm && c.mlmTransform === false)
    no('mlmTransform', 'is false (BERT’s MLM head has the Dense + LayerNorm transform)');
  const act = c.activation ?? 'gelu';
  if (type === 'roberta' && mlm && act !== 'gelu')
    no('activation', `is '${act}' (RoBERTa's MLM head is gelu)`);
  const arch =
    type === 'bert' ? (mlm ? 'BertForMaskedLM' : 'BertModel') : mlm ? 'RobertaForMaskedLM' : 'RobertaModel';
  return {
    architectures: [arch],
    model_type: type,
    vocab_size: c.vocabSize,
    hidden_size: c.hidden,
    num_hidden_layers: c.layers,
    num_attention_heads: c.heads,
    intermediate_size: c.intermediate,
    hidden_act: ACT_NAMES[act],
    hidden_dropout_prob: c.dropout,
    attention_probs_dropout_prob: c.attentionDropout,
    max_position_embeddings: c.maxPositions,
    // Hugging Face always has a token-type table; a kexue model without one gets a single zero row.
    type_vocab_size: Math.max(1, c.typeVocabSize),
    initializer_range: c.initStd,
    layer_norm_eps: c.layerNormEps,
    pad_token_id: c.padId,
    position_embedding_type: 'absolute',
    torch_dtype: 'float32',
    // Kept by transformers as an extra attribute; lets a re-import restore kexue-only settings.
    kexue: { seed: c.seed, init: c.init, typeVocabSize: c.typeVocabSize },
  };
}
