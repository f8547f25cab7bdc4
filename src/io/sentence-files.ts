/**
 * Sentence models on disk (Node): an encoder directory (io/encoder-files.ts) plus `sentence.json`
 * { pooling, maxLen, ... }; a plain encoder directory (no sentence.json) loads too, with the pooling and
 * length given.
 */
import fs from 'node:fs';
import path from 'node:path';
import { POOLINGS, type Pooling } from '../encoder/index.js';
import { DEFAULT_SENTENCE, SentenceEncoder, type SentenceConfig } from '../cosent/sentence-model.js';
import { InputError } from './errors.js';
import { writeFileAtomic, writeJsonAtomic } from './atomic.js';
import { describeEncoder, renderModelCard, type ModelCard } from '../util/model-card.js';
import {
  findCheckpoint,
  loadCheckpoint,
  readCheckpointTensors,
  saveCheckpoint,
  saveEncoder,
  loadEncoder,
} from './encoder-files.js';
import { readJsonFile } from './text.js';
import type { SentenceTrainingState } from '../cosent/trainer.js';

const META = 'sentence.json';

/**
 * Saves the encoder, tokenizer and sentence config (plus any extra JSON, e.g. training metadata) to
 * `dir`; the config and `extra` go to sentence.json. A model card (README.md) says what the model is,
 * with the training settings and dev score when `extra.training` holds `trainSentenceEncoder`'s
 * metadata; `card` adds to or overrides its parts, and `card: false` writes none.
 *
 * @example
 * const model = new SentenceEncoder(encoder, tokenizer, { pooling: 'mean', maxLen: 64 });
 * await saveSentenceModel('sentence-model/', model, { note: 'trained on ATEC' }, { baseModel: 'bert-zh/' });
 */
export async function saveSentenceModel(
  dir: string,
  model: SentenceEncoder,
  extra: Record<string, unknown> = {},
  card: Partial<ModelCard> | false = {},
): Promise<void> {
  await saveEncoder(dir, model.encoder, model.tokenizer);
  writeJsonAtomic(path.join(dir, META), { ...extra, ...model.config });
  if (card !== false)
    writeFileAtomic(path.join(dir, 'README.md'), renderModelCard(sentenceCard(dir, model, extra, card)));
}

/**
 * The default card of a saved sentence model, from its config and any training metadata in `extra`;
 * `card`'s parts replace the defaults (the CLI adds its data files and shell usage this way).
 */
export function sentenceCard(
  dir: string,
  model: SentenceEncoder,
  extra: Record<string, unknown>,
  card: Partial<ModelCard>,
): ModelCard {
  const t = (extra.training ?? {}) as Record<string, unknown>;
  const objective = (t.objective as { name?: string } | undefined)?.name;
  const settings = Object.fromEntries(
    ['objective', 'trainPairs', 'batchSize', 'epochs', 'lr', 'seed'].map((k) => [k, t[k]]),
  );
  const best = typeof t.bestEpoch === 'number' ? ` (best epoch ${t.bestEpoch} of ${String(t.epochs)})` : '';
  return {
    title: objective ? `Sentence encoder (${objective})` : 'Sentence encoder',
    summary: `Sentence embeddings: the ${model.config.pooling} pooling of the encoder's last layer; compare two sentences by the cosine of their vectors.`,
    baseModel: typeof extra.importedFrom === 'string' ? extra.importedFrom : undefined,
    architecture: describeEncoder(model.encoder.config),
    settings: { ...settings, pooling: model.config.pooling, maxLen: model.config.maxLen },
    metrics: {
      [`dev Spearman ×100${best}`]: t.devSpearman as number | undefined,
      [`evaluator score${best}`]: t.evaluation as number | undefined,
    },
    usage: [
      {
        lang: 'ts',
        lines: [
          "import { loadSentenceModel } from 'kexue/node';",
          `const model = loadSentenceModel('${dir}');`,
          "const vectors = await model.encodeAsync(['first sentence', 'second sentence'], { normalize: true });",
        ],
      },
    ],
    ...card,
  };
}

function readMeta(dir: string): Partial<SentenceConfig> {
  const file = path.join(dir, META);
  if (!fs.existsSync(file)) return {};
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new InputError(`not valid JSON (${(e as Error).message})`, file);
  }
  if (!POOLINGS.includes(raw.pooling as Pooling)) {
    throw new InputError(`pooling must be one of ${POOLINGS.join(', ')}`, file, undefined, 'pooling');
  }
  if (!(Number.isInteger(raw.maxLen) && (raw.maxLen as number) >= 3)) {
    throw new InputError('maxLen must be an integer ≥ 3', file, undefined, 'maxLen');
  }
  return { pooling: raw.pooling as Pooling, maxLen: raw.maxLen as number };
}

/**
 * Loads a sentence model. Options override what sentence.json says (a plain encoder directory has
 * none: then the defaults apply). The directory must hold a tokenizer (vocab.txt).
 *
 * @example
 * const model = loadSentenceModel('sentence-model/', { maxLen: 128 });
 * const emb = model.embed(['今天天气很好', '今天天气不错']); // [2, dim]
 */
