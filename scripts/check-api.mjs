#!/usr/bin/env node
/**
 * Checks kexue's public API (part of `npm run lint`):
 *  1. every name exported by `kexue` (src/index.ts) and `kexue/node` (src/node.ts) has a doc comment;
 *  2. every exported function and class has an `@example`;
 *  3. every `@example` type-checks against the sources (strict), so the examples cannot rot.
 *
 * Examples are snippets: their `import` lines from kexue or TF.js are for the reader and are dropped;
 * each snippet is compiled inside an async function (so it may `await` and declare what it likes) in a
 * module that imports every public name, `tf` (@tensorflow/tfjs) and the free variables in FREE below.
 *
 *   node scripts/check-api.mjs [--list]   (--list prints the public names with their kind and file)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ENTRIES = { kexue: 'src/index.ts', 'kexue/node': 'src/node.ts' };

/** What an example may use without defining it (the reader's own model, data and tensors). */
const FREE = `
declare const model: tf.LayersModel;
declare const critic: tf.LayersModel;
declare const generator: tf.LayersModel;
declare const x: tf.Tensor2D;
declare const y: tf.Tensor2D;
declare const logits: tf.Tensor2D;
declare const probs: tf.Tensor2D;
declare const prior: number[];
declare const labels: number[];
declare const texts: string[];
declare const pairs: SentencePair[];
declare const encoder: Encoder;
declare const tokenizer: Tokenizer;
declare const vae: VAEModel;
declare const images: Float32Array;
declare const optimizer: tf.Optimizer;
declare const train: LabelledText[];
declare const dev: LabelledText[];
`;

const compilerOptions = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
  types: ['node'],
  strict: true,
  skipLibCheck: true,
  esModuleInterop: true,
  resolveJsonModule: true,
  noEmit: true,
  paths: {
    kexue: [path.join(root, ENTRIES.kexue)],
    'kexue/node': [path.join(root, ENTRIES['kexue/node'])],
  },
};

function publicExports(program) {
  const checker = program.getTypeChecker();
  const out = new Map();
  for (const [entry, file] of Object.entries(ENTRIES)) {
    const sf = program.getSourceFile(path.join(root, file));
    for (const s of checker.getExportsOfModule(checker.getSymbolAtLocation(sf))) {
      if (out.has(s.name)) continue;
      const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
      const decl = target.declarations?.[0];
      const isValue = (target.flags & ts.SymbolFlags.Value) !== 0;
      out.set(s.name, {
        name: s.name,
        entry,
        isValue,
        kind: decl ? ts.SyntaxKind[decl.kind] : 'unknown',
        file: decl ? path.relative(root, decl.getSourceFile().fileName) : '?',
        doc: ts.displayPartsToString(target.getDocumentationComment(checker)).trim(),
        examples: target
          .getJsDocTags(checker)
          .filter((t) => t.name === 'example')
          .map((t) => ts.displayPartsToString(t.text ?? [])),
      });
    }
  }
  return [...out.values()];
}

function exampleModule(names, code) {
  const values = names.filter((n) => n.isValue).map((n) => n.name);
  const types = names.filter((n) => !n.isValue).map((n) => n.name);
  const body = code
    .split('\n')
    .filter((l) => !/^\s*import .* from '(kexue(\/node)?|@tensorflow\/tfjs(-core|-layers)?)';\s*$/.test(l))
    .join('\n');
  return [
    `import * as tf from '@tensorflow/tfjs';`,
    `import { ${values.join(', ')} } from 'kexue/node';`,
    `import type { ${types.join(', ')} } from 'kexue/node';`,
    FREE,
    `export async function example(): Promise<void> {`,
    body,
    `}`,
  ].join('\n');
}

const base = ts.createProgram(
  Object.values(ENTRIES).map((f) => path.join(root, f)),
  compilerOptions,
);
const names = publicExports(base);
if (process.argv.includes('--list')) {
  for (const n of names)
    console.log(`${n.name}\t${n.kind}\t${n.file}\t${n.doc ? 'doc' : '-'}\t${n.examples.length}`);
  process.exit(0);
}

const problems = [];
for (const n of names) {
  if (!n.doc) problems.push(`${n.file}: ${n.name} (exported by '${n.entry}') has no doc comment`);
  if ((n.kind === 'FunctionDeclaration' || n.kind === 'ClassDeclaration') && n.examples.length === 0)
    problems.push(`${n.file}: ${n.name} (exported by '${n.entry}') has no @example`);
}

// Type-check every example in one program beside the sources.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kexue-examples-'));
const where = new Map();
let i = 0;
for (const n of names) {
  for (const code of n.examples) {
    const file = path.join(dir, `example-${i++}.ts`);
    fs.writeFileSync(file, exampleModule(names, code));
    where.set(file, n);
  }
}
// Resolve @tensorflow/tfjs and node types from the repository's node_modules.
const host = ts.createCompilerHost(compilerOptions);
const resolve = (name, containing) =>
  ts.resolveModuleName(
    name,
    where.has(containing) ? path.join(root, 'src', 'index.ts') : containing,
    compilerOptions,
    host,
  ).resolvedModule;
host.resolveModuleNameLiterals = (literals, containing) =>
  literals.map((l) => ({ resolvedModule: resolve(l.text, containing) }));
const program = ts.createProgram(
  [...where.keys()],
  { ...compilerOptions, typeRoots: [path.join(root, 'node_modules', '@types')] },
  host,
);
for (const d of ts.getPreEmitDiagnostics(program)) {
  const n = d.file && where.get(d.file.fileName);
  if (!n) {
    problems.push(`examples: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`);
    continue;
  }
  const { line } = d.file.getLineAndCharacterOfPosition(d.start ?? 0);
  const text = d.file.text.split('\n')[line].trim();
  problems.push(
    `${n.file}: the @example of ${n.name} does not type-check: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')} (in: ${text})`,
  );
}
fs.rmSync(dir, { recursive: true, force: true });

if (problems.length) {
  for (const p of problems) console.error(p);
  console.error(`check-api: ${problems.length} problem(s) in the public API (${names.length} names)`);
  process.exit(1);
}
console.log(`check-api: ${names.length} public names documented, ${i} examples type-check`);
