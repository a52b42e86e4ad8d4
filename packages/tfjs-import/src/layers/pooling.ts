import type { LayerContext } from '../context.js';
import { padAttributes, perAxis, windowPadding } from '../padding.js';
import { single, type LayerConverter } from './types.js';

function poolWindow(ctx: LayerContext) {
  const c = ctx.config;
  try {
    const kernel = perAxis(c.pool_size, 2, 2);
    // Keras: strides default to the pool size (written as null).
    const strides = c.strides === null || c.strides === undefined ? kernel : perAxis(c.strides, 2, 1);
    return { kernel, strides, dilations: [1, 1], padding: String(c.padding ?? 'valid') };
  } catch (e) {
    ctx.fail((e as Error).message);
  }
}

/** Max/average pooling with TF padding. TF's average excludes the padding from the count, as ONNX's count_include_pad=0. */
const pool =
  (op: 'MaxPool' | 'AveragePool'): LayerConverter =>
  (ctx, inputs) => {
    const x = ctx.spatial(single(ctx, inputs));
    const w = poolWindow(ctx);
    const p = windowPadding(x.sizes, w, ctx.where);
    const attrs: Record<string, number[] | string | number> = { kernel_shape: w.kernel, strides: w.strides, ...padAttributes(p, ctx.producer(x.value)?.opType === 'Pad') };
    if (op === 'AveragePool') attrs.count_include_pad = 0;
    return x.wrap(ctx.b.op(op, [x.value], attrs, `${ctx.spec.name}/${op}`), x.channels, p.out);
  };

/** Global pooling to [N, C] (or [N, 1, 1, C] kept as NCHW with keepdims). */
const globalPool =
  (op: 'GlobalAveragePool' | 'GlobalMaxPool'): LayerConverter =>
  (ctx, inputs) => {
    const t = single(ctx, inputs);
    const x = ctx.spatial(t);
    const y = ctx.b.op(op, [x.value], {}, `${ctx.spec.name}/${op}`);
    if (ctx.config.keepdims === true) return x.wrap(y, x.channels, x.sizes.map(() => 1));
    return { value: ctx.b.op('Flatten', [y], { axis: 1 }), shape: [t.shape[0], x.channels], perm: [0, 1] };
  };

/** GlobalAveragePooling1D over the steps of [N, steps, features]. */
const globalAveragePooling1d: LayerConverter = (ctx, inputs) => {
  const x = single(ctx, inputs);
  if (x.shape.length !== 3) ctx.fail(`expects [batch, steps, features], got [${x.shape.map(String).join(', ')}]`);
  const first = ctx.config.data_format === 'channels_first';
  const keep = ctx.config.keepdims === true;
  const axis = first ? 2 : 1;
  const y = ctx.b.op('ReduceMean', [ctx.keras(x)], { axes: [axis], keepdims: keep ? 1 : 0 });
  const shape = keep ? x.shape.map((d, i) => (i === axis ? 1 : d)) : x.shape.filter((_, i) => i !== axis);
  return { value: y, shape, perm: shape.map((_, i) => i) };
};

export const poolingLayers: Record<string, LayerConverter> = {
  MaxPooling2D: pool('MaxPool'),
  MaxPool2D: pool('MaxPool'),
  AveragePooling2D: pool('AveragePool'),
  AvgPool2D: pool('AveragePool'),
  GlobalAveragePooling2D: globalPool('GlobalAveragePool'),
  GlobalAvgPool2D: globalPool('GlobalAveragePool'),
  GlobalMaxPooling2D: globalPool('GlobalMaxPool'),
  GlobalMaxPool2D: globalPool('GlobalMaxPool'),
  GlobalAveragePooling1D: globalAveragePooling1d,
};
