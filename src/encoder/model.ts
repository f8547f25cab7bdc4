/**
 * A BERT-style Transformer encoder on tfjs-core ops and explicit variables.
 *
 * Wiring. Embeddings: word (+ learned position) (+ segment) → LayerNorm → dropout. Post-LN blocks
 * (BERT): x ← LN(x + drop(Attn(x))); x ← LN(x + drop(FFN(x))). Pre-LN blocks: x ← x + drop(Attn(LN(x)));
 * x ← x + drop(FFN(LN(x))), and a final LayerNorm after the last block. The embedding LayerNorm is kept
 * in both, so the residual stream starts at unit scale either way. FFN: Dense(4H) → GELU → Dense(H).
 * MLM head (BERT's): Dense(H) → GELU → LayerNorm → logits = h·Eᵀ + b with E the word embedding table.
 * Optional, for Hugging Face BERT checkpoints: the pooler (tanh(Dense(h₀)) on the first token), another
 * activation (`activation`), and learned positions starting at a table offset (RoBERTa).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Module } from '../nn/module.js';
import { Embedding, LayerNorm, Linear, SeedStream, dropout, gelu } from '../nn/layers.js';
import type { InitSpec } from '../nn/init.js';
import { Rng } from '../util/rng.js';
import { SelfAttention, attentionScale, type AttentionScaleFn } from './attention.js';
import { DEFAULT_CONFIG, makeConfig, type Activation, type EncoderConfig } from './config.js';

/** A padded batch for `Encoder.apply`, as built by `encodeTexts`, `encodePairs` or `padBatch`. */
export interface EncoderInput {
  /** [B, N] token ids. */
  ids: tf.Tensor2D;
  /** [B, N], 1 for tokens, 0 for padding; default ids ≠ padId. */
  mask?: tf.Tensor2D;
  /** [B, N] segment ids (default all 0). */
  typeIds?: tf.Tensor2D;
}

/** What `Encoder.apply` returns; pass it to `pool` for sentence vectors. The caller disposes it. */
export interface EncoderOutput {
  /** [B, N, H] final representations (after the final LayerNorm for Pre-LN). */
  last: tf.Tensor3D;
  /** Embedding output then each block's output: L + 1 tensors [B, N, H]. */
  hiddenStates: tf.Tensor3D[];
  /** [B, N] float mask actually used. */
  mask: tf.Tensor2D;
}

/** GELU's tanh approximation, Hugging Face's `gelu_new`: x/2·(1 + tanh(√(2/π)·(x + 0.044715x³))). */
export function geluTanh(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
    return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(inner)));
  });
}

/** The activation function a config names (absent: exact GELU, what every older config meant). */
export function activationFn(name: Activation | undefined): (x: tf.Tensor) => tf.Tensor {
  switch (name ?? 'gelu') {
    case 'gelu':
      return gelu;
    case 'gelu-tanh':
      return geluTanh;
    case 'relu':
      return (x) => tf.relu(x);
  }
}

class FeedForward extends Module {
  readonly inner: Linear;
  readonly outer: Linear;
  constructor(
    hidden: number,
    intermediate: number,
    init: InitSpec,
    rng: Rng,
    private readonly act: (x: tf.Tensor) => tf.Tensor,
  ) {
    super();
    this.inner = this.child('inner', new Linear(hidden, intermediate, init, rng));
    this.outer = this.child('outer', new Linear(intermediate, hidden, init, rng));
  }
  apply(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.outer.apply(this.act(this.inner.apply(x))));
  }
}

export class EncoderBlock extends Module {
  readonly attention: SelfAttention;
  readonly attentionNorm: LayerNorm;
  readonly ffn: FeedForward;
  readonly ffnNorm: LayerNorm;

