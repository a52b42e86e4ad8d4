import { like, type KTensor, type LayerContext } from '../context.js';
import { single, type LayerConverter } from './types.js';

/** Layers that only act in training: the identity at inference. */
const passThrough: LayerConverter = (ctx, inputs) => single(ctx, inputs);

/**
 * A per-feature constant (Keras broadcasts it over the last axis) shaped for the tensor's
 * physical layout; a single value stays a scalar.
 */
export function lastAxisConstant(ctx: LayerContext, t: KTensor, key: string, values: number[]): string {
  if (values.length === 1) return ctx.constant(key, Float32Array.of(values[0]), []);
  const last = t.shape.length - 1;
  const dims = t.perm.slice(1).map((k) => (k === last ? values.length : 1));
  return ctx.constant(key, Float32Array.from(values), dims);
}

function numbers(v: unknown, fallback: number): number[] {
  if (v === undefined || v === null) return [fallback];
  return (Array.isArray(v) ? v.flat(Infinity) : [v]).map(Number);
}

/** Rescaling: x * scale + offset (Keras 3 allows per-channel lists). */
const rescaling: LayerConverter = (ctx, inputs) => {
  const x = single(ctx, inputs);
  const scale = numbers(ctx.config.scale, 1);
  const offset = numbers(ctx.config.offset, 0);
  let y = x.value;
  if (scale.length > 1 || scale[0] !== 1) y = ctx.b.op('Mul', [y, lastAxisConstant(ctx, x, 'scale', scale)]);
  if (offset.length > 1 || offset[0] !== 0) y = ctx.b.op('Add', [y, lastAxisConstant(ctx, x, 'offset', offset)]);
  if (y === x.value) y = ctx.b.op('Identity', [y]);
  return like(x, y);
};

export const coreLayers: Record<string, LayerConverter> = {
  Dropout: passThrough,
  SpatialDropout1D: passThrough,
  SpatialDropout2D: passThrough,
  SpatialDropout3D: passThrough,
  GaussianNoise: passThrough,
  GaussianDropout: passThrough,
  AlphaDropout: passThrough,
  ActivityRegularization: passThrough,
  Identity: passThrough,
  Rescaling: rescaling,
};
