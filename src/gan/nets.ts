/**
 * MLP generators and critics for the GAN trainer, on kexue's Module pattern. A critic layer can be
 * spectrally normalised (Miyato et al. 2018): W/σ(W) with σ estimated by one power-iteration step per
 * training step; the singular vectors u, v are state (non-trainable variables) and constants to the
 * gradient, as in the paper.
 */
import * as tf from '@tensorflow/tfjs-core';
import { dense } from '../nn/fused-dense.js';
import { Module } from '../nn/module.js';
import { initTensor } from '../nn/init.js';
import { Rng, rngOf, type Seed } from '../util/rng.js';

/** The activations of the GAN nets (leaky ReLU with slope 0.2). */
export type NetActivation = 'relu' | 'leakyRelu' | 'tanh' | 'linear' | 'sigmoid';

export function applyActivation(act: NetActivation, x: tf.Tensor): tf.Tensor {
  switch (act) {
    case 'relu':
      return tf.relu(x);
    case 'leakyRelu':
      return tf.leakyRelu(x, 0.2);
    case 'tanh':
      return tf.tanh(x);
    case 'sigmoid':
      return tf.sigmoid(x);
    case 'linear':
      return x;
  }
}

/**
 * A layer with a kernel (and a bias over `biasDim` outputs) whose kernel may be spectrally normalised.
 * σ is that of the kernel viewed as a matrix [rows, cols] with cols its last axis: for a dense kernel
 * [in, out] that is W itself, for a conv kernel [kh, kw, in, out] the reshape Miyato et al. use.
 */
abstract class KernelLayer extends Module {
  readonly kernel: tf.Variable;
  readonly bias: tf.Variable;
  private readonly u?: tf.Variable;
  private readonly v?: tf.Variable;

  protected constructor(kernelShape: number[], biasDim: number, rng: Rng, spectral: boolean) {
    super();
    this.kernel = this.param('kernel', initTensor({ name: 'glorot-uniform' }, kernelShape, rng));
    this.bias = this.param('bias', tf.zeros([biasDim]));
    if (spectral) {
      const cols = kernelShape[kernelShape.length - 1];
      const u = Array.from({ length: cols }, () => rng.normal());
      const norm = Math.hypot(...u) || 1;
      this.u = this.param('sn_u', tf.tensor1d(u.map((a) => a / norm)), false);
      this.v = this.param('sn_v', tf.zeros([this.kernel.size / cols]), false);
      this.powerIteration();
    }
  }

  get spectral(): boolean {
    return this.u !== undefined;
  }

  private matrix(): tf.Tensor2D {
    const cols = this.kernel.shape[this.kernel.rank - 1];
    return tf.reshape(this.kernel, [-1, cols]);
  }

  /** One power-iteration step: v ← Wu/‖Wu‖, u ← Wᵀv/‖Wᵀv‖ (W as [rows, cols]). Call outside the tape. */
  powerIteration(): void {
    if (!this.u || !this.v) return;
    const [u, v] = [this.u, this.v];
    tf.tidy(() => {
      const k = this.matrix();
      const nv = tf.reshape(tf.matMul(k, tf.reshape(u, [-1, 1])), [-1]);
      const vn = tf.div(nv, tf.add(tf.norm(nv), 1e-12));
      const nu = tf.reshape(tf.matMul(tf.reshape(vn, [1, -1]), k), [-1]);
      v.assign(vn);
      u.assign(tf.div(nu, tf.add(tf.norm(nu), 1e-12)));
    });
  }

  /** The kernel used in the forward pass: the kernel, or kernel/σ when spectrally normalised. */
  weight(): tf.Tensor {
    if (!this.u || !this.v) return this.kernel;
    // σ = vᵀ W u with u, v constants (they are variables, not functions of the kernel on the tape)
    const sigma = tf.sum(tf.mul(tf.matMul(tf.reshape(this.v, [1, -1]), this.matrix()), this.u));
    return tf.div(this.kernel, sigma);
  }
}

/** y = x·W + b (W [in, out]), optionally with W replaced by W/σ(W). */
export class DenseLayer extends KernelLayer {
  constructor(
    readonly inDim: number,
    readonly outDim: number,
    rng: Rng,
    spectral = false,
  ) {
    super([inDim, outDim], outDim, rng, spectral);
  }

