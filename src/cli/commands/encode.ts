/** `kexue encode`: sentence vectors of a text file, one row per line, as a float32 .npy matrix. */
import { initBackend } from '../../backend/index.js';
import { loadSentenceModel } from '../../io/sentence-files.js';
import { POOLINGS, type Pooling } from '../../encoder/index.js';
import { InputError } from '../../io/errors.js';
import { writeNpy } from '../../io/npy.js';
import { checkOutputFile } from '../../io/atomic.js';
import { readLines } from '../../io/text.js';
import { Progress } from '../progress.js';
import { numberOption, requireString, stringOption, type Command } from '../command.js';
import { normalizeRowsInPlace } from '../../cosent/similarity.js';
import { checkEncoderStep } from '../memory.js';

const usage = `
Usage: kexue encode --model DIR --in TEXT_FILE --out VECTORS.npy [options]

Encodes every line of TEXT_FILE (UTF-8, one sentence a line) with a sentence model written by
'kexue cosent train' (or a plain encoder directory with --pooling). Row i of the output [lines, hidden]
float32 matrix is line i + 1; blank lines are encoded too, so rows and lines stay aligned.

  --model DIR          the sentence model
  --in FILE            the texts
  --out FILE           the .npy file to write
  --pooling P          ${POOLINGS.join(' | ')}: override the model's pooling
  --max-len N          override the model's maximum tokens per sentence
  --normalize          scale each vector to unit length
  --batch-size N       sentences per forward pass (default 64)
`;

export function sentenceOverride(v: Record<string, unknown>): { pooling?: Pooling; maxLen?: number } {
  const p = stringOption(v.pooling);
  if (p !== undefined && !POOLINGS.includes(p as Pooling))
    throw new InputError(`--pooling must be one of ${POOLINGS.join(', ')}, got '${p}'`);
  const maxLen =
    v['max-len'] === undefined
      ? undefined
      : numberOption(v['max-len'], 'max-len', 64, { integer: true, min: 3 });
  return { pooling: p as Pooling | undefined, maxLen };
}

export const encodeCommand: Command = {
  name: 'encode',
  summary: 'sentence vectors of a text file (one per line) as a .npy matrix',
  usage,
  options: {
    model: { type: 'string' },
    in: { type: 'string' },
    out: { type: 'string' },
    pooling: { type: 'string' },
    'max-len': { type: 'string' },
    normalize: { type: 'boolean' },
    'batch-size': { type: 'string' },
  },
  async run(v) {
    const modelDir = requireString(v.model, 'model');
    const inFile = requireString(v.in, 'in');
    const outFile = requireString(v.out, 'out');
    checkOutputFile(outFile, '--out', { extensions: ['.npy'], inputs: [inFile] });
    const batchSize = numberOption(v['batch-size'], 'batch-size', 64, { integer: true, min: 1 });
    const override = sentenceOverride(v);
    const texts = readLines(inFile);
    if (texts.length === 0) throw new InputError('no lines to encode', inFile);
    await initBackend();
    const model = loadSentenceModel(modelDir, override);
    let vecs: Float32Array;
    try {
      const run = { seq: model.config.maxLen, batch: Math.min(batchSize, texts.length), training: false };
      checkEncoderStep(model.encoder.config, run, 'an encoding batch', ['batch-size', 'max-len']);
      const progress = new Progress({ label: 'encode', total: texts.length });
      let done = 0;
      vecs = model.encodeFlat(texts, {
        batchSize,
        progress: (now) => {
          progress.tick(now - done);
          done = now;
        },
      });
    } finally {
      model.dispose();
    }
    const dim = model.dim;
    writeNpy(outFile, v.normalize ? normalizeRowsInPlace(vecs, dim) : vecs, [texts.length, dim]);
    process.stdout.write(`${texts.length} × ${dim} vectors written to ${outFile}\n`);
    return 0;
  },
};
