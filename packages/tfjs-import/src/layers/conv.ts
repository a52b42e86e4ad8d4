import { applyActivation } from '../activations.js';
import type { KTensor, LayerContext } from '../context.js';
import { padAttributes, perAxis, windowPadding, type Window } from '../padding.js';
import type { Weight } from '../weights.js';
import { single, type LayerConverter } from './types.js';

function windowOf(ctx: LayerContext, kernel: number[]): Window {
  const c = ctx.config;
  try {
    return { kernel, strides: perAxis(c.strides, 2, 1), dilations: perAxis(c.dilation_rate, 2, 1), padding: String(c.padding ?? 'valid') };
  } catch (e) {
    ctx.fail((e as Error).message);
  }
}

/** ONNX Conv attributes for a window over the input sizes, and the output sizes. */
function convAttrs(ctx: LayerContext, sizes: (number | null)[], w: Window, group = 1) {
  const p = windowPadding(sizes, w, ctx.where);
  return { attrs: { kernel_shape: w.kernel, strides: w.strides, dilations: w.dilations, group, ...padAttributes(p) }, out: p.out };
}

/** TF kernel [kh, kw, in, out] -> ONNX weight [out, in, kh, kw]. */
function convWeight(w: Weight): { data: Float32Array; dims: number[] } {
  const [kh, kw, cin, cout] = w.shape;
  const out = new Float32Array(w.data.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < cin; i++)
        for (let o = 0; o < cout; o++) out[((o * cin + i) * kh + y) * kw + x] = w.data[((y * kw + x) * cin + i) * cout + o];
  return { data: out, dims: [cout, cin, kh, kw] };
}

/** TF depthwise kernel [kh, kw, C, m] -> ONNX grouped weight [C*m, 1, kh, kw] (output channel c*m + j, as TF orders it). */
function depthwiseWeight(w: Weight): { data: Float32Array; dims: number[] } {
  const [kh, kw, c, m] = w.shape;
  const out = new Float32Array(w.data.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let ch = 0; ch < c; ch++)
        for (let j = 0; j < m; j++) out[((ch * m + j) * kh + y) * kw + x] = w.data[((y * kw + x) * c + ch) * m + j];
  return { data: out, dims: [c * m, 1, kh, kw] };
}

function kernelOf(ctx: LayerContext, w: Weight): number[] {
  if (w.shape.length !== 4) ctx.fail(`weight '${w.name}' has shape [${w.shape.join(', ')}], expected a 4-D kernel`);
  return w.shape.slice(0, 2);
}

function finish(ctx: LayerContext, t: KTensor): KTensor {
  return applyActivation(ctx, t, ctx.config.activation);
}

function bias(ctx: LayerContext): string[] {
  return ctx.config.use_bias === false ? [] : [ctx.param('bias')];
}

const conv2d: LayerConverter = (ctx, inputs) => {
  const x = ctx.spatial(single(ctx, inputs));
  const k = ctx.weight('kernel');
  const groups = Number(ctx.config.groups ?? 1);
  if (x.channels !== null && k.shape[2] * groups !== x.channels) ctx.fail(`kernel [${k.shape.join(', ')}] with groups=${groups} does not fit ${x.channels} input channels`);
  const { attrs, out } = convAttrs(ctx, x.sizes, windowOf(ctx, kernelOf(ctx, k)), groups);
  const y = ctx.b.op('Conv', [x.value, ctx.param('kernel', convWeight), ...bias(ctx)], attrs, `${ctx.spec.name}/Conv`);
  return finish(ctx, x.wrap(y, k.shape[3], out));
};

const depthwiseConv2d: LayerConverter = (ctx, inputs) => {
  const x = ctx.spatial(single(ctx, inputs));
  const k = ctx.weight('depthwise_kernel');
  const [, , c, m] = k.shape;
  if (x.channels !== null && c !== x.channels) ctx.fail(`depthwise kernel [${k.shape.join(', ')}] does not fit ${x.channels} input channels`);
  const { attrs, out } = convAttrs(ctx, x.sizes, windowOf(ctx, kernelOf(ctx, k)), c);
  const y = ctx.b.op('Conv', [x.value, ctx.param('depthwise_kernel', depthwiseWeight), ...bias(ctx)], attrs, `${ctx.spec.name}/DepthwiseConv`);
  return finish(ctx, x.wrap(y, c * m, out));
};

/** Depthwise conv (strides, padding, dilation) then a 1x1 pointwise conv with the bias, as TF's separable_conv2d. */
const separableConv2d: LayerConverter = (ctx, inputs) => {
  const x = ctx.spatial(single(ctx, inputs));
  const dk = ctx.weight('depthwise_kernel');
  const pk = ctx.weight('pointwise_kernel');
  const [, , c, m] = dk.shape;
  if (x.channels !== null && c !== x.channels) ctx.fail(`depthwise kernel [${dk.shape.join(', ')}] does not fit ${x.channels} input channels`);
  const { attrs, out } = convAttrs(ctx, x.sizes, windowOf(ctx, kernelOf(ctx, dk)), c);
  const depth = ctx.b.op('Conv', [x.value, ctx.param('depthwise_kernel', depthwiseWeight)], attrs, `${ctx.spec.name}/DepthwiseConv`);
  const point = ctx.b.op('Conv', [depth, ctx.param('pointwise_kernel', convWeight), ...bias(ctx)], { kernel_shape: [1, 1] }, `${ctx.spec.name}/PointwiseConv`);
  return finish(ctx, x.wrap(point, pk.shape[3], out));
};

export const convLayers: Record<string, LayerConverter> = {
  Conv2D: conv2d,
  Convolution2D: conv2d,
  DepthwiseConv2D: depthwiseConv2d,
  SeparableConv2D: separableConv2d,
  SeparableConvolution2D: separableConv2d,
};