  apply(x: tf.Tensor2D): tf.Tensor2D {
    return dense(x, this.weight() as tf.Tensor2D, this.bias as tf.Tensor1D) as tf.Tensor2D;
  }
}

/** A 4×4 convolution with stride 2 ('same' padding, NHWC), halving height and width. */
export class DownConvLayer extends KernelLayer {
  constructor(inChannels: number, outChannels: number, rng: Rng, spectral = false) {
    super([4, 4, inChannels, outChannels], outChannels, rng, spectral);
  }

  apply(x: tf.Tensor4D): tf.Tensor4D {
    return tf.add(tf.conv2d(x, this.weight() as tf.Tensor4D, 2, 'same'), this.bias);
  }
}

/** A 4×4 transposed convolution with stride 2 ('same' padding, NHWC), doubling height and width. */
export class UpConvLayer extends KernelLayer {
  constructor(
    inChannels: number,
    readonly outChannels: number,
    rng: Rng,
  ) {
    // tfjs's transposed-conv filter is [kh, kw, out, in]
    super([4, 4, outChannels, inChannels], outChannels, rng, false);
  }

  apply(x: tf.Tensor4D): tf.Tensor4D {
    const [n, h, w] = x.shape;
    const y = tf.conv2dTranspose(
      x,
      this.kernel as tf.Tensor4D,
      [n, 2 * h, 2 * w, this.outChannels],
      2,
      'same',
    );
    return tf.add(y, this.bias);
  }
}

/** A generator or critic of the GAN trainer: rows in, rows out. */
export interface GanNet extends Module {
  apply(x: tf.Tensor): tf.Tensor2D;
  /** One power-iteration step of every spectrally normalised layer (outside the tape). */
  powerIteration(): void;
}

export interface MlpNetOptions {
  dims: number[];
  activation: NetActivation;
  outActivation?: NetActivation;
  spectral?: boolean;
}

/** A plain MLP: dims[0] → … → dims[last]. */
export class MlpNet extends Module implements GanNet {
  readonly layers: DenseLayer[];

  constructor(
    readonly opts: MlpNetOptions,
    seed: Seed,
  ) {
    super();
    const rng = rngOf(seed, 'rng');
    this.layers = opts.dims
      .slice(1)
      .map((d, i) => this.child(String(i), new DenseLayer(opts.dims[i], d, rng, opts.spectral)));
  }

  apply(x: tf.Tensor): tf.Tensor2D {
    let h = (x.rank === 2 ? x : tf.reshape(x, [x.shape[0], -1])) as tf.Tensor2D;
    this.layers.forEach((l, i) => {
      h = l.apply(h);
      const act = i < this.layers.length - 1 ? this.opts.activation : (this.opts.outActivation ?? 'linear');
      h = applyActivation(act, h) as tf.Tensor2D;
    });
    return h;
  }

  powerIteration(): void {
    for (const l of this.layers) l.powerIteration();
  }
}

/** The [height, width, channels] of the image rows a convolutional net reads or writes. */
export type ImageShape = [height: number, width: number, channels: number];

function checkImage(image: ImageShape, halvings: number): [number, number] {
  const f = 2 ** halvings;
  const [h, w, c] = image;
  if (![h, w, c].every((d) => Number.isInteger(d) && d > 0) || h % f !== 0 || w % f !== 0)
    throw new Error(
      `image ${h}×${w}×${c}: height and width must be positive multiples of ${f} (2^${halvings})`,
    );
  return [h / f, w / f];
}

/** `ConvCritic`'s shape: one 4×4/2 conv per entry of `channels`, then a dense layer to one output. */
export interface ConvCriticOptions {
  image: ImageShape;
  /** Output channels of each stride-2 conv, e.g. [64, 128] for 28×28 → 14×14×64 → 7×7×128. */
  channels: number[];
  activation: NetActivation;
  /** Spectrally normalise every layer (the convs through their [kh·kw·in, out] reshape). */
  spectral?: boolean;
}

