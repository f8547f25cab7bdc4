/**
 * Helpers native kernels are written with. Every id an ATen call returns is scratch until `out()` hands it
 * to the backend; the kernel wrapper frees the rest when the kernel returns or throws, so kernels need no
 * manual disposal of intermediates.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { AtenAddon, OpArg } from './addon.js';
import type { AtenBackend } from './backend.js';

let addon: AtenAddon;
let backend: AtenBackend;
const handles = new Map<string, number>();
const scratch: number[] = [];
const kept = new Set<number>();

export function bindNative(a: AtenAddon, b: AtenBackend): void {
  addon = a;
  backend = b;
}

/** Thrown by a kernel for a case it leaves to the cpu fallback. */
export class Unsupported extends Error {}

function handle(key: string): number {
  let h = handles.get(key);
  if (h === undefined) {
    const dot = key.indexOf('.');
    const name = 'aten::' + (dot < 0 ? key : key.slice(0, dot));
    h = addon.op(name, dot < 0 ? '' : key.slice(dot + 1));
    handles.set(key, h);
  }
  return h;
}

/** Calls `aten::<name>.<overload>` (key "add.Tensor"); `mode` = dtype to cast to, or 'raw'. One tensor out. */
export function run(key: string, args: readonly OpArg[], mode?: string): number {
  const r = addon.call(handle(key), args, mode);
  if (typeof r !== 'number') throw new Error(`aten::${key} returned several values`);
  scratch.push(r);
  return r;
}

/** Like `run` for operators returning several tensors (a tuple or a list). */
export function runN(key: string, args: readonly OpArg[], mode?: string): number[] {
  const r = addon.call(handle(key), args, mode);
  const flat = (Array.isArray(r) ? r : [r]).flat() as number[];
  scratch.push(...flat);
  return flat;
}

export function shapeOf(id: number): number[] {
  return addon.shape(id);
}

/** Native id of an input; cpu-held inputs never reach native kernels (the wrapper routes them to fallback). */
export function idOf(t: tf.TensorInfo): number {
  const e = backend.data.get(t.dataId)!;
  const s = t.shape;
  if (s.length === e.shape.length && s.every((d, i) => d === e.shape[i])) return e.id;
  // A view (Transpose and Slice return ATen views) read in another shape must be copied. Copy it once,
  // in place of the view, so that every later reader of the data reshapes it for free: a gradient read as
  // [rows, features] feeds two products and a sum, which made three copies of the same tensor.
  if (!addon.isContiguous(e.id)) {
    // The view's id is freed with the kernel's scratch: an input of this kernel sharing the data in its
    // own shape may already hold it.
    scratch.push(e.id);
    e.id = addon.call(handle('contiguous'), [e.id]) as number;
  }
  return run('reshape', [e.id, s]);
}

/** A kernel output sharing the input's data under another shape (what Reshape and Identity return). */
export function share(t: tf.TensorInfo, shape: number[]): tf.TensorInfo {
  backend.incRef(t.dataId);
  return { dataId: t.dataId, shape, dtype: t.dtype };
}

/** Hands a scratch id to the backend as a kernel output (cast to `dtype` if the ATen result differs). */
export function out(id: number, dtype: tf.DataType): tf.TensorInfo {
  let res = id;
  const shape = addon.shapeIf(id, dtype);
  if (shape === null) res = run('to.dtype', [id, dtype, false, false]);
  // An input passed straight through gets its own id (the input's owner will free the original).
  else if (!scratch.includes(id)) res = run('alias', [id]);
  kept.add(res);
  return backend.adopt(res, dtype, shape ?? undefined);
}

/** Runs a kernel body, freeing the scratch ids it created that were not outputs (in one addon call). */
export function scoped<T>(f: () => T): T {
  const mark = scratch.length;
  try {
    return f();
  } finally {
    const dead: number[] = [];
    for (let i = scratch.length - 1; i >= mark; i--) {
      const id = scratch[i];
      if (kept.has(id)) kept.delete(id);
      else dead.push(id);
    }
    scratch.length = mark;
    if (dead.length > 0) addon.free(dead);
  }
}

/** Takes an id the addon returned as the kernel's scratch (freed at its end unless an output). */
function scratchId(id: number): number {
  scratch.push(id);
  return id;
}

/** The addon's dropout multiplier (see native/aten.cc): 0 or 1/(1 − rate) per element, from `seed`. */
export function dropoutMask(shape: readonly number[], rate: number, seed: number): number {
  return scratchId(addon.dropoutMask(shape, rate, seed));
}

/** The addon's standard-normal draws of a shape from `seed` (see native/aten.cc). */
export function randomNormal(shape: readonly number[], seed: number): number {
  return scratchId(addon.randomNormal(shape, seed));
}

/** The addon's 0/1 draws, 1 with probability p[i] (see native/aten.cc). */
export function bernoulli(p: number, seed: number): number {
  return scratchId(addon.bernoulli(p, seed));
}

/**
 * The addon's AdamW update of several variables (see native/aten.cc): new param, m and v ids per variable.
 * `sole[i]`: tfjs holds variable i's param, m and v once each, so they may be updated in place.
 */
export function adamWUpdate(
  ids: number[],
  clipScale: number | null,
  scalars: number[],
  decays: number[],
  sole: boolean[],
): number[] {
  const r = addon.adamW(ids, clipScale, scalars, decays, sole);
  scratch.push(...r);
  return r;
}

/** Whether no other tfjs tensor shares `t`'s data (refCount 1: no clone, reshape or saved copy of it). */
export function soleHolder(t: tf.TensorInfo): boolean {
  return backend.data.get(t.dataId)!.refCount === 1;
}

/** The addon's batched product over the threads, or null where it does not apply (see native/aten.cc). */
export function batchMatmul(a: number, b: number, ta: boolean, tb: boolean): number | null {
  const id = addon.batchMatmul(a, b, ta, tb);
  if (id !== null) scratch.push(id);
  return id;
}

/** The addon's Bernoulli log-likelihood over the last axis, and its gradient (see native/loops.h). */
export function bernoulliLogPmf(x: number, logits: number): number {
  return scratchId(addon.bernoulliLogPmf(x, logits));
}

export function bernoulliLogPmfGrad(dy: number, x: number, logits: number): number {
  return scratchId(addon.bernoulliLogPmfGrad(dy, x, logits));
}

/** The addon's dense layer and its gradient (see native/aten.cc); activation numbered as there. */
export function dense(x: number, w: number, b: number, activation: number): number {
  return scratchId(addon.dense(x, w, b, activation));
}

export function denseGrad(dy: number, x: number, w: number, y: number, activation: number): number[] {
  const r = addon.denseGrad(dy, x, w, y, activation);
  scratch.push(...r);
  return r;
}

/** The addon's tanh and its gradient from the output (see native/loops.h). */
export function tanh(x: number): number {
  return scratchId(addon.tanh(x));
}

export function tanhGrad(dy: number, y: number): number {
  return scratchId(addon.tanhGrad(dy, y));
}

/** The first element of a native tensor, read to the CPU. */
export function firstValue(id: number): number {
  return addon.toData(id)[0];
}

/** Scalar literal as a native 0-d tensor of a dtype (for where/maximum etc. with tensor overloads). */
export function scalar(value: number, dtype: string): number {
  return run('scalar_tensor', [value, dtype]);
}