export function loadSentenceModel(dir: string, override: Partial<SentenceConfig> = {}): SentenceEncoder {
  if (!fs.existsSync(path.join(dir, 'config.json')))
    throw new InputError('not a model directory (no config.json)', dir);
  const meta = readMeta(dir);
  const { model, tokenizer } = loadEncoder(dir);
  if (!tokenizer) {
    model.dispose();
    throw new InputError('the model directory has no tokenizer (vocab.txt)', dir);
  }
  const config = { ...DEFAULT_SENTENCE, ...meta, ...stripUndefined(override) };
  const c = model.config;
  const maxPositions = c.position === 'learned' ? c.maxPositions - (c.positionOffset ?? 0) : Infinity;
  // A saved or default length is capped to the model's positions; one asked for explicitly is not.
  if (override.maxLen !== undefined && override.maxLen > maxPositions) {
    model.dispose();
    throw new InputError(
      `maxLen (--max-len) ${override.maxLen} exceeds the model's ${maxPositions} learned positions: use 3 to ${maxPositions}`,
      dir,
    );
  }
  return new SentenceEncoder(model, tokenizer, { ...config, maxLen: Math.min(config.maxLen, maxPositions) });
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Callbacks for trainSentenceEncoder that keep its output in `outDir`: the best epoch's sentence model
 * (with the training metadata in sentence.json) and train-log.json after every epoch.
 *
 * @example
 * const model = loadSentenceModel('bert-dir/');
 * const dev = readSentencePairs('dev.tsv');
 * await trainSentenceEncoder(model, pairs, dev, { epochs: 2, ...saveTrainingTo('out/') });
 */
export function saveTrainingTo(outDir: string): {
  onBest: (model: SentenceEncoder, training: Record<string, unknown>) => Promise<void>;
  onLog: (log: Record<string, unknown>) => void;
} {
  return {
    onBest: (model, training) => saveSentenceModel(outDir, model, { training }),
    onLog: (log) => writeJsonAtomic(path.join(outDir, 'train-log.json'), log),
  };
}

/**
 * `onCheckpoint` for trainSentenceEncoder that keeps a resumable checkpoint in `dir` (the encoder,
 * tokenizer, optimizer and objective state, and the run's progress), with `extra` JSON beside it —
 * e.g. the settings a resumed run must match. `loadSentenceCheckpoint` reads it back.
 *
 * @example
 * const st = loadSentenceModel('bert-dir/');
 * const trainPairs = readSentencePairs('train.tsv');
 * await trainSentenceEncoder(st, trainPairs, undefined, { epochs: 3, ...sentenceCheckpointTo('out/checkpoint') });
 */
export function sentenceCheckpointTo(
  dir: string,
  extra: Record<string, unknown> = {},
): { onCheckpoint: (model: SentenceEncoder, state: SentenceTrainingState) => Promise<void> } {
  return {
    onCheckpoint: (model, st) =>
      saveCheckpoint(dir, {
        model: model.encoder,
        tokenizer: model.tokenizer,
        tensors: { optimizer: st.optimizer, objective: st.objective, best: st.bestWeights },
        state: {
          step: st.step,
          extra: { ...extra, history: st.history, bestEpoch: st.bestEpoch, epochLoss: st.epochLoss },
        },
      }),
  };
}

/**
 * The checkpoint `sentenceCheckpointTo(dir)` saved: the model (with `config`) holding its weights,
 * the state to pass as `resumeFrom` (its tensors are the caller's to dispose after training), and the
 * `extra` JSON saved with it.
 *
 * @example
 * const { model: st, resumeFrom } = await loadSentenceCheckpoint('out/checkpoint', { pooling: 'cls', maxLen: 64 });
 * const trainPairs = readSentencePairs('train.tsv');
 * await trainSentenceEncoder(st, trainPairs, undefined, { epochs: 3, resumeFrom });
 */
export async function loadSentenceCheckpoint(
  dir: string,
  config: SentenceConfig,
): Promise<{ model: SentenceEncoder; resumeFrom: SentenceTrainingState; extra: Record<string, unknown> }> {
  const found = findCheckpoint(dir);
  if (!found) throw new InputError('no checkpoint (state.json) here', dir);
  const stateFile = path.join(found, 'state.json');
  const extra = readJsonFile<{ extra?: Record<string, unknown> }>(stateFile).extra ?? {};
  const { history, bestEpoch, epochLoss } = extra as Partial<SentenceTrainingState>;
  if (!Array.isArray(history) || !Array.isArray(epochLoss) || epochLoss.length !== 2)
    throw new InputError('not a sentence-training checkpoint (no history or epochLoss)', stateFile);
  const { model, tokenizer, state } = await loadCheckpoint(dir);
  if (!tokenizer) {
    model.dispose();
    throw new InputError('the checkpoint has no tokenizer (vocab.txt)', found);
  }
  const resumeFrom: SentenceTrainingState = {
    step: state.step,
    history,
    bestEpoch,
    epochLoss,
    optimizer: readCheckpointTensors(dir, 'optimizer'),
    objective: readCheckpointTensors(dir, 'objective'),
    bestWeights: readCheckpointTensors(dir, 'best'),
  };
  return { model: new SentenceEncoder(model, tokenizer, config), resumeFrom, extra };
}