/**
 * A DCGAN-style critic (no batch norm, so the critic of one image does not depend on the others in its
 * batch, which the input-gradient methods need): rows [n, h·w·c] → [n, h, w, c] → (conv 4×4/2 →
 * activation) per `channels` entry → flatten → dense → [n, 1].
 *
 * @example
 * const critic = new ConvCritic({ image: [28, 28, 1], channels: [64, 128], activation: 'leakyRelu' }, 0);
 * critic.apply(tf.zeros([8, 784])); // [8, 1]
 */
export class ConvCritic extends Module implements GanNet {
  readonly convs: DownConvLayer[];
  readonly head: DenseLayer;

  constructor(
    readonly opts: ConvCriticOptions,
    seed: Seed,
  ) {
    super();
    const rng = rngOf(seed, 'rng');
    const [h, w] = checkImage(opts.image, opts.channels.length);
    const ins = [opts.image[2], ...opts.channels];
    this.convs = opts.channels.map((c, i) =>
      this.child(`conv${i}`, new DownConvLayer(ins[i], c, rng, opts.spectral)),
    );
    this.head = this.child('head', new DenseLayer(h * w * ins[ins.length - 1], 1, rng, opts.spectral));
  }

  apply(x: tf.Tensor): tf.Tensor2D {
    let h = tf.reshape(x, [x.shape[0], ...this.opts.image]) as tf.Tensor4D;
    for (const conv of this.convs) h = applyActivation(this.opts.activation, conv.apply(h)) as tf.Tensor4D;
    return this.head.apply(tf.reshape(h, [h.shape[0], -1]));
  }

  powerIteration(): void {
    for (const l of [...this.convs, this.head]) l.powerIteration();
  }
}

/** `ConvGenerator`'s shape: a dense layer to a small map, then one 4×4/2 up-conv per `channels` entry. */
export interface ConvGeneratorOptions {
  zDim: number;
  image: ImageShape;
  /**
   * Channels of the feature maps before each up-conv, e.g. [128, 64] for z → 7×7×128 → 14×14×64 →
   * 28×28×1; the last up-conv writes the image's channels.
   */
  channels: number[];
  /** Activation of the image (tanh for pixels in [−1, 1]). */
  outActivation: NetActivation;
}

/**
 * A DCGAN-style generator without batch norm: z [n, zDim] → dense → ReLU → [n, h/2^L, w/2^L,
 * channels[0]] → (up-conv 4×4/2 → ReLU) … → up-conv to the image → outActivation → rows [n, h·w·c]
 * (L = channels.length).
 *
 * @example
 * const gen = new ConvGenerator({ zDim: 64, image: [28, 28, 1], channels: [128, 64], outActivation: 'tanh' }, 0);
 * gen.apply(tf.randomNormal([8, 64])); // [8, 784], values in (−1, 1)
 */
export class ConvGenerator extends Module implements GanNet {
  readonly stem: DenseLayer;
  readonly ups: UpConvLayer[];

  constructor(
    readonly opts: ConvGeneratorOptions,
    seed: Seed,
  ) {
    super();
    const rng = rngOf(seed, 'rng');
    const [h, w] = checkImage(opts.image, opts.channels.length);
    this.stem = this.child('stem', new DenseLayer(opts.zDim, h * w * opts.channels[0], rng));
    const outs = [...opts.channels.slice(1), opts.image[2]];
    this.ups = outs.map((c, i) => this.child(`up${i}`, new UpConvLayer(opts.channels[i], c, rng)));
  }

  apply(z: tf.Tensor): tf.Tensor2D {
    const { image, channels, outActivation } = this.opts;
    const f = 2 ** channels.length;
    const flat = tf.relu(this.stem.apply(z as tf.Tensor2D));
    let h = tf.reshape(flat, [z.shape[0], image[0] / f, image[1] / f, channels[0]]) as tf.Tensor4D;
    this.ups.forEach((up, i) => {
      const act = i < this.ups.length - 1 ? 'relu' : outActivation;
      h = applyActivation(act, up.apply(h)) as tf.Tensor4D;
    });
    return tf.reshape(h, [z.shape[0], -1]);
  }

  powerIteration(): void {}
}