  constructor(
    private readonly cfg: EncoderConfig,
    rng: Rng,
    private readonly dropoutRng: SeedStream,
    scale: AttentionScaleFn,
  ) {
    super();
    const init: InitSpec = { name: cfg.init, std: cfg.initStd };
    this.attention = this.child(
      'attention',
      new SelfAttention({
        hidden: cfg.hidden,
        heads: cfg.heads,
        init,
        rng,
        dropoutRng,
        attentionDropout: cfg.attentionDropout,
        rope: cfg.position === 'rope' ? { base: cfg.ropeBase, scaling: cfg.ropeScaling } : undefined,
        scale,
      }),
    );
    this.attentionNorm = this.child('attentionNorm', new LayerNorm(cfg.hidden, cfg.layerNormEps));
    this.ffn = this.child(
      'ffn',
      new FeedForward(cfg.hidden, cfg.intermediate, init, rng, activationFn(cfg.activation)),
    );
    this.ffnNorm = this.child('ffnNorm', new LayerNorm(cfg.hidden, cfg.layerNormEps));
  }

  apply(x: tf.Tensor3D, mask: tf.Tensor2D): tf.Tensor3D {
    return tf.tidy(() => {
      const drop = (t: tf.Tensor) => dropout(t, this.cfg.dropout, this.training, this.dropoutRng);
      if (this.cfg.norm === 'post') {
        const a = this.attentionNorm.apply(tf.add(x, drop(this.attention.apply(x, mask))));
        return this.ffnNorm.apply(tf.add(a, drop(this.ffn.apply(a)))) as tf.Tensor3D;
      }
      const a = tf.add(x, drop(this.attention.apply(this.attentionNorm.apply(x) as tf.Tensor3D, mask)));
      return tf.add(a, drop(this.ffn.apply(this.ffnNorm.apply(a)))) as tf.Tensor3D;
    });
  }
}

class Embeddings extends Module {
  readonly word: Embedding;
  readonly position?: Embedding;
  readonly type?: Embedding;
  readonly norm: LayerNorm;
  private readonly offset: number;

  constructor(cfg: EncoderConfig, rng: Rng) {
    super();
    this.offset = cfg.positionOffset ?? 0;
    // Embedding tables: truncated normal σ = initStd whatever the kernel initializer (BERT's choice).
    const init: InitSpec = { name: 'truncated-normal', std: cfg.initStd };
    this.word = this.child('word', new Embedding(cfg.vocabSize, cfg.hidden, init, rng));
    if (cfg.position === 'learned') {
      this.position = this.child('position', new Embedding(cfg.maxPositions, cfg.hidden, init, rng));
    }
    if (cfg.typeVocabSize > 0)
      this.type = this.child('type', new Embedding(cfg.typeVocabSize, cfg.hidden, init, rng));
    this.norm = this.child('norm', new LayerNorm(cfg.hidden, cfg.layerNormEps));
  }

  apply(ids: tf.Tensor2D, typeIds?: tf.Tensor2D): tf.Tensor3D {
    return tf.tidy(() => {
      const n = ids.shape[1];
      let x = this.word.apply(ids);
      if (this.position) {
        if (n + this.offset > this.position.count) {
          throw new Error(
            `sequence length ${n} exceeds maxPositions ${this.position.count}` +
              (this.offset ? ` − positionOffset ${this.offset}` : '') +
              ' (use RoPE to extrapolate)',
          );
        }
        // RoBERTa numbers tokens from padding_idx + 1; padding positions (masked out as keys) differ.
        x = tf.add(x, tf.slice(this.position.table, [this.offset, 0], [n, -1]));
      }
      if (this.type) x = tf.add(x, this.type.apply(typeIds ?? tf.zerosLike(ids)));
      return this.norm.apply(x) as tf.Tensor3D;
    });
  }
}

export class MlmHead extends Module {
  /** BERT's transform before the tied output; absent when the config says `mlmTransform: false`. */
  readonly dense?: Linear;
  readonly norm?: LayerNorm;
  readonly bias: tf.Variable;
  private readonly act: (x: tf.Tensor) => tf.Tensor;

