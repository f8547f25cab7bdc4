/**
 * Hugging Face BERT interop, browser-safe: safetensors, config and tokenizer mapping, loading from a URL
 * or file contents, export to file contents. Directories on disk: src/io/hf-files.ts.
 */
export * from './safetensors.js';
export * from './config.js';
export * from './weights.js';
export * from './tokenizer.js';
export * from './load.js';
