/**
 * BERT's initializer as a TF.js layers initializer: normal(0, σ²) truncated at ±2σ, σ = 0.02 by default
 * (`truncated_normal_initializer(0.02)` in Google's BERT; actual std ≈ 0.8796σ, see `truncatedStd`).
 * Registered with `tf.serialization`, so it is usable by class name in a layer config
 * (`kernelInitializer: 'BertTruncatedNormal'`) and models using it save and load.
 *
 * Draws come from kexue's seeded `Rng` in JavaScript, so a given seed gives the same weights on every
 * backend. One initializer object continues its stream from call to call (two layers sharing it get
 * different weights); a `seed` restarts it, so a model rebuilt with the same seeds is identical.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { InputError } from '../io/errors.js';
import { Rng } from '../util/rng.js';
import { truncatedNormalArray } from './init.js';

/** tfjs-layers' `Initializer` type (the class itself is not exported by the package). */
export type LayersInitializer = ReturnType<typeof tfl.initializers.ones>;
const InitializerBase = Object.getPrototypeOf(
  tfl.initializers.ones().constructor,
) as abstract new () => LayersInitializer;

/** Options of `BertTruncatedNormal`. */
export interface BertTruncatedNormalArgs {
  /** σ before truncation (default 0.02, BERT's `initializer_range`). */
  stddev?: number;
  /** Seed of the draws (default: a random seed). */
  seed?: number;
}

/**
 * BERT's truncated normal as a `tf.layers` initializer.
 *
 * @example
 * tf.layers.dense({ units: 64, kernelInitializer: new BertTruncatedNormal({ seed: 1 }) });
 * tf.layers.dense({ units: 64, kernelInitializer: 'BertTruncatedNormal' }); // by name: σ = 0.02
 */
export class BertTruncatedNormal extends InitializerBase {
  static readonly className = 'BertTruncatedNormal';
  readonly stddev: number;
  readonly seed?: number;
  private readonly rng: Rng;

  constructor(args: BertTruncatedNormalArgs = {}) {
    super();
    if (args === null || typeof args !== 'object')
      throw new InputError('must be an options object', 'BertTruncatedNormal');
    const { stddev = 0.02, seed } = args;
    if (!(typeof stddev === 'number' && stddev > 0 && Number.isFinite(stddev)))
      throw new InputError(`stddev must be a positive number, got ${String(stddev)}`, 'BertTruncatedNormal');
    if (seed !== undefined && !Number.isInteger(seed))
      throw new InputError(`seed must be an integer, got ${String(seed)}`, 'BertTruncatedNormal');
    this.stddev = stddev;
    this.seed = seed;
    this.rng = new Rng(seed ?? Math.floor(Math.random() * 2 ** 31));
  }

  apply(shape: number[], dtype?: tf.DataType): tf.Tensor {
    if (dtype !== undefined && dtype !== 'float32')
      throw new InputError(`only float32 weights, got ${dtype}`, 'BertTruncatedNormal');
    const n = shape.reduce((a, b) => a * b, 1);
    return tf.tensor(truncatedNormalArray(n, this.stddev, this.rng), shape, 'float32');
  }

  static fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    return new cls(config);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return this.seed === undefined ? { stddev: this.stddev } : { stddev: this.stddev, seed: this.seed };
  }
}

tf.serialization.registerClass(BertTruncatedNormal);
