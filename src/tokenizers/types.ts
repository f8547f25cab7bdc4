/** What every tokenizer offers; the encoder and the MLM batcher only need this. */
import type { Vocab } from './vocab.js';

export interface EncodeOptions {
  /** Total length including [CLS]/[SEP]; longer texts are truncated. */
  maxLen?: number;
  /** Add [CLS] … [SEP] (default true). */
  special?: boolean;
}

export interface Tokenizer {
  readonly kind: string;
  readonly vocab: Vocab;
  /** Text → token strings (no special tokens). */
  tokenize(text: string): string[];
  encode(text: string, opts?: EncodeOptions): number[];
  /** [CLS] a [SEP] b [SEP] with segment ids 0/1, truncating the longer side first. */
  encodePair(a: string, b: string, maxLen?: number): { ids: number[]; typeIds: number[] };
  /** Ids → text (special tokens dropped). */
  decode(ids: readonly number[]): string;
  /** Options to rebuild it (the vocabulary is saved separately as vocab.txt). */
  options(): Record<string, unknown>;
}
