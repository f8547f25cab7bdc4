/** The shared half of the tokenizers: ids, special tokens, truncation. */
import type { EncodeOptions, Tokenizer } from './types.js';
import type { Vocab } from './vocab.js';

export abstract class BaseTokenizer implements Tokenizer {
  abstract readonly kind: string;
  constructor(readonly vocab: Vocab) {}

  abstract tokenize(text: string): string[];
  abstract options(): Record<string, unknown>;
  /** Joins decoded token strings (tokenizer-specific spacing). */
  protected abstract join(tokens: string[]): string;

  encode(text: string, opts: EncodeOptions = {}): number[] {
    const special = opts.special ?? true;
    let ids = this.tokenize(text).map((t) => this.vocab.id(t));
    const room = opts.maxLen === undefined ? Infinity : opts.maxLen - (special ? 2 : 0);
    if (room < 0) throw new Error(`maxLen ${opts.maxLen} is too small`);
    if (ids.length > room) ids = ids.slice(0, room);
    const s = this.vocab.special;
    return special ? [s.cls, ...ids, s.sep] : ids;
  }

  encodePair(a: string, b: string, maxLen = Infinity): { ids: number[]; typeIds: number[] } {
    const ta = this.tokenize(a).map((t) => this.vocab.id(t));
    const tb = this.tokenize(b).map((t) => this.vocab.id(t));
    while (ta.length + tb.length > maxLen - 3 && ta.length + tb.length > 0) {
      (ta.length >= tb.length ? ta : tb).pop();
    }
    const s = this.vocab.special;
    const ids = [s.cls, ...ta, s.sep, ...tb, s.sep];
    const typeIds = ids.map((_, i) => (i < ta.length + 2 ? 0 : 1));
    return { ids, typeIds };
  }

  decode(ids: readonly number[]): string {
    const specials = this.vocab.specialIdSet();
    specials.delete(this.vocab.special.unk);
    return this.join(ids.filter((i) => !specials.has(i)).map((i) => this.vocab.token(i)));
  }
}
