import { applyActivation } from '../activations.js';
import type { KTensor } from '../context.js';
import { single, type LayerConverter } from './types.js';

/**
 * Dense: Gemm on [N, features]; on higher ranks Keras contracts the last axis, so the input is
 * put in its Keras layout first and multiplied with MatMul.
 */
const dense: LayerConverter = (ctx, inputs) => {
  const x = single(ctx, inputs);
  const k = ctx.weight('kernel');
  if (k.shape.length !== 2) ctx.fail(`kernel has shape [${k.shape.join(', ')}], expected [in, out]`);
  const [fin, fout] = k.shape;
  const last = x.shape[x.shape.length - 1];
  if (last !== null && last !== fin) ctx.fail(`kernel [${fin}, ${fout}] does not fit ${last} input features (shape [${x.shape.map(String).join(', ')}])`);
  const w = ctx.param('kernel');
  const b = ctx.config.use_bias === false ? undefined : ctx.param('bias');
  const xv = ctx.keras(x);
  let y: string;
  if (x.shape.length === 2) {
    y = ctx.b.op('Gemm', b ? [xv, w, b] : [xv, w], {}, `${ctx.spec.name}/Gemm`);
  } else {
    y = ctx.b.op('MatMul', [xv, w], {}, `${ctx.spec.name}/MatMul`);
    if (b) y = ctx.b.op('Add', [y, b]);
  }
  const out: KTensor = { value: y, shape: [...x.shape.slice(0, -1), fout], perm: x.shape.map((_, i) => i) };
  return applyActivation(ctx, out, ctx.config.activation);
};

export const denseLayers: Record<string, LayerConverter> = { Dense: dense };
