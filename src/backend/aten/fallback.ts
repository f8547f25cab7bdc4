/**
 * Kernels not (or not in some case) native run on the tfjs `cpu` backend's kernel: inputs are copied out,
 * the cpu kernel runs, outputs are copied back in (string/complex64 outputs stay cpu-held).
 * KEXUE_ATEN_TRACE=1 prints each fallback kernel on first use and a count summary at exit.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AtenBackend, cpuBackend, isNativeDtype, typedFor } from './backend.js';

const trace = process.env.KEXUE_ATEN_TRACE === '1';
const used = new Map<string, number>();

function noteFallback(name: string, why: string): void {
  const n = used.get(name) ?? 0;
  used.set(name, n + 1);
  if (!trace) return;
  if (n === 0) {
    if (used.size === 1) process.on('exit', printSummary);
    process.stderr.write(`kexue/aten: fallback to cpu: ${name}${why ? ` (${why})` : ''}\n`);
  }
}

function printSummary(): void {
  const rows = [...used.entries()].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k}×${n}`);
  process.stderr.write(`kexue/aten: fallback kernels used: ${rows.join(', ')}\n`);
}

/** The fallback kernels used so far in this process, with call counts. */
export function fallbacksUsed(): ReadonlyMap<string, number> {
  return used;
}

type CpuWithInfo = tf.KernelBackend & {
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: tf.BackendValues): tf.TensorInfo;
};

/** A cpu-side input; some cpu kernels read Tensor-only fields (rank, size) that engine inputs carry. */
function toCpu(b: AtenBackend, t: tf.TensorInfo, temps: tf.TensorInfo[]): tf.TensorInfo {
  const e = b.data.get(t.dataId);
  if (e == null) throw new Error('kexue/aten: kernel input was disposed');
  const dataId = e.cpu
    ? e.cpu.dataId
    : (cpuBackend() as CpuWithInfo).makeTensorInfo(t.shape, t.dtype, b.addon.toData(e.id)).dataId;
  const info = {
    dataId,
    shape: t.shape,
    dtype: t.dtype,
    rank: t.shape.length,
    size: tf.util.sizeFromShape(t.shape),
  };
  if (!e.cpu) temps.push(info);
  return info;
}

function fromCpu(b: AtenBackend, o: tf.TensorInfo): tf.TensorInfo {
  const cpu = cpuBackend();
  if (!isNativeDtype(o.dtype)) {
    // string / complex64 stay cpu-held: the new aten entry owns the cpu kernel's reference.
    return b.adoptCpu(o);
  }
  const values = typedFor(cpu.readSync(o.dataId), o.dtype);
  const id = b.addon.fromData(values, o.shape, o.dtype);
  cpu.disposeData(o.dataId);
  return b.adopt(id, o.dtype);
}

/** Runs kernel `name` on the cpu backend for aten inputs. */
export function runOnCpu(
  name: string,
  args: Parameters<tf.KernelFunc>[0],
  why = '',
): tf.TensorInfo | tf.TensorInfo[] {
  const cfg = tf.getKernel(name, 'cpu');
  if (!cfg) throw new Error(`kexue/aten: kernel ${name} has neither a native nor a cpu implementation`);
  noteFallback(name, why);
  const b = args.backend as AtenBackend;
  const temps: tf.TensorInfo[] = [];
  const inputs: Record<string, tf.TensorInfo> = {};
  for (const [k, t] of Object.entries(args.inputs)) {
    // Some kernels (RaggedGather, ...) take a list of tensors as one input.
    if (Array.isArray(t))
      inputs[k] = (t as tf.TensorInfo[]).map((x) => toCpu(b, x, temps)) as unknown as tf.TensorInfo;
    else if (t != null) inputs[k] = toCpu(b, t, temps);
  }
  // Array-shaped input maps (Concat, AddN, ...) stay arrays.
  const cpuInputs = Array.isArray(args.inputs) ? Object.values(inputs) : inputs;
  try {
    const res = cfg.kernelFunc({
      inputs: cpuInputs as tf.NamedTensorInfoMap,
      backend: cpuBackend(),
      attrs: args.attrs,
    });
    return Array.isArray(res) ? res.map((o) => fromCpu(b, o)) : fromCpu(b, res);
  } finally {
    for (const t of temps) cpuBackend().disposeData(t.dataId);
  }
}
