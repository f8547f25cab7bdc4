/**
 * `kexue mlm-eval`: masked-LM accuracy of a trained encoder on a text, by evaluation length — the
 * length-extrapolation measurement of kexue.fm/archives/8823. Optionally with other inference-time
 * attention settings (log-n at inference, NTK-aware RoPE, position interpolation) than the model's own.
 */
import path from 'node:path';
import { initBackend } from '../../backend/index.js';
import { loadEncoder } from '../../io/encoder-files.js';
import { InputError } from '../../io/errors.js';
import { mlmByLength, withInferenceSettings } from '../../attention/extrapolation.js';
import { readCorpus, type DocSplit } from '../../experiments/pretraining.js';
import { Progress } from '../progress.js';
import { numberOption, requireString, stringOption, type Command } from '../command.js';
import { ATTENTION_OPTIONS, ATTENTION_USAGE, flagsToConfig, parseAttentionFlags } from './attention-flags.js';

const usage = `
Usage: kexue mlm-eval --model DIR --corpus FILE [--lengths 64,128,256,512,1024] [options]

Masked-LM accuracy (BERT masking: 15% of tokens, 80% [MASK] / 10% random / 10% kept, seeded) of the
encoder in DIR (written by kexue pretrain: DIR/model) on FILE cut into non-overlapping windows of each
length ([CLS] … [SEP]); documents are joined with [SEP]. Batches are chunked so that attention at long
lengths fits in memory.

  --model DIR        model directory with config.json, weights and the tokenizer
  --corpus FILE      held-out text: one document a line, or see --docs; .jsonl: each record's "text"
  --docs D           lines (default) | paragraphs (blank-line separated, for wrapped prose)
  --lengths L,L,…    evaluation lengths incl. [CLS]/[SEP] (default 64,128,256,512,1024; each ≥ 3)
  --tokens N         tokens evaluated per length (default 16384)
  --seed N           masking seed (default 0)
  --json             print the results as JSON on stdout

Inference-time attention settings (default: the model's own; see kexue pretrain):${ATTENTION_USAGE}
  --train-length N   the training length these settings refer to (default: the one in the model's config)
`;

function parseLengths(v: unknown): number[] {
  const s = stringOption(v) ?? '64,128,256,512,1024';
  const parts = s.split(',').map((x) => x.trim());
  const lengths = parts.map(Number);
  if (parts.some((p) => p === '') || lengths.some((n) => !Number.isInteger(n) || n < 3))
    throw new InputError(`--lengths must be comma-separated integers ≥ 3, got '${s}'`);
  return lengths;
}

export const mlmEvalCommand: Command = {
  name: 'mlm-eval',
  summary: 'masked-LM accuracy of an encoder by evaluation length (length extrapolation)',
  usage,
  options: {
    model: { type: 'string' },
    corpus: { type: 'string' },
    docs: { type: 'string' },
    lengths: { type: 'string' },
    tokens: { type: 'string' },
    seed: { type: 'string' },
    'train-length': { type: 'string' },
    ...ATTENTION_OPTIONS,
    json: { type: 'boolean' },
  },
  async run(v) {
    const dir = path.resolve(requireString(v.model, 'model'));
    const corpus = path.resolve(requireString(v.corpus, 'corpus'));
    const docs = (stringOption(v.docs) ?? 'lines') as DocSplit;
    if (docs !== 'lines' && docs !== 'paragraphs')
      throw new InputError(`--docs must be lines or paragraphs, got '${docs}'`);
    const lengths = parseLengths(v.lengths);
    const tokens = numberOption(v.tokens, 'tokens', 16384, { integer: true, min: 1 });
    const seed = numberOption(v.seed, 'seed', 0, { integer: true, min: 0 });
    const explicitLength =
      v['train-length'] === undefined
        ? undefined
        : numberOption(v['train-length'], 'train-length', 0, { integer: true, min: 2 });
    await initBackend({ quiet: Boolean(v.json) });
    const loaded = loadEncoder(dir);
    let model = loaded.model.train(false);
    try {
      const tok = loaded.tokenizer;
      if (!tok) throw new InputError('no tokenizer (vocab.txt) in the model directory', dir);
      const stored = model.config.attentionScaleOptions?.trainLength;
      const trainLength = explicitLength ?? (typeof stored === 'number' ? stored : undefined);
      const overrides = flagsToConfig(parseAttentionFlags(v, trainLength), trainLength);
      if ((overrides.ropeScaling || overrides.ropeBase !== undefined) && model.config.position !== 'rope')
        throw new InputError(
          '--rope-base and --rope-scaling need a RoPE model (this one has learned positions)',
          dir,
        );
      const texts = readCorpus([corpus], docs);
      const sv = tok.vocab.special;
      const stream: number[] = [];
      for (const t of texts) {
        if (stream.length) stream.push(sv.sep);
        stream.push(...tok.encode(t, { special: false }));
      }
      const longest = Math.max(...lengths);
      if (stream.length < longest - 2)
        throw new InputError(
          `has ${stream.length} tokens, fewer than one sequence of ${longest} (--lengths)`,
          corpus,
        );
      if (Object.keys(overrides).length) {
        const changed = withInferenceSettings(model, overrides);
        model.dispose();
        model = changed;
      }
      let progress: Progress | undefined;
      const results = mlmByLength(model, {
        stream,
        cls: sv.cls,
        sep: sv.sep,
        maskId: sv.mask,
        vocabSize: tok.vocab.size,
        specialIds: tok.vocab.specialIdSet(),
        lengths,
        tokens,
        seed,
        onChunk: (done, total) => {
          progress ??= new Progress({ label: 'mlm-eval', total, silent: Boolean(v.json) });
          progress.tick(1, `chunk ${done}/${total}`);
        },
      });
      if (v.json) {
        process.stdout.write(JSON.stringify({ model: dir, corpus, settings: overrides, results }) + '\n');
        return 0;
      }
      const rows = results.map(
        (r) =>
          `${String(r.length).padStart(7)}  ${String(r.sequences).padStart(9)}  ${String(r.predictions).padStart(11)}` +
          `  ${(100 * r.accuracy).toFixed(2).padStart(8)}%  ${r.loss.toFixed(3).padStart(8)}`,
      );
      process.stdout.write(
        ['  length  sequences  predictions  accuracy      loss', ...rows].join('\n') + '\n',
      );
      return 0;
    } finally {
      model.dispose();
    }
  },
};
