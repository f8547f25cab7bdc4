/**
 * kexue for Node.js: everything of the browser-safe root entry, plus files on disk (npy, CSV/TSV
 * tables, IDX images, STS pairs, CLUE, model and VAE directories, checkpoints, PNG), backend selection
 * with the native ATen backend (`initBackend`), and the CLI.
 *
 *   import { initBackend, loadEncoder, readNpy, can } from 'kexue/node';
 *
 * @packageDocumentation
 * @module kexue/node
 */
export * from './index.js';
export { initBackend, BACKEND_ORDER, type BackendName, type InitBackendOptions } from './backend/index.js';
export { readNpy, writeNpy, parseNpy, encodeNpy, type NpyArray, type NpyData } from './io/npy.js';
export { readMatrix, readLabels, readVector, type Matrix } from './io/table.js';
export { readSentencePairs } from './io/sts.js';
export { readIdx, parseIdx, readImageSet, type IdxArray, type ImageSet } from './io/idx.js';
export {
  readClueDataset,
  readClueJsonl,
  readClueLabels,
  parseClueJsonl,
  type ClueDataset,
  type ClueExample,
} from './io/clue.js';
export {
  saveEncoder,
  loadEncoder,
  saveCheckpoint,
  loadCheckpoint,
  findCheckpoint,
  readCheckpointTensors,
  type CheckpointState,
} from './io/encoder-files.js';
export { saveTokenizer, loadTokenizer } from './io/tokenizer-files.js';
export {
  saveSentenceModel,
  loadSentenceModel,
  saveTrainingTo,
  sentenceCheckpointTo,
  loadSentenceCheckpoint,
} from './io/sentence-files.js';
export {
  directoryHandler,
  loadVAEDir,
  saveTrainCheckpoint,
  trainEpochsWithCheckpoints,
  findTrainCheckpoint,
  readTrainState,
  loadOptimizerState,
  type TrainState,
} from './io/vae-files.js';
export { loadHuggingFaceBert, exportHuggingFaceBert, hfDirReader } from './io/hf-files.js';
export { main as runCli } from './cli/main.js';
