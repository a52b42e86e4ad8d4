import { setWeights, tf } from './helpers.js';

/**
 * Sequential: Rescaling, strided 'same' conv (asymmetric pad), BN eps 1e-3, ReLU max_value,
 * depthwise (multiplier 2), relu6, separable conv, BN without center/scale, LeakyReLU,
 * asymmetric ZeroPadding2D, 'same' max/avg pooling, even-kernel 'same' conv, Flatten, Dropout, Dense.
 * Input [N, 12, 12, 3], output [N, 10].
 */
export function sequentialModel(seed = 1, opts: { dropout?: boolean; affineBn3?: boolean; avgPoolPadding?: 'same' | 'valid' } = {}): tf.Sequential {
  const m = tf.sequential({
    name: 'seq',
    layers: [
      tf.layers.rescaling({ inputShape: [12, 12, 3], scale: 2, offset: -0.5, name: 'rescale' }),
      tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', name: 'conv1' }),
      tf.layers.batchNormalization({ epsilon: 1e-3, name: 'bn1' }),
      tf.layers.reLU({ maxValue: 6, name: 'relu1' }),
      tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', name: 'dw' }),
      tf.layers.batchNormalization({ axis: -1, epsilon: 1e-3, name: 'bn2' }),
      tf.layers.activation({ activation: 'relu6', name: 'act2' }),
      tf.layers.separableConv2d({ filters: 12, kernelSize: 3, padding: 'valid', name: 'sep' }),
      opts.affineBn3 ? tf.layers.batchNormalization({ name: 'bn3' }) : tf.layers.batchNormalization({ center: false, scale: false, name: 'bn3' }),
      tf.layers.leakyReLU({ alpha: 0.1, name: 'leaky' }),
      tf.layers.zeroPadding2d({ padding: [[1, 0], [2, 1]], name: 'pad' }),
      tf.layers.maxPooling2d({ poolSize: 2, strides: 2, padding: 'same', name: 'maxpool' }),
      tf.layers.conv2d({ filters: 6, kernelSize: 2, padding: 'same', activation: 'relu', name: 'conv_even' }),
      tf.layers.averagePooling2d({ poolSize: 2, strides: 1, padding: opts.avgPoolPadding ?? 'same', name: 'avgpool' }),
      tf.layers.flatten({ name: 'flat' }),
      ...(opts.dropout === false ? [] : [tf.layers.dropout({ rate: 0.5, name: 'drop' })]),
      tf.layers.dense({ units: 10, name: 'logits' }),
    ],
  });
  setWeights(m, seed);
  return m;
}

/**
 * Functional: a stem, two branches (depthwise+swish, 1x1 conv + BN axis 3) joined by Add, a sigmoid
 * gate (Multiply), Concatenate with the stem, BN after the concat, GAP, Dense + BN on rank 2, and
 * a second output that is a spatial map (NHWC). Input 'image' [N, 9, 9, 3].
 */
export function functionalModel(seed = 2, opts: { dropout?: boolean } = {}): tf.LayersModel {
  const L = tf.layers;
  const inp = tf.input({ shape: [9, 9, 3], name: 'image' });
  const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) => layer.apply(x) as tf.SymbolicTensor;
  let h = apply(L.conv2d({ filters: 12, kernelSize: 3, strides: 2, padding: 'same', name: 'stem' }), inp);
  h = apply(L.batchNormalization({ epsilon: 1e-3, name: 'stem_bn' }), h);
  h = apply(L.reLU({ maxValue: 6, name: 'stem_relu' }), h);
  let a = apply(L.depthwiseConv2d({ kernelSize: 3, padding: 'same', name: 'branch_dw' }), h);
  a = apply(L.batchNormalization({ epsilon: 1e-3, name: 'branch_dw_bn' }), a);
  a = apply(L.activation({ activation: 'swish', name: 'branch_swish' }), a);
  let b = apply(L.conv2d({ filters: 12, kernelSize: 1, name: 'branch_pw' }), h);
  b = apply(L.batchNormalization({ axis: 3, name: 'branch_pw_bn' }), b);
  const sum = apply(L.add({ name: 'sum' }), [a, b]);
  const gate = apply(L.conv2d({ filters: 12, kernelSize: 1, activation: 'sigmoid', name: 'gate' }), sum);
  const prod = apply(L.multiply({ name: 'gated' }), [sum, gate]);
  const cat = apply(L.concatenate({ axis: -1, name: 'cat' }), [prod, h]);
  let feat = apply(L.batchNormalization({ axis: -1, epsilon: 1e-3, name: 'cat_bn' }), cat);
  if (opts.dropout !== false) feat = apply(L.dropout({ rate: 0.3, name: 'drop' }), feat);
  const pooled = apply(L.globalAveragePooling2d({ name: 'gap' }), feat);
  let d = apply(L.dense({ units: 16, activation: 'relu', name: 'fc1' }), pooled);
  d = apply(L.batchNormalization({ epsilon: 1e-3, name: 'fc1_bn' }), d);
  const logits = apply(L.dense({ units: 5, name: 'logits' }), d);
  const map = apply(L.conv2d({ filters: 2, kernelSize: 3, padding: 'same', name: 'map' }), feat);
  const m = tf.model({ inputs: inp, outputs: [logits, map], name: 'func' });
  setWeights(m, seed);
  return m;
}

