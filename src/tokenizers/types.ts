/** What every tokenizer offers; the encoder and the MLM batcher only need this. */
import type { Vocab } from './vocab.js';

/** Options of `Tokenizer.encode`. */
export interface EncodeOptions {
  /** Total length including [CLS]/[SEP]; longer texts are truncated. */
  maxLen?: number;
  /** Add [CLS] … [SEP] (default true). */
  special?: boolean;
}

/**
 * A text tokenizer over a BERT-style vocabulary (`CharTokenizer`, `WordPieceTokenizer`): text → tokens → ids
 * and back.
 */
export interface Tokenizer {
  /** 'char' or 'wordpiece': how `tokenizer.json` names it. */
  readonly kind: string;
  readonly vocab: Vocab;
  /** Text → token strings (no special tokens). */
  tokenize(text: string): string[];
  /** Text → ids, [CLS] … [SEP] by default; tokens missing from the vocabulary become [UNK]. */
  encode(text: string, opts?: EncodeOptions): number[];
  /** [CLS] a [SEP] b [SEP] with segment ids 0/1, truncating the longer side first. */
  encodePair(a: string, b: string, maxLen?: number): { ids: number[]; typeIds: number[] };
  /** Ids → text (special tokens other than [UNK] dropped). */
  decode(ids: readonly number[]): string;
  /** Options to rebuild it (the vocabulary is saved separately as vocab.txt). */
  options(): Record<string, unknown>;
}
