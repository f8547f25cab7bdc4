/** `kexue import-hf` / `kexue export-hf`: Hugging Face BERT checkpoints in and out of kexue model directories. */
import path from 'node:path';
import { initBackend } from '../../backend/index.js';
import { DEFAULT_SENTENCE, SentenceEncoder } from '../../cosent/index.js';
import { loadSentenceModel, saveSentenceModel } from '../../io/sentence-files.js';
import { POOLINGS, type Pooling } from '../../encoder/index.js';
import { InputError } from '../../io/errors.js';
import { checkOutputFolder } from '../../io/atomic.js';
import { exportHuggingFaceBert, loadHuggingFaceBert } from '../../io/hf-files.js';
import { requireString, type Command } from '../command.js';
import { sentenceOverride } from './encode.js';

const importUsage = `
Usage: kexue import-hf HF_DIR --out DIR [--pooling P] [--max-len N]

Converts a Hugging Face BERT checkpoint (config.json, model.safetensors, vocab.txt, tokenizer_config.json;
a sentence-transformers model's pooling files too) into a kexue sentence model directory that
'kexue cosent train', 'kexue encode' and 'kexue search' read. HF_DIR may also be an http(s) base URL.
Supported: model_type bert or roberta (with a vocab.txt), absolute positions, hidden_act gelu, gelu_new
or relu. PyTorch pickles (pytorch_model.bin) are not read.

  --out DIR            the kexue model directory to write (replaced as a whole)
  --pooling P          ${POOLINGS.join(' | ')} (default: the sentence-transformers pooling, else cls)
  --max-len N          tokens per sentence (default: sentence-transformers' max_seq_length, else ${DEFAULT_SENTENCE.maxLen})
`;

export const importHfCommand: Command = {
  name: 'import-hf',
  summary: 'convert a Hugging Face BERT checkpoint (safetensors) into a kexue model directory',
  usage: importUsage,
  positionals: true,
  options: { out: { type: 'string' }, pooling: { type: 'string' }, 'max-len': { type: 'string' } },
  async run(v, positionals) {
    if (positionals.length !== 1) throw new InputError('import-hf needs exactly one HF_DIR (see --help)');
    const src = positionals[0];
    const out = requireString(v.out, 'out');
    if (path.resolve(out) === path.resolve(src)) throw new InputError('--out must differ from HF_DIR', out);
    const override = sentenceOverride(v);
    checkOutputFolder(path.dirname(path.resolve(out)), '--out');
    await initBackend();
    const loaded = await loadHuggingFaceBert(src);
    if (!loaded.tokenizer) {
      loaded.model.dispose();
      throw new InputError('no vocab.txt: kexue reads BERT WordPiece vocabularies only', src);
    }
    const c = loaded.model.config;
    const positions = c.maxPositions - (c.positionOffset ?? 0);
    const pooling: Pooling = override.pooling ?? loaded.sentence?.pooling ?? 'cls';
    const maxLen = Math.min(override.maxLen ?? loaded.sentence?.maxLen ?? DEFAULT_SENTENCE.maxLen, positions);
    const model = new SentenceEncoder(loaded.model, loaded.tokenizer, { pooling, maxLen });
    try {
      await saveSentenceModel(out, model, { importedFrom: src, modelType: loaded.modelType });
    } finally {
      model.dispose();
    }
    const parts = [c.pooler ? 'pooler' : '', (c.mlmHead ?? true) ? 'MLM head' : ''].filter(Boolean);
    process.stdout.write(
      `${loaded.modelType}: ${c.layers} layers × ${c.hidden}, vocabulary ${loaded.tokenizer.vocab.size}` +
        `${parts.length ? `, with ${parts.join(' and ')}` : ''}; pooling ${pooling}, max length ${maxLen} → ${out}\n`,
    );
    if (loaded.ignored.length) process.stdout.write(`not used: ${loaded.ignored.join(', ')}\n`);
    return 0;
  },
};

const exportUsage = `
Usage: kexue export-hf MODEL_DIR --out HF_DIR [--pooling P] [--max-len N] [--no-sentence-transformers]

Writes a kexue model (Post-LN, learned positions, WordPiece tokenizer) as a Hugging Face checkpoint that
transformers' AutoModel and sentence-transformers load: config.json, model.safetensors, vocab.txt,
tokenizer_config.json, and sentence-transformers' modules.json, 1_Pooling/config.json and
sentence_bert_config.json (pooling cls or mean).

  --out DIR                   the directory to write (replaced as a whole)
  --pooling P, --max-len N    override the model's sentence settings
  --no-sentence-transformers  write only the transformers files
`;

export const exportHfCommand: Command = {
  name: 'export-hf',
  summary: 'write a kexue model as a Hugging Face BERT checkpoint (safetensors, sentence-transformers)',
  usage: exportUsage,
  positionals: true,
  options: {
    out: { type: 'string' },
    pooling: { type: 'string' },
    'max-len': { type: 'string' },
    'no-sentence-transformers': { type: 'boolean' },
  },
  async run(v, positionals) {
    if (positionals.length !== 1) throw new InputError('export-hf needs exactly one MODEL_DIR (see --help)');
    const src = positionals[0];
    const out = requireString(v.out, 'out');
    if (path.resolve(out) === path.resolve(src))
      throw new InputError('--out must differ from MODEL_DIR', out);
    checkOutputFolder(path.dirname(path.resolve(out)), '--out');
    await initBackend();
    const model = loadSentenceModel(src, sentenceOverride(v));
    try {
      await exportHuggingFaceBert(model, out, { sentenceTransformers: !v['no-sentence-transformers'] });
    } catch (e) {
      // What has no Hugging Face equivalent is a property of the user's model: one line, exit 2.
      throw e instanceof InputError ? e : new InputError((e as Error).message, src);
    } finally {
      model.dispose();
    }
    process.stdout.write(
      `${src} → ${out} (Hugging Face ${model.encoder.config.mlmHead === false ? 'BertModel' : 'BertForMaskedLM'})\n`,
    );
    return 0;
  },
};