  constructor(
    cfg: EncoderConfig,
    rng: Rng,
    private readonly wordTable: tf.Variable,
  ) {
    super();
    if (cfg.mlmTransform ?? true) {
      this.dense = this.child(
        'dense',
        new Linear(cfg.hidden, cfg.hidden, { name: cfg.init, std: cfg.initStd }, rng),
      );
      this.norm = this.child('norm', new LayerNorm(cfg.hidden, cfg.layerNormEps));
    }
    this.bias = this.param('bias', tf.zeros([cfg.vocabSize]));
    this.act = activationFn(cfg.activation);
  }

  /** h [..., H] → logits [..., V], with the output projection tied to the word embeddings. */
  apply(h: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const lead = h.shape.slice(0, -1);
      const x = this.dense && this.norm ? this.norm.apply(this.act(this.dense.apply(h))) : h;
      const t = tf.reshape(x, [-1, h.shape[h.rank - 1]]) as tf.Tensor2D;
      const logits = tf.add(tf.matMul(t, this.wordTable as tf.Tensor2D, false, true), this.bias);
      return tf.reshape(logits, [...lead, this.wordTable.shape[0]]);
    });
  }
}

/** BERT's pooler: tanh(h₀·W + b) on the first ([CLS]) position of the last layer. */
export class Pooler extends Module {
  readonly dense: Linear;
  constructor(cfg: EncoderConfig, rng: Rng) {
    super();
    this.dense = this.child(
      'dense',
      new Linear(cfg.hidden, cfg.hidden, { name: cfg.init, std: cfg.initStd }, rng),
    );
  }
  /** last [B, N, H] → [B, H]. */
  apply(last: tf.Tensor3D): tf.Tensor2D {
    return tf.tidy(
      () => tf.tanh(this.dense.apply(tf.squeeze(tf.slice(last, [0, 0, 0], [-1, 1, -1]), [1]))) as tf.Tensor2D,
    );
  }
}

/**
 * A BERT-style Transformer encoder (see the file header for the wiring): token ids in, per-token
 * representations out, with an optional MLM head (tied to the word embeddings) and pooler. Its
 * variables are created from `config.seed`, so two encoders with the same config start identical. A new
 * encoder is in inference mode (no dropout); `train()` switches dropout on.
 *
 * @example
 * const enc = new Encoder({ vocabSize: tokenizer.vocab.size, hidden: 128, layers: 2, heads: 2 });
 * const input = encodeTexts(tokenizer, ['first text', 'second text']);
 * const vecs = tf.tidy(() => pool(enc.apply(input), 'mean')); // [2, 128]
 * disposeInput(input);
 */
export class Encoder extends Module {
  readonly config: EncoderConfig;
  readonly embeddings: Embeddings;
  readonly blocks: EncoderBlock[] = [];
  readonly finalNorm?: LayerNorm;
  /** Absent when the config says `mlmHead: false` (e.g. a Hugging Face BertModel checkpoint). */
  readonly mlm?: MlmHead;
  /** Present when the config says `pooler: true`. */
  readonly pooler?: Pooler;
  /**
   * Seeds dropout masks; separate from the init stream so that dropout does not shift initial weights.
   * Trainers may `reseed` it each step so that a resumed run draws the same masks.
   */
  readonly dropoutRng: SeedStream;

  /**
   * `opts.scale` overrides the config's named logit scale with a function; the config then records
   * 'custom' (unless it already names another scale), so a saved model cannot silently be reloaded
   * with the default scale: loading it needs the same `scale` (or a registered name in config.json).
   */
  constructor(
    config: Partial<EncoderConfig> & { vocabSize: number },
    opts: { scale?: AttentionScaleFn } = {},
  ) {
    super();
    const cfg = makeConfig(config);
    if (opts.scale && cfg.attentionScale === DEFAULT_CONFIG.attentionScale) cfg.attentionScale = 'custom';
    this.config = cfg;
    const rng = new Rng(cfg.seed);
    this.dropoutRng = new SeedStream(cfg.seed ^ 0x5bd1e995);
    const scale = opts.scale ?? attentionScale(cfg.attentionScale, cfg.attentionScaleOptions);
    this.embeddings = this.child('embeddings', new Embeddings(cfg, rng));
    for (let i = 0; i < cfg.layers; i++) {
      this.blocks.push(this.child(`layers.${i}`, new EncoderBlock(cfg, rng, this.dropoutRng, scale)));
    }
    if (cfg.norm === 'pre')
      this.finalNorm = this.child('finalNorm', new LayerNorm(cfg.hidden, cfg.layerNormEps));
    // Created after the blocks so that models without the new options keep their initial weights.
    if (cfg.mlmHead ?? true) this.mlm = this.child('mlm', new MlmHead(cfg, rng, this.embeddings.word.table));
    if (cfg.pooler) this.pooler = this.child('pooler', new Pooler(cfg, rng));
  }

