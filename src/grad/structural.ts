/**
 * Gradients tfjs-core 4.22 lacks but double backprop reaches: comparisons and logical ops (they sit on
 * the tape once a gradient builds a mask from its input; their gradient is zero), and
 * the convolution backprop kernels without one (Conv2DBackpropFilter, both depthwise ones: reached
 * when a gradient of a conv net is differentiated again).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GradConfig, NamedAttrMap, Tensor } from '@tensorflow/tfjs-core';

const zeroBinary = ['Equal', 'NotEqual', 'Greater', 'Less', 'LessEqual', 'LogicalAnd', 'LogicalOr'];

function zeroGrad(kernelName: string): GradConfig {
  return {
    kernelName,
    inputsToSave: ['a', 'b'],
    gradFunc: (_dy, saved) => {
      const [a, b] = saved;
      return { a: () => tf.zerosLike(a), b: () => tf.zerosLike(b) };
    },
  };
}

const logicalNot: GradConfig = {
  kernelName: 'LogicalNot',
  inputsToSave: ['x'],
  gradFunc: (_dy, saved) => ({ x: () => tf.zerosLike(saved[0]) }),
};

/**
 * dW = F(x, dy) is bilinear; with upstream gradient G (filter-shaped):
 * ∂⟨G, dW⟩/∂x = Conv2DBackpropInput(dy, G) and ∂⟨G, dW⟩/∂dy = Conv2D(x, G), same strides/padding.
 * Run as kernels (not ops) so that dataFormat and dimRoundingMode carry over unchanged.
 */
const conv2DBackpropFilter: GradConfig = {
  kernelName: 'Conv2DBackpropFilter',
  inputsToSave: ['x', 'dy'],
  gradFunc: (g, saved, attrs) => {
    if (Array.isArray(g)) throw new Error('kexue grad: expected a single upstream gradient');
    const [x, dy] = saved;
    const { strides, pad, dataFormat, dimRoundingMode } = attrs;
    const common = { strides, pad, dataFormat, dimRoundingMode };
    return {
      x: () =>
        tf
          .engine()
          .runKernel('Conv2DBackpropInput', { dy, filter: g }, { ...common, inputShape: x.shape }) as Tensor,
      dy: () => tf.engine().runKernel('Conv2D', { x, filter: g }, { ...common, dilations: 1 }) as Tensor,
    };
  },
};

function kernel(name: string, inputs: Record<string, Tensor>, attrs: NamedAttrMap): Tensor {
  return tf.engine().runKernel(name, inputs, attrs) as Tensor;
}

/** Depthwise attrs shared by the forward kernel and both backprop kernels. */
function depthwiseAttrs(attrs: NamedAttrMap): NamedAttrMap {
  const { strides, pad, dilations, dimRoundingMode } = attrs;
  return { strides, pad, dilations, dimRoundingMode };
}

/** dx = B_in(dy, W), bilinear: ∂⟨G, dx⟩/∂dy = depthwise(G, W), ∂⟨G, dx⟩/∂W = B_filter(G, dy). */
const depthwiseBackpropInput: GradConfig = {
  kernelName: 'DepthwiseConv2dNativeBackpropInput',
  inputsToSave: ['dy', 'filter'],
  gradFunc: (g, saved, attrs) => {
    if (Array.isArray(g)) throw new Error('kexue grad: expected a single upstream gradient');
    const [dy, filter] = saved;
    const a = depthwiseAttrs(attrs);
    return {
      dy: () => kernel('DepthwiseConv2dNative', { x: g, filter }, a),
      filter: () =>
        kernel('DepthwiseConv2dNativeBackpropFilter', { x: g, dy }, { ...a, filterShape: filter.shape }),
    };
  },
};

/** dW = B_filter(x, dy), bilinear: ∂⟨G, dW⟩/∂x = B_in(dy, G), ∂⟨G, dW⟩/∂dy = depthwise(x, G). */
const depthwiseBackpropFilter: GradConfig = {
  kernelName: 'DepthwiseConv2dNativeBackpropFilter',
  inputsToSave: ['x', 'dy'],
  gradFunc: (g, saved, attrs) => {
    if (Array.isArray(g)) throw new Error('kexue grad: expected a single upstream gradient');
    const [x, dy] = saved;
    const a = depthwiseAttrs(attrs);
    return {
      x: () => kernel('DepthwiseConv2dNativeBackpropInput', { dy, filter: g }, { ...a, inputShape: x.shape }),
      dy: () => kernel('DepthwiseConv2dNative', { x, filter: g }, a),
    };
  },
};

export const structuralGrads: readonly GradConfig[] = [
  ...zeroBinary.map(zeroGrad),
  logicalNot,
  conv2DBackpropFilter,
  depthwiseBackpropInput,
  depthwiseBackpropFilter,
];
