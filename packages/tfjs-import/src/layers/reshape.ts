import type { Dim, KTensor, LayerContext } from '../context.js';
import { inverse } from '../layout.js';
import { single, type LayerConverter } from './types.js';

/**
 * The value with its elements in Keras (row-major NHWC) order: a Transpose back from NCHW, skipped
 * when only size-1 axes are out of place (e.g. after global pooling with keepdims).
 */
function kerasOrderedValue(ctx: LayerContext, t: KTensor): string {
  const moved = t.perm.filter((k) => t.shape[k] !== 1);
  return moved.every((k, i) => i === 0 || moved[i - 1] < k) ? t.value : ctx.keras(t);
}

function product(dims: Dim[]): Dim {
  return dims.some((d) => d === null) ? null : (dims as number[]).reduce((a, b) => a * b, 1);
}

/** A re-labelling of the Keras axes with no data movement: Keras axis j of the result is axis q[j] of `t`. */
function permuteAxes(t: KTensor, q: readonly number[]): KTensor {
  const qinv = inverse(q);
  return { value: t.value, shape: q.map((k) => t.shape[k]), perm: t.perm.map((k) => qinv[k]) };
}

/** Flatten in Keras order, so a following Dense's weights (trained on NHWC) line up. */
const flatten: LayerConverter = (ctx, inputs) => {
  let x = single(ctx, inputs);
  const r = x.shape.length;
  // Keras' channels_first Flatten moves channels last first, to keep weights valid across formats.
  if (ctx.config.data_format === 'channels_first' && r >= 3) x = permuteAxes(x, [0, ...Array.from({ length: r - 2 }, (_, i) => i + 2), 1]);
  const y = ctx.b.op('Flatten', [kerasOrderedValue(ctx, x)], { axis: 1 }, `${ctx.spec.name}/Flatten`);
  return { value: y, shape: [x.shape[0], product(x.shape.slice(1))], perm: [0, 1] };
};

const reshape: LayerConverter = (ctx, inputs) => {
  const x = single(ctx, inputs);
  const target = (ctx.config.target_shape as number[] | undefined)?.map(Number);
  if (!target) return ctx.fail('has no target_shape');
  const total = product(x.shape.slice(1));
  const known = target.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const shape: Dim[] = [x.shape[0], ...target.map((d) => (d === -1 ? (total === null ? null : total / known) : d))];
  if (total !== null && !target.includes(-1) && known !== total) ctx.fail(`cannot reshape [${x.shape.map(String).join(', ')}] to [${target.join(', ')}]`);
  const y = ctx.b.op('Reshape', [kerasOrderedValue(ctx, x), ctx.b.int64([0, ...target])], {}, `${ctx.spec.name}/Reshape`);
  return { value: y, shape, perm: shape.map((_, i) => i) };
};

/** Permute only relabels axes: the tensor's layout absorbs it and no node is emitted. */
const permute: LayerConverter = (ctx, inputs) => {
  const x = single(ctx, inputs);
  const dims = (ctx.config.dims as number[] | undefined)?.map(Number);
  if (!dims || dims.length !== x.shape.length - 1) return ctx.fail(`dims ${JSON.stringify(ctx.config.dims)} do not permute a rank-${x.shape.length} input`);
  return permuteAxes(x, [0, ...dims]);
};

/** `padding`/`cropping` as [[top, bottom], [left, right]] from an int, a pair, or pairs. */
function pairs(ctx: LayerContext, v: unknown, name: string): [[number, number], [number, number]] {
  if (typeof v === 'number') return [[v, v], [v, v]];
  if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number')) return [[v[0], v[0]], [v[1], v[1]]];
  if (Array.isArray(v) && v.length === 2 && v.every((x) => Array.isArray(x) && x.length === 2)) return v.map((p) => p.map(Number)) as [[number, number], [number, number]];
  ctx.fail(`cannot read ${name} ${JSON.stringify(v)}`);
}

const grow = (d: Dim, by: number): Dim => (d === null ? null : d + by);

const zeroPadding2d: LayerConverter = (ctx, inputs) => {
  const x = ctx.spatial(single(ctx, inputs));
  const [[t, b], [l, r]] = pairs(ctx, ctx.config.padding ?? 1, 'padding');
  const y = ctx.b.op('Pad', [x.value, ctx.b.int64([0, 0, t, l, 0, 0, b, r])], { mode: 'constant' }, `${ctx.spec.name}/Pad`);
  return x.wrap(y, x.channels, [grow(x.sizes[0], t + b), grow(x.sizes[1], l + r)]);
};

const cropping2d: LayerConverter = (ctx, inputs) => {
  const x = ctx.spatial(single(ctx, inputs));
  const [[t, b], [l, r]] = pairs(ctx, ctx.config.cropping ?? 0, 'cropping');
  const end = (n: number) => (n > 0 ? -n : Number.MAX_SAFE_INTEGER);
  const y = ctx.b.op('Slice', [x.value, ctx.b.int64([t, l]), ctx.b.int64([end(b), end(r)]), ctx.b.int64([2, 3])], {}, `${ctx.spec.name}/Slice`);
  return x.wrap(y, x.channels, [grow(x.sizes[0], -t - b), grow(x.sizes[1], -l - r)]);
};

/**
 * UpSampling2D by integer factors. Nearest is exact in any coordinate mode; bilinear follows the
 * writer: tfjs resizes without half-pixel centers, Keras (tf.image.resize) with them.
 */
const upSampling2d: LayerConverter = (ctx, inputs) => {
  const x = ctx.spatial(single(ctx, inputs));
  const size = Array.isArray(ctx.config.size) ? ctx.config.size.map(Number) : [Number(ctx.config.size ?? 2), Number(ctx.config.size ?? 2)];
  const interpolation = String(ctx.config.interpolation ?? 'nearest');
  if (interpolation !== 'nearest' && interpolation !== 'bilinear') ctx.fail(`interpolation '${interpolation}' is not supported (nearest, bilinear)`);
  const scales = ctx.constant('scales', Float32Array.of(1, 1, size[0], size[1]), [4]);
  const attrs: Record<string, string> =
    interpolation === 'nearest'
      ? { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' }
      : { mode: 'linear', coordinate_transformation_mode: ctx.options.kerasVersion.startsWith('tfjs') ? 'asymmetric' : 'half_pixel' };
  const y = ctx.b.op('Resize', [x.value, '', scales], attrs, `${ctx.spec.name}/Resize`);
  return x.wrap(y, x.channels, x.sizes.map((d, i) => (d === null ? null : d * size[i])));
};

export const reshapeLayers: Record<string, LayerConverter> = {
  Flatten: flatten,
  Reshape: reshape,
  Permute: permute,
  ZeroPadding2D: zeroPadding2d,
  Cropping2D: cropping2d,
  UpSampling2D: upSampling2d,
};

