/**
 * Spectral normalization (Miyato et al., ICLR 2018) as a TF.js layers wrapper: the wrapped layer's kernel
 * W is replaced by W/σ(W) in the forward pass, σ the largest singular value of W reshaped to
 * [fan-in, units], estimated by power iteration:
 *
 *   v ← normalize(u·W̃ᵀ),  u ← normalize(v·W̃),  σ = v·W̃·uᵀ     (W̃ = W reshaped, u ∈ ℝ^units)
 *
 * u persists between calls as a non-trainable weight (saved with the model), and `powerIterations`
 * steps run on every training call (one, as in the paper, by default); at inference u is not updated.
 * u and v are constants to the gradient (the paper's choice); since v maximises vᵀ(W̃uᵀ), the gradient of
 * σ with v held fixed is also the exact derivative of ‖W̃uᵀ‖.
 *
 * Any layer whose weight is `kernel` works (Dense, Conv1D/2D, ...): the wrapper swaps the kernel the layer
 * reads for W/σ during the wrapped layer's own `call`, so its bias, activation and options are untouched.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { InputError } from '../io/errors.js';

type Layer = tfl.layers.Layer;
type LayerArgs = ConstructorParameters<typeof tfl.layers.Layer>[0];
type Kwargs = Record<string, unknown>;

/** Options of `SpectralNormalization`. */
export interface SpectralNormalizationArgs extends NonNullable<LayerArgs> {
  /** The layer to normalise (it must have a `kernel` weight, e.g. Dense or Conv2D). */
  layer: Layer;
  /** Power-iteration steps per training call (default 1, as in the paper). */
  powerIterations?: number;
  /** Added to norms before dividing (default 1e-12). */
  epsilon?: number;
  /** Seed of u's random initial value. */
  seed?: number;
}

/** Identity whose gradient is zero: u and v are constants to the tape (TF's stop_gradient). */
const stopGradient = tf.customGrad((...args) => ({
  value: tf.clone(args[0] as tf.Tensor),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
}));

function l2normalize(x: tf.Tensor2D, eps: number): tf.Tensor2D {
  return tf.div(x, tf.add(tf.norm(x), eps));
}

/**
 * Wraps a layer so that its kernel is spectrally normalised; a serializable `tf.layers.Layer`.
 *
 * @example
 * const critic = tf.sequential({ layers: [
 *   new SpectralNormalization({ layer: tf.layers.dense({ units: 64, activation: 'relu' }), inputShape: [2] }),
 *   new SpectralNormalization({ layer: tf.layers.dense({ units: 1 }) }) ] });
 */
export class SpectralNormalization extends tfl.layers.Layer {
  static readonly className = 'SpectralNormalization';
  readonly layer: Layer;
  readonly powerIterations: number;
  readonly epsilon: number;
  readonly seed?: number;
  private u: tfl.LayerVariable | null = null;

  constructor(args: SpectralNormalizationArgs) {
    if (args === null || typeof args !== 'object')
      throw new InputError('must be an options object', 'SpectralNormalization');
    const { layer, powerIterations = 1, epsilon = 1e-12, seed, ...layerArgs } = args;
    super(layerArgs);
    if (!(layer instanceof tfl.layers.Layer))
      throw new InputError(
        'layer must be a tf.layers.Layer (e.g. tf.layers.dense(...))',
        'SpectralNormalization',
      );
    if (!Number.isInteger(powerIterations) || powerIterations < 1)
      throw new InputError(
        `powerIterations must be an integer ≥ 1, got ${powerIterations}`,
        'SpectralNormalization',
      );
    if (!(epsilon >= 0)) throw new InputError(`epsilon must be ≥ 0, got ${epsilon}`, 'SpectralNormalization');
    this.layer = layer;
    this.powerIterations = powerIterations;
    this.epsilon = epsilon;
    this.seed = seed;
    this.supportsMasking = false;
  }

