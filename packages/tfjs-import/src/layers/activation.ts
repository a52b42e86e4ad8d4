import { f } from '@edgetta/onnx';
import { applyActivation } from '../activations.js';
import { like, physicalAxis } from '../context.js';
import { normAxis, transposeData } from '../layout.js';
import { single, type LayerConverter } from './types.js';

const LOWEST = -3.4028234663852886e38;

function num(v: unknown, fallback: number): number {
  return v === undefined || v === null ? fallback : Number(v);
}

/**
 * Keras ReLU: max_value above, x from threshold up, negative_slope * (x - threshold) below.
 * The common cases become Relu, Clip (ReLU6) and LeakyRelu, which the gradient rules know.
 */
const relu: LayerConverter = (ctx, inputs) => {
  const x = single(ctx, inputs);
  const c = ctx.config;
  const max = c.max_value === undefined || c.max_value === null ? null : Number(c.max_value);
  const slope = num(c.negative_slope, 0);
  const threshold = num(c.threshold, 0);
  let y: string;
  if (threshold === 0 && slope === 0) {
    y = max === null ? ctx.b.op('Relu', [x.value]) : ctx.b.op('Clip', [x.value, ctx.b.scalar(0), ctx.b.scalar(max)]);
    return like(x, y);
  }
  if (threshold === 0) {
    y = ctx.b.op('LeakyRelu', [x.value], { alpha: f(slope) });
  } else {
    const t = ctx.b.scalar(threshold);
    const below = slope === 0 ? ctx.b.scalar(0) : ctx.b.op('Mul', [ctx.b.op('Sub', [x.value, t]), ctx.b.scalar(slope)]);
    y = ctx.b.op('Where', [ctx.b.op('GreaterOrEqual', [x.value, t]), x.value, below]);
  }
  if (max !== null) y = ctx.b.op('Clip', [y, ctx.b.scalar(LOWEST), ctx.b.scalar(max)]);
  return like(x, y);
};

/** Keras 2 / tfjs call the slope `alpha` (default 0.3); Keras 3 calls it `negative_slope`. */
const leakyRelu: LayerConverter = (ctx, inputs) => {
  const x = single(ctx, inputs);
  return like(x, ctx.b.op('LeakyRelu', [x.value], { alpha: f(num(ctx.config.negative_slope ?? ctx.config.alpha, 0.3)) }));
};

const elu: LayerConverter = (ctx, inputs) => {
  const x = single(ctx, inputs);
  return like(x, ctx.b.op('Elu', [x.value], { alpha: f(num(ctx.config.alpha, 1)) }));
};

const thresholdedRelu: LayerConverter = (ctx, inputs) => {
  const x = single(ctx, inputs);
  return like(x, ctx.b.op('ThresholdedRelu', [x.value], { alpha: f(num(ctx.config.theta, 1)) }));
};

/** Softmax over the Keras axis (default the last: channels, which sit on axis 1 of an NCHW map). */
const softmax: LayerConverter = (ctx, inputs) => {
  const x = single(ctx, inputs);
  const axis = normAxis(num(Array.isArray(ctx.config.axis) ? ctx.config.axis[0] : ctx.config.axis, -1), x.shape.length);
  return like(x, ctx.b.op('Softmax', [x.value], { axis: physicalAxis(x, axis) }));
};

/** PReLU: the learned alpha [..., C] (1 on shared axes) laid out like the input's physical axes. */
const prelu: LayerConverter = (ctx, inputs) => {
  const x = single(ctx, inputs);
  const alpha = ctx.param('alpha', (w) => {
    const dims = w.shape.length === x.shape.length - 1 ? w.shape : (ctx.fail(`alpha has shape [${w.shape.join(', ')}] for a rank-${x.shape.length} input`) as never);
    return transposeData(w.data, dims, x.perm.slice(1).map((k) => k - 1));
  });
  return like(x, ctx.b.op('PRelu', [x.value, alpha]));
};

const activation: LayerConverter = (ctx, inputs) => applyActivation(ctx, single(ctx, inputs), ctx.config.activation);

export const activationLayers: Record<string, LayerConverter> = {
  Activation: activation,
  ReLU: relu,
  LeakyReLU: leakyRelu,
  ELU: elu,
  ThresholdedReLU: thresholdedRelu,
  Softmax: softmax,
  PReLU: prelu,
};