  /** Runs the encoder. Call inside `tf.tidy` (or dispose the outputs). */
  apply(input: EncoderInput): EncoderOutput {
    const mask = input.mask
      ? tf.cast(input.mask, 'float32')
      : tf.cast(tf.notEqual(input.ids, this.config.padId), 'float32');
    let x = this.embeddings.apply(input.ids, input.typeIds);
    x = dropout(x, this.config.dropout, this.training, this.dropoutRng) as tf.Tensor3D;
    const hiddenStates = [x];
    for (const block of this.blocks) {
      x = block.apply(x, mask as tf.Tensor2D);
      hiddenStates.push(x);
    }
    const last = this.finalNorm ? (this.finalNorm.apply(x) as tf.Tensor3D) : x;
    return { last, hiddenStates, mask: mask as tf.Tensor2D };
  }

  /** MLM logits for hidden vectors [..., H] (usually only the masked positions). */
  mlmLogits(h: tf.Tensor): tf.Tensor {
    if (!this.mlm) throw new Error('this encoder has no MLM head (its config says mlmHead: false)');
    return this.mlm.apply(h);
  }

  /** BERT's pooled output [B, H] (tanh dense on the first token); needs `pooler: true` in the config. */
  pooled(out: EncoderOutput): tf.Tensor2D {
    if (!this.pooler) throw new Error('this encoder has no pooler (its config says pooler: false)');
    return this.pooler.apply(out.last);
  }
}

/** How `pool` turns per-token outputs into one vector per sentence. */
export type Pooling = 'cls' | 'mean' | 'first-last-avg';
/** Every `Pooling`, for validation and command-line choices. */
export const POOLINGS: readonly Pooling[] = ['cls', 'mean', 'first-last-avg'];

/** Mean over non-padding positions: Σ m·h / Σ m. */
export function maskedMean(h: tf.Tensor3D, mask: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const m = tf.expandDims(mask, -1);
    return tf.div(tf.sum(tf.mul(h, m), 1), tf.maximum(tf.sum(m, 1), 1e-9)) as tf.Tensor2D;
  });
}

/**
 * Sentence vectors [B, H]. 'cls': the first position of the last layer. 'mean': mean of the last layer
 * over non-padding tokens. 'first-last-avg': mean over non-padding tokens of (first block's output +
 * last layer)/2 — the first *Transformer block*, as in Su's BERT-whitening code (not the embeddings).
 *
 * @example
 * const input = encodeTexts(tokenizer, texts);
 * const vecs = tf.tidy(() => pool(encoder.apply(input), 'first-last-avg')); // [texts.length, hidden]
 * disposeInput(input);
 */
export function pool(out: EncoderOutput, how: Pooling): tf.Tensor2D {
  return tf.tidy(() => {
    switch (how) {
      case 'cls':
        return tf.squeeze(tf.slice(out.last, [0, 0, 0], [-1, 1, -1]), [1]) as tf.Tensor2D;
      case 'mean':
        return maskedMean(out.last, out.mask);
      case 'first-last-avg': {
        const first = out.hiddenStates[Math.min(1, out.hiddenStates.length - 1)];
        return maskedMean(tf.div(tf.add(first, out.last), 2) as tf.Tensor3D, out.mask);
      }
    }
  });
}
