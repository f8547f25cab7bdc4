/**
 * The 'aten' KernelBackend: every float32/int32/bool tensor is an at::Tensor in the addon's table and the
 * backend's DataStorage maps tfjs dataIds to those ids. string and complex64 tensors (which ATen kernels
 * here never handle) are kept by the tfjs `cpu` backend and referenced from the entry instead.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { AtenAddon } from './addon.js';

type DataId = object;
type Values = tf.BackendValues;

export interface Entry {
  /** Native tensor id; 0 when the tensor is held by the cpu backend. */
  id: number;
  dtype: tf.DataType;
  refCount: number;
  /**
   * Shape of the native tensor. Tensors sharing this data (Reshape / Identity results, as on the cpu
   * backend) may have other shapes; kernels view the data in the shape of the TensorInfo they get.
   */
  shape: number[];
  cpu?: tf.TensorInfo;
}

export function cpuBackend(): tf.KernelBackend {
  const b = tf.findBackend('cpu');
  if (b == null) throw new Error("kexue/aten: the 'cpu' backend is needed for fallbacks");
  return b;
}

/** Converts values to the typed array the addon expects for a native dtype. */
export function typedFor(
  values: Values | null | undefined,
  dtype: tf.DataType,
): Float32Array | Int32Array | Uint8Array | null {
  if (values == null) return null;
  switch (dtype) {
    case 'float32':
      return values instanceof Float32Array ? values : Float32Array.from(values as ArrayLike<number>);
    case 'int32':
      return values instanceof Int32Array ? values : Int32Array.from(values as ArrayLike<number>);
    case 'bool':
      return values instanceof Uint8Array
        ? values
        : Uint8Array.from(values as ArrayLike<number>, (v) => (v ? 1 : 0));
    default:
      throw new Error(`kexue/aten: dtype ${dtype} is not native`);
  }
}

export function isNativeDtype(dtype: tf.DataType): boolean {
  return dtype === 'float32' || dtype === 'int32' || dtype === 'bool';
}

/** Creates a cpu-held complex64 tensor from interleaved values (the cpu backend needs its Complex kernel). */
function cpuComplex(values: Values, shape: number[]): tf.TensorInfo {
  const cpu = cpuBackend() as tf.KernelBackend & {
    makeTensorInfo(s: number[], d: tf.DataType, v: Values): tf.TensorInfo;
  };
  const parts = tf.backend_util.splitRealAndImagArrays(values as Float32Array);
  const real = cpu.makeTensorInfo(shape, 'float32', parts.real);
  const imag = cpu.makeTensorInfo(shape, 'float32', parts.imag);
  const complex = tf.getKernel('Complex', 'cpu');
  if (!complex) throw new Error('kexue/aten: cpu Complex kernel missing');
  const out = complex.kernelFunc({ inputs: { real, imag }, backend: cpu, attrs: {} }) as tf.TensorInfo;
  cpu.disposeData(real.dataId);
  cpu.disposeData(imag.dataId);
  return out;
}

export class AtenBackend extends tf.KernelBackend {
  readonly data: tf.DataStorage<Entry>;

  constructor(readonly addon: AtenAddon) {
    super();
    this.data = new tf.DataStorage<Entry>(this, tf.engine());
  }

  private entryFor(values: Values | null, shape: number[], dtype: tf.DataType, refCount: number): Entry {
    if (isNativeDtype(dtype)) {
      return { id: this.addon.fromData(typedFor(values, dtype), shape, dtype), dtype, refCount, shape };
    }
    const cpu = cpuBackend() as tf.KernelBackend & {
      makeTensorInfo(s: number[], d: tf.DataType, v: Values): tf.TensorInfo;
    };
    const info =
      dtype === 'complex64'
        ? cpuComplex(values as Values, shape)
        : cpu.makeTensorInfo(shape, dtype, values as Values);
    return { id: 0, dtype, refCount, shape, cpu: info };
  }

  override write(values: Values, shape: number[], dtype: tf.DataType): DataId {
    const dataId = {};
    this.data.set(dataId, this.entryFor(values, shape, dtype, 1));
    return dataId;
  }

  override move(dataId: DataId, values: Values, shape: number[], dtype: tf.DataType, refCount: number): void {
    this.data.set(dataId, this.entryFor(values, shape, dtype, refCount));
  }

  /** Registers a native tensor id (owned from now on) as a new tfjs tensor. */
  adopt(id: number, dtype: tf.DataType, shape = this.addon.shape(id)): tf.TensorInfo {
    const dataId = {};
    this.data.set(dataId, { id, dtype, refCount: 1, shape });
    return { dataId, shape, dtype };
  }

  /** Registers a cpu-held TensorInfo (ownership passes to this backend). */
  adoptCpu(info: tf.TensorInfo): tf.TensorInfo {
    const dataId = {};
    this.data.set(dataId, { id: 0, dtype: info.dtype, refCount: 1, shape: info.shape, cpu: info });
    return { dataId, shape: info.shape, dtype: info.dtype };
  }

  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: Values): tf.TensorInfo {
    return { dataId: this.write(values as Values, shape, dtype), shape, dtype };
  }

  override readSync(dataId: DataId): Values {
    const e = this.data.get(dataId);
    if (e == null) throw new Error('kexue/aten: read of a disposed tensor');
    if (e.cpu) return cpuBackend().readSync(e.cpu.dataId);
    return this.addon.toData(e.id);
  }

  override async read(dataId: DataId): Promise<Values> {
    return this.readSync(dataId);
  }

  override refCount(dataId: DataId): number {
    return this.data.has(dataId) ? this.data.get(dataId)!.refCount : 0;
  }

  override incRef(dataId: DataId): void {
    this.data.get(dataId)!.refCount++;
  }

  decRef(dataId: DataId): void {
    if (this.data.has(dataId)) this.data.get(dataId)!.refCount--;
  }

  override disposeData(dataId: DataId, force = false): boolean {
    if (!this.data.has(dataId)) return true;
    const e = this.data.get(dataId)!;
    e.refCount--;
    if (!force && e.refCount > 0) return false;
    if (e.cpu) cpuBackend().disposeData(e.cpu.dataId);
    else this.addon.free(e.id);
    this.data.delete(dataId);
    return true;
  }

  disposeIntermediateTensorInfo(info: tf.TensorInfo): void {
    this.disposeData(info.dataId);
  }

  override numDataIds(): number {
    return this.data.numDataIds();
  }

  override memory(): { unreliable: boolean; reasons?: string[] } & {
    nativeTensors: number;
    nativeBytes: number;
  } {
    return { unreliable: false, nativeTensors: this.addon.count(), nativeBytes: this.addon.bytes() };
  }

  override timerAvailable(): boolean {
    return true;
  }

  override async time(f: () => void): Promise<tf.BackendTimingInfo> {
    const t0 = performance.now();
    f();
    return { kernelMs: performance.now() - t0 };
  }

  override floatPrecision(): 16 | 32 {
    return 32;
  }

  override epsilon(): number {
    return super.epsilon();
  }

  override dispose(): void {
    // Tensors are freed individually by disposeData; nothing is pooled.
  }
}