/**
 * Shape layers: UpSampling2D (nearest and bilinear), Cropping2D, Permute, Reshape, Maximum,
 * Average, GlobalMaxPooling2D, Softmax output. Input [N, 6, 8, 4].
 */
export function shapeModel(seed = 3): tf.LayersModel {
  const L = tf.layers;
  const inp = tf.input({ shape: [6, 8, 4], name: 'x' });
  const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) => layer.apply(x) as tf.SymbolicTensor;
  let h = apply(L.conv2d({ filters: 6, kernelSize: 3, padding: 'same', name: 'c1' }), inp);
  h = apply(L.batchNormalization({ name: 'bn' }), h);
  const up = apply(L.upSampling2d({ size: [2, 2], name: 'up' }), h); // 12 x 16
  const crop = apply(L.cropping2D({ cropping: [[1, 2], [3, 0]], name: 'crop' }), up); // 9 x 13
  const perm = apply(L.permute({ dims: [2, 1, 3], name: 'perm' }), crop); // 13 x 9 x 6
  const c2 = apply(L.conv2d({ filters: 4, kernelSize: 3, name: 'c2' }), perm); // 11 x 7 x 4
  const r = apply(L.reshape({ targetShape: [77, 4], name: 'rs' }), c2);
  const f = apply(L.flatten({ name: 'flat' }), r);
  const probs = apply(L.dense({ units: 3, activation: 'softmax', name: 'probs' }), f);
  const bil = apply(L.upSampling2d({ size: [2, 3], interpolation: 'bilinear', name: 'bil' }), h); // 12 x 24
  const mx = apply(L.maximum({ name: 'mx' }), [h, apply(L.conv2d({ filters: 6, kernelSize: 1, name: 'c3' }), h)]);
  const av = apply(L.average({ name: 'av' }), [h, mx]);
  const gmp = apply(L.globalMaxPooling2d({ name: 'gmp' }), av);
  const m = tf.model({ inputs: inp, outputs: [probs, bil, gmp], name: 'shapes' });
  setWeights(m, seed);
  return m;
}

/** Activation functions and activation layers on a Dense output, one model output each. Input [N, 10]. */
export const ACTIVATIONS = ['relu', 'relu6', 'elu', 'selu', 'sigmoid', 'hardSigmoid', 'tanh', 'softmax', 'softplus', 'softsign', 'swish', 'mish', 'gelu', 'gelu_new', 'linear'] as const;

export function activationModel(seed = 4): tf.LayersModel {
  const L = tf.layers;
  const inp = tf.input({ shape: [10], name: 'v' });
  const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor) => layer.apply(x) as tf.SymbolicTensor;
  const outs = ACTIVATIONS.map((a) => apply(L.dense({ units: 6, activation: a as any, name: `d_${a}` }), inp));
  const base = apply(L.dense({ units: 6, name: 'base' }), inp);
  outs.push(apply(L.leakyReLU({ alpha: 0.2, name: 'leaky' }), base));
  outs.push(apply(L.elu({ name: 'elu_layer' }), base));
  outs.push(apply(L.thresholdedReLU({ theta: 0.1, name: 'thr' }), base));
  outs.push(apply(L.softmax({ name: 'softmax_layer' }), base));
  outs.push(apply(L.prelu({ name: 'prelu' }), base));
  outs.push(apply(L.reLU({ maxValue: 0.25, name: 'relu_max' }), base));
  const m = tf.model({ inputs: inp, outputs: outs, name: 'acts' });
  setWeights(m, seed);
  return m;
}

/** A Sequential sub-model used as a layer inside a functional model (weights live under the inner model). */
export function nestedModel(seed = 5): tf.LayersModel {
  const L = tf.layers;
  const inner = tf.sequential({
    name: 'backbone',
    layers: [
      L.conv2d({ inputShape: [8, 8, 3], filters: 6, kernelSize: 3, padding: 'same', name: 'b_conv' }),
      L.batchNormalization({ name: 'b_bn' }),
      L.reLU({ name: 'b_relu' }),
    ],
  });
  const inp = tf.input({ shape: [8, 8, 3], name: 'img' });
  const feat = inner.apply(inp) as tf.SymbolicTensor;
  const pooled = L.globalAveragePooling2d({ name: 'gap' }).apply(feat) as tf.SymbolicTensor;
  const out = L.dense({ units: 4, name: 'head' }).apply(pooled) as tf.SymbolicTensor;
  const m = tf.model({ inputs: inp, outputs: out, name: 'outer' });
  setWeights(m, seed);
  return m;
}
