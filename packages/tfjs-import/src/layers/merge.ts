import type { Dim, KTensor, LayerContext } from '../context.js';
import { identity, normAxis } from '../layout.js';
import type { LayerConverter } from './types.js';

function broadcastShape(shapes: Dim[][]): Dim[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  return Array.from({ length: rank }, (_, i) => {
    let out: Dim = 1;
    for (const s of shapes) {
      const j = i - (rank - s.length);
      const d = j < 0 ? 1 : s[j];
      if (d === null) out = out === 1 ? null : out;
      else if (d !== 1) out = d;
    }
    return out;
  });
}

/**
 * The inputs in one common physical layout: the first input's when all ranks agree (so NCHW maps
 * stay NCHW), else the Keras layout, where numpy broadcasting is what Keras does.
 */
function aligned(ctx: LayerContext, inputs: KTensor[], min = 2): { values: string[]; shape: Dim[]; perm: number[] } {
  if (inputs.length < min) ctx.fail(`expects at least ${min} inputs, was called on ${inputs.length}`);
  const sameRank = inputs.every((t) => t.shape.length === inputs[0].shape.length);
  const perm = sameRank ? inputs[0].perm : identity(Math.max(...inputs.map((t) => t.shape.length)));
  const values = inputs.map((t) => (sameRank ? ctx.layout(t, perm) : ctx.keras(t)));
  return { values, shape: broadcastShape(inputs.map((t) => t.shape)), perm: [...perm] };
}

/** An n-ary elementwise merge as a chain of binary ops, optionally scaled (Average). */
const chain =
  (op: string, post?: (ctx: LayerContext, value: string, n: number) => string): LayerConverter =>
  (ctx, inputs) => {
    const { values, shape, perm } = aligned(ctx, inputs);
    let y = values[0];
    for (const v of values.slice(1)) y = ctx.b.op(op, [y, v], {}, `${ctx.spec.name}/${op}`);
    if (post) y = post(ctx, y, values.length);
    return { value: y, shape, perm };
  };

const subtract: LayerConverter = (ctx, inputs) => {
  if (inputs.length !== 2) ctx.fail(`expects exactly 2 inputs, was called on ${inputs.length}`);
  return chain('Sub')(ctx, inputs) as KTensor;
};

/** Concatenate along the Keras axis (default last), mapped to the physical axis of the common layout. */
const concatenate: LayerConverter = (ctx, inputs) => {
  if (inputs.length < 1) ctx.fail('was called on no inputs');
  const rank = inputs[0].shape.length;
  if (inputs.some((t) => t.shape.length !== rank)) ctx.fail(`inputs of different ranks cannot be concatenated: ${inputs.map((t) => `[${t.shape.map(String).join(', ')}]`).join(', ')}`);
  const axis = normAxis(Number(ctx.config.axis ?? -1), rank);
  const perm = inputs[0].perm;
  const values = inputs.map((t) => ctx.layout(t, perm));
  const shape = [...inputs[0].shape];
  shape[axis] = inputs.some((t) => t.shape[axis] === null) ? null : inputs.reduce((a, t) => a + (t.shape[axis] as number), 0);
  const y = ctx.b.op('Concat', values, { axis: perm.indexOf(axis) }, `${ctx.spec.name}/Concat`);
  return { value: y, shape, perm: [...perm] };
};

export const mergeLayers: Record<string, LayerConverter> = {
  Add: chain('Add'),
  Subtract: subtract,
  Multiply: chain('Mul'),
  Maximum: chain('Max'),
  Minimum: chain('Min'),
  Average: chain('Add', (ctx, y, n) => ctx.b.op('Mul', [y, ctx.b.scalar(1 / n)])),
  Concatenate: concatenate,
};
