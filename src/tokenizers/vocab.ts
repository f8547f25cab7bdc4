/**
 * A vocabulary: token ↔ id, read from and written to BERT's `vocab.txt` format (one token a line,
 * id = line number − 1). The five special tokens are found by name.
 */
import { InputError } from '../io/errors.js';

export const PAD = '[PAD]';
export const UNK = '[UNK]';
export const CLS = '[CLS]';
export const SEP = '[SEP]';
export const MASK = '[MASK]';
/** BERT's five special tokens, in the order `Vocab.withSpecials` gives them ids 0–4. */
export const SPECIAL_TOKENS = [PAD, UNK, CLS, SEP, MASK] as const;

/** The ids of the five special tokens in a vocabulary. */
export interface SpecialIds {
  pad: number;
  unk: number;
  cls: number;
  sep: number;
  mask: number;
}

/** The strings of the special tokens, when they are not BERT's [PAD]/[UNK]/[CLS]/[SEP]/[MASK]. */
export type SpecialNames = Partial<Record<keyof SpecialIds, string>>;

/**
 * A vocabulary: token ↔ id, in BERT's `vocab.txt` format (one token a line, id = line number − 1).
 * It must contain the five special tokens; unknown tokens map to [UNK]'s id.
 *
 * @example
 * const vocab = Vocab.withSpecials(['the', 'cat', '##s']);
 * vocab.id('cat'); // 6 (ids 0–4 are [PAD], [UNK], [CLS], [SEP], [MASK])
 * vocab.id('dog'); // 1, [UNK]
 * const same = Vocab.fromText(vocab.toText()); // round trip through vocab.txt
 */
export class Vocab {
  readonly tokens: readonly string[];
  private readonly index = new Map<string, number>();
  readonly special: SpecialIds;
  /** The special tokens' strings, e.g. `special.unk`'s is `specialNames.unk`. */
  readonly specialNames: Record<keyof SpecialIds, string>;

  /**
   * `source` names the file in error messages; `names` overrides special token strings (e.g. a Hugging
   * Face tokenizer_config.json's `unk_token`).
   */
  constructor(tokens: readonly string[], source = 'vocabulary', names: SpecialNames = {}) {
    this.tokens = tokens;
    tokens.forEach((t, i) => {
      if (this.index.has(t)) throw new InputError(`duplicate token '${t}'`, source, i + 1);
      this.index.set(t, i);
    });
    const find = (t: string) => {
      const id = this.index.get(t);
      if (id === undefined) throw new InputError(`the vocabulary has no ${t} token`, source);
      return id;
    };
    this.specialNames = { pad: PAD, unk: UNK, cls: CLS, sep: SEP, mask: MASK, ...names };
    const n = this.specialNames;
    this.special = {
      pad: find(n.pad),
      unk: find(n.unk),
      cls: find(n.cls),
      sep: find(n.sep),
      mask: find(n.mask),
    };
  }

  get size(): number {
    return this.tokens.length;
  }

  has(token: string): boolean {
    return this.index.has(token);
  }

  /** The token's id, or [UNK]'s. */
  id(token: string): number {
    return this.index.get(token) ?? this.special.unk;
  }

  token(id: number): string {
    return this.tokens[id] ?? this.specialNames.unk;
  }

  /** Ids of the special tokens (never masked, never drawn as random replacements). */
  specialIdSet(): Set<number> {
    return new Set(Object.values(this.special));
  }

  /** vocab.txt text. Tokens must not contain line breaks. */
  toText(): string {
    return this.tokens.join('\n') + '\n';
  }

  /** Parses vocab.txt: lines split on \n (a trailing \r is dropped); a final empty line is ignored. */
  static fromText(text: string, source = 'vocab.txt', names: SpecialNames = {}): Vocab {
    const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
    if (lines.length && lines[lines.length - 1] === '') lines.pop();
    lines.forEach((l, i) => {
      if (l === '') throw new InputError('empty line in vocabulary', source, i + 1);
    });
    return new Vocab(lines, source, names);
  }

  /** Special tokens first (ids 0–4: [PAD], [UNK], [CLS], [SEP], [MASK]), then `tokens` in order. */
  static withSpecials(tokens: Iterable<string>): Vocab {
    const specials = new Set<string>(SPECIAL_TOKENS);
    return new Vocab([...SPECIAL_TOKENS, ...[...tokens].filter((t) => !specials.has(t))]);
  }
}

/** Tokens sorted by descending count, ties by code-point order (so vocabularies are deterministic). */
export function byFrequency(counts: Map<string, number>, minCount = 1, maxSize = Infinity): string[] {
  return [...counts]
    .filter(([, c]) => c >= minCount)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, maxSize)
    .map(([t]) => t);
}
