/**
 * Hugging Face BertTokenizer settings ↔ kexue's WordPieceTokenizer. Read from `tokenizer_config.json`
 * (do_lower_case, strip_accents, tokenize_chinese_chars, the special tokens), falling back to the fast
 * tokenizer's `tokenizer.json` normalizer and to `special_tokens_map.json`, then to BertTokenizer's
 * defaults (lower-casing on, as `BertTokenizer.from_pretrained` assumes).
 */
import { InputError } from '../io/errors.js';
import { Vocab, PAD, UNK, CLS, SEP, MASK, type SpecialIds, type SpecialNames } from '../tokenizers/vocab.js';
import { WordPieceTokenizer, DEFAULT_WORDPIECE, type WordPieceOptions } from '../tokenizers/wordpiece.js';

const DEFAULT_NAMES: Record<keyof SpecialIds, string> = {
  pad: PAD,
  unk: UNK,
  cls: CLS,
  sep: SEP,
  mask: MASK,
};
const TOKEN_FIELDS: Record<keyof SpecialIds, string> = {
  pad: 'pad_token',
  unk: 'unk_token',
  cls: 'cls_token',
  sep: 'sep_token',
  mask: 'mask_token',
};

/** A special token as tokenizer_config.json writes it: a string or an AddedToken object { content }. */
function tokenString(v: unknown, file: string, field: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string' && v) return v;
  const content = (v as { content?: unknown }).content;
  if (typeof content === 'string' && content) return content;
  throw new InputError('must be a token string or { "content": string }', file, undefined, field);
}

function optionalBool(o: Record<string, unknown>, field: string, file: string): boolean | undefined {
  const v = o[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new InputError('must be true, false or null', file, undefined, field);
  return v;
}

/** The JSON files that describe a Hugging Face tokenizer (any may be absent). */
export interface HfTokenizerFiles {
  tokenizerConfig?: Record<string, unknown>;
  specialTokensMap?: Record<string, unknown>;
  /** The fast tokenizer's tokenizer.json; only its `normalizer` is read. */
  fastTokenizer?: Record<string, unknown>;
}

/**
 * Builds the tokenizer from vocab.txt's text and the JSON files; errors name the file and field. Casing,
 * accent stripping and CJK splitting follow tokenizer_config.json, else tokenizer.json's normalizer.
 *
 * @example
 * const tok = hfTokenizer('[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n', {
 *   tokenizerConfig: { do_lower_case: true },
 * });
 * tok.encode('Hello world'); // → [2, 5, 6, 3]
 */
export function hfTokenizer(
  vocabText: string,
  files: HfTokenizerFiles,
  vocabFile = 'vocab.txt',
): WordPieceTokenizer {
  const tc = files.tokenizerConfig ?? {};
  const norm = (files.fastTokenizer?.normalizer ?? {}) as Record<string, unknown>;
  const tcFile = 'tokenizer_config.json';
  const fastFile = 'tokenizer.json';
  const lowercase =
    optionalBool(tc, 'do_lower_case', tcFile) ??
    (norm.type === 'BertNormalizer' ? optionalBool(norm, 'lowercase', fastFile) : undefined) ??
    true;
  const stripAccents =
    optionalBool(tc, 'strip_accents', tcFile) ??
    (norm.type === 'BertNormalizer' ? optionalBool(norm, 'strip_accents', fastFile) : undefined);
  const splitCjk =
    optionalBool(tc, 'tokenize_chinese_chars', tcFile) ??
    (norm.type === 'BertNormalizer' ? optionalBool(norm, 'handle_chinese_chars', fastFile) : undefined);
  const specialTokens: SpecialNames = {};
  for (const [key, field] of Object.entries(TOKEN_FIELDS) as [keyof SpecialIds, string][]) {
    const s =
      tokenString(tc[field], tcFile, field) ??
      tokenString(files.specialTokensMap?.[field], 'special_tokens_map.json', field);
    if (s !== undefined && s !== DEFAULT_NAMES[key]) specialTokens[key] = s;
  }
  const opts: WordPieceOptions = { ...DEFAULT_WORDPIECE, lowercase };
  // Only settings that differ from the defaults are kept, so an export → import round trip is exact.
  if (stripAccents !== undefined) opts.stripAccents = stripAccents;
  if (splitCjk === false) opts.splitCjk = false;
  if (Object.keys(specialTokens).length) opts.specialTokens = specialTokens;
  return new WordPieceTokenizer(Vocab.fromText(vocabText, vocabFile, specialTokens), opts);
}

/**
 * tokenizer_config.json for a WordPiece tokenizer, as transformers' BertTokenizer reads it;
 * `modelMaxLength` is its model_max_length.
 *
 * @example
 * const tok = hfTokenizer('[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n', {});
 * hfTokenizerConfig(tok, 512);
 * // → { tokenizer_class: 'BertTokenizer', do_lower_case: true, …, model_max_length: 512 }
 */
export function hfTokenizerConfig(tok: WordPieceTokenizer, modelMaxLength: number): Record<string, unknown> {
  const n = tok.vocab.specialNames;
  return {
    tokenizer_class: 'BertTokenizer',
    do_lower_case: tok.opts.lowercase,
    strip_accents: tok.opts.stripAccents ?? null,
    tokenize_chinese_chars: tok.opts.splitCjk ?? true,
    do_basic_tokenize: true,
    pad_token: n.pad,
    unk_token: n.unk,
    cls_token: n.cls,
    sep_token: n.sep,
    mask_token: n.mask,
    model_max_length: modelMaxLength,
  };
}
