import { f } from '@edgetta/onnx';
import type { LayerContext } from '../context.js';
import { identity, normAxis } from '../layout.js';
import { single, type LayerConverter } from './types.js';

/** The normalized axis of a BatchNormalization config (Keras 3 may write a one-element list). */
function bnAxis(ctx: LayerContext, rank: number): number {
  let axis = ctx.config.axis ?? -1;
  if (Array.isArray(axis)) {
    if (axis.length !== 1) ctx.fail(`normalizes over axes [${axis.join(', ')}]; only one feature axis is supported`);
    axis = axis[0];
  }
  const a = normAxis(Number(axis), rank);
  if (!(a >= 1 && a < rank)) ctx.fail(`axis ${axis} is not a feature axis of a rank-${rank} input`);
  return a;
}

/**
 * Keras BatchNormalization as the standard ONNX node: the feature axis is moved to position 1
 * (free for NHWC maps, which are stored NCHW) so edgetta's compiler finds and adapts it as it does
 * any exported BN. A layer built with center/scale off gets beta = 0 / gamma = 1 constants.
 */
const batchNormalization: LayerConverter = (ctx, inputs) => {
  const x = single(ctx, inputs);
  const rank = x.shape.length;
  const axis = bnAxis(ctx, rank);
  const perm = x.perm[1] === axis ? x.perm : [0, axis, ...identity(rank).filter((k) => k !== 0 && k !== axis)];
  const mean = ctx.weight('moving_mean');
  const channels = mean.shape.reduce((a, b) => a * b, 1);
  if (x.shape[axis] !== null && x.shape[axis] !== channels) ctx.fail(`moving_mean has ${channels} values for ${x.shape[axis]} features on axis ${axis}`);
  const vector = (short: string, fallback: number): string =>
    ctx.optionalWeight(short) ? ctx.param(short, (w) => ({ data: w.data, dims: [w.data.length] })) : ctx.constant(short, new Float32Array(channels).fill(fallback), [channels]);
  // center/scale off means no beta/gamma weight; an on flag with the weight absent is a broken file.
  const gamma = ctx.config.scale === false ? vector('gamma', 1) : ctx.param('gamma', (w) => ({ data: w.data, dims: [w.data.length] }));
  const beta = ctx.config.center === false ? vector('beta', 0) : ctx.param('beta', (w) => ({ data: w.data, dims: [w.data.length] }));
  const y = ctx.b.op(
    'BatchNormalization',
    [ctx.layout(x, perm), gamma, beta, ctx.param('moving_mean', (w) => ({ data: w.data, dims: [channels] })), ctx.param('moving_variance', (w) => ({ data: w.data, dims: [channels] }))],
    { epsilon: f(Number(ctx.config.epsilon ?? 1e-3)) },
    ctx.path.join('/'),
  );
  return { value: y, shape: [...x.shape], perm: [...perm] };
};

export const normLayers: Record<string, LayerConverter> = {
  BatchNormalization: batchNormalization,
};