  private kernelOf(): tfl.LayerVariable {
    const kernel = (this.layer as unknown as { kernel?: tfl.LayerVariable }).kernel;
    if (!kernel || typeof kernel.read !== 'function')
      throw new InputError(
        `layer '${this.layer.name}' (${this.layer.getClassName()}) has no kernel to normalise`,
        'SpectralNormalization',
      );
    return kernel;
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    if (!this.layer.built) {
      this.layer.build(inputShape);
      this.layer.built = true;
    }
    const kernel = this.kernelOf();
    const units = kernel.shape[kernel.shape.length - 1];
    this.u = this.addWeight(
      'sn_u',
      [1, units],
      'float32',
      tfl.initializers.randomNormal({ mean: 0, stddev: 1, seed: this.seed }),
      undefined,
      false,
    );
    this.built = true;
  }

  override get trainableWeights(): tfl.LayerVariable[] {
    return this.layer.trainableWeights;
  }

  override set trainableWeights(_w: tfl.LayerVariable[]) {
    throw new Error('SpectralNormalization: set the wrapped layer weights instead');
  }

  override get nonTrainableWeights(): tfl.LayerVariable[] {
    return [...this.layer.nonTrainableWeights, ...(this.u ? [this.u] : [])];
  }

  override set nonTrainableWeights(_w: tfl.LayerVariable[]) {
    throw new Error('SpectralNormalization: set the wrapped layer weights instead');
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    return this.layer.computeOutputShape(inputShape);
  }

  /** σ(W) with the current u (after `powerIterations` steps when training), and W/σ. */
  normalizedKernel(training: boolean): { sigma: tf.Scalar; kernel: tf.Tensor } {
    const kernel = this.kernelOf().read();
    const units = kernel.shape[kernel.shape.length - 1];
    const w = tf.reshape(kernel, [-1, units]) as tf.Tensor2D;
    const wc = stopGradient(w) as tf.Tensor2D;
    let u = this.u!.read() as tf.Tensor2D;
    let v = l2normalize(tf.matMul(u, wc, false, true), this.epsilon);
    if (training) {
      for (let i = 0; i < this.powerIterations; i++) {
        if (i > 0) v = l2normalize(tf.matMul(u, wc, false, true), this.epsilon);
        u = l2normalize(tf.matMul(v, wc), this.epsilon);
      }
      this.u!.write(u); // assign keeps the data; the tidy frees the tensor object
      v = l2normalize(tf.matMul(u, wc, false, true), this.epsilon);
    }
    const sigma = tf.sum(tf.mul(tf.matMul(v, w), u)) as tf.Scalar;
    return { sigma, kernel: tf.div(kernel, sigma) };
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    return tf.tidy(() => {
      const { kernel } = this.normalizedKernel(kwargs['training'] === true);
      const inner = this.layer as unknown as { kernel: unknown };
      const original = inner.kernel;
      inner.kernel = { read: () => kernel, shape: kernel.shape, name: 'sn_kernel' };
      try {
        return this.layer.call(inputs, kwargs);
      } finally {
        inner.kernel = original;
      }
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    const config: tf.serialization.ConfigDict = {
      layer: { className: this.layer.getClassName(), config: this.layer.getConfig() },
      powerIterations: this.powerIterations,
      epsilon: this.epsilon,
      ...super.getConfig(),
    };
    if (this.seed !== undefined) config.seed = this.seed;
    return config;
  }

  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    const spec = config.layer as { className: string; config: tf.serialization.ConfigDict };
    const entry = tf.serialization.SerializationMap.getMap().classNameMap[spec.className];
    if (!entry)
      throw new InputError(`unknown wrapped layer class '${spec.className}'`, 'SpectralNormalization');
    const [layerCls, fromConfig] = entry;
    const layer = fromConfig(layerCls, spec.config);
    return new cls({ ...config, layer });
  }
}

tf.serialization.registerClass(SpectralNormalization);
