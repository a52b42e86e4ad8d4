import { attrInt, attrInts, attrString, type Node } from '@edgetta/onnx';
import type { Emitter } from '../emit.js';
import { SLICE_TO_END, sliceParams, sliceRange } from '../shapes.js';
import type { GradRule } from './types.js';

/** The gradient of a pure re-view: reshape back to the input's shape. */
const reshapeBack: GradRule = ({ node, e, dy: [g] }) => [e.reshapeLike(g!, node.inputs[0]), null];

function axisOf(node: Node, e: Emitter, v: string): number {
  const axis = attrInt(node, 'axis', 0);
  return axis < 0 ? axis + e.needRank(v, `${node.opType} '${node.name}' has a negative axis`) : axis;
}

/** `s - 1` zeros after every element of axis `a` (the adjoint of taking every s-th element); `extent` is the result's length when static. */
function interleave(e: Emitter, up: string, a: number, rank: number, step: number, extent: number | undefined): string {
  if (step === 1) return up;
  const su = e.shape(up);
  const padded = e.op('Pad', [e.unsqueeze(up, [a + 1]), e.i64([...Array(rank + 1).fill(0), ...Array.from({ length: rank + 1 }, (_, i) => (i === a + 1 ? step - 1 : 0))])], { mode: 'constant' });
  const after = su?.slice(a + 1);
  if (after && after.every((d) => typeof d === 'number')) {
    // Leading dims copied (0), the interleaved axis inferred, the static trailing dims given.
    const out = e.op('Reshape', [padded, e.i64([...Array(a).fill(0), -1, ...(after as number[])])]);
    if (extent !== undefined) e.setShape(out, [...su!.slice(0, a), extent, ...after]);
    return out;
  }
  const factor = Array.from({ length: rank }, (_, i) => (i === a ? step : 1));
  return e.op('Reshape', [padded, e.op('Mul', [e.op('Shape', [up]), e.i64(factor)])]);
}

/** Layout ops: the gradient undoes the re-arrangement. */
export const shapeRules: Record<string, GradRule> = {
  Flatten: reshapeBack,
  Reshape: reshapeBack,
  Squeeze: reshapeBack,
  Unsqueeze: reshapeBack,

  Transpose: ({ node, e, dy: [g] }) => {
    const rank = e.needRank(node.inputs[0], `Transpose '${node.name}'`);
    const perm = attrInts(node, 'perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
    const inverse = new Array<number>(rank);
    perm.forEach((p, i) => (inverse[p] = i));
    return [e.op('Transpose', [g!], { perm: inverse })];
  },

  /** Split the gradient at the inputs' extents along the axis. */
  Concat: ({ node, e, dy: [g], needs }) => {
    const axis = axisOf(node, e, node.inputs[0]);
    const sizes = node.inputs.map((x) => e.shape(x)?.[axis]);
    let parts: string[];
    if (e.opset >= 13) {
      const split = sizes.every((d) => typeof d === 'number') ? e.i64(sizes as number[]) : e.op('Concat', node.inputs.map((x) => e.dimOf(x, axis)), { axis: 0 });
      parts = e.node('Split', [g!, split], { axis }, node.inputs.length);
    } else {
      if (!sizes.every((d) => typeof d === 'number')) throw new Error(`autodiff: Concat '${node.name}': before opset 13 its gradient needs static extents along axis ${axis}`);
      parts = e.node('Split', [g!], { axis, split: sizes as number[] }, node.inputs.length);
    }
    parts.forEach((p, i) => e.setShape(p, e.shape(node.inputs[i])));
    return parts.map((p, i) => (needs[i] ? p : null));
  },

  /** Concatenate the outputs' gradients, zeros for outputs no gradient reaches. */
  Split: ({ node, e, dy }) => {
    const axis = axisOf(node, e, node.inputs[0]);
    const parts = node.outputs.map((o, i) => dy[i] ?? e.op('ConstantOfShape', [e.shapeOf(o)], { value: { kind: 'tensor', value: { dims: [1], dataType: 1, rawData: new Uint8Array(4) } } }));
    return [e.op('Concat', parts, { axis }), null];
  },

  /**
   * Slice with constant parameters: pad the gradient back to the input extent; a step s > 1 first
   * interleaves s - 1 zeros after every element, so strided slices such as the option-A shortcut's
   * x[:, :, ::2, ::2] are covered. On the last axis one MatMul with a 0/1 scatter matrix places every
   * element at start + i*step (measured ~15x faster than a per-element pad); on any other axis a Pad
   * of a new unit axis after it moves whole rows (~2x faster than the scatter MatMul from the left).
   */
  Slice: ({ node, e, dy: [g] }) => {
    const [x] = node.inputs;
    const sx = e.shape(x);
    const rank = e.needRank(x, `Slice '${node.name}'`);
    const p = sliceParams(node, e.opset, (i) => (node.inputs[i] ? e.value(node.inputs[i]) : undefined), rank);
    if (!p) throw new Error(`autodiff: Slice '${node.name}' has starts/ends/axes/steps computed at run time; its gradient needs them constant`);
    const begin = Array(rank).fill(0);
    const end = Array(rank).fill(0);
    let up = g!;
    for (let k = 0; k < p.axes.length; k++) {
      const a = p.axes[k];
      const dim = sx?.[a];
      const step = p.steps[k];
      if (step < 0) throw new Error(`autodiff: Slice '${node.name}' has a negative step; its gradient is not implemented`);
      if (typeof dim !== 'number') {
        // A dynamic H or W sliced to its end from a constant start (x[:, :, s::k]): interleave,
        // shift by the start, then crop to the run-time extent.
        if (p.starts[k] < 0 || p.ends[k] < SLICE_TO_END) throw new Error(`autodiff: Slice '${node.name}': on the dynamic axis ${a} its gradient needs a constant start >= 0 and the slice running to the end`);
        up = interleave(e, up, a, rank, step, undefined);
        if (p.starts[k] > 0) up = e.op('Pad', [up, e.i64(Array.from({ length: 2 * rank }, (_, i) => (i === a ? p.starts[k] : 0)))], { mode: 'constant' });
        up = e.op('Slice', [up, e.i64([0]), e.dimOf(x, a), e.i64([a])]);
        e.setShape(up, sx);
        continue;
      }
      const r = sliceRange(dim, p.starts[k], p.ends[k], step);
      if (step > 1 && a === rank - 1) {
        const u = new Float32Array(r.count * dim);
        for (let i = 0; i < r.count; i++) u[i * dim + r.start + i * step] = 1;
        const su = e.shape(up);
        up = e.op('MatMul', [up, e.tensor(`${node.name}/scatter`, u, [r.count, dim])]);
        if (su) e.setShape(up, [...su.slice(0, a), dim]);
        continue;
      }
      if (step > 1) up = interleave(e, up, a, rank, step, r.count * step);
      begin[a] = r.start;
      // Negative when the interleaved zeros run past the input: Pad crops then.
      end[a] = dim - r.start - r.count * step;
    }
    if (begin.every((v) => v === 0) && end.every((v) => v === 0)) {
      e.setShape(up, sx);
      return [up, null, null, null, null];
    }
    const dx = e.op('Pad', [up, e.i64([...begin, ...end])], { mode: 'constant' });
    e.setShape(dx, sx);
    return [dx, null, null, null, null];
  },

  /** Constant-mode Pad: the same Pad with negated amounts crops the gradient back (and re-pads forward crops). */
  Pad: ({ node, e, dy: [g] }) => {
    const mode = attrString(node, 'mode', 'constant');
    if (mode !== 'constant') throw new Error(`autodiff: Pad '${node.name}' in mode '${mode}' has no gradient rule (only mode 'constant')`);
    if (e.opset < 11) return [e.op('Pad', [g!], { mode, pads: (attrInts(node, 'pads') ?? []).map((v) => -v) }), null, null, null];
    const pads = node.inputs[1];
    const known = e.value(pads);
    const axes = e.opset >= 18 && node.inputs[3] ? [node.inputs[3]] : [];
    const padAxes = axes.length ? e.value(axes[0])?.values : known ? known.values.map((_, i) => i).slice(0, known.values.length / 2) : undefined;
    if (known && padAxes && known.values.every((v) => v >= 0)) {
      // A forward pad with zeros (the option-A shortcut's channels): the gradient is a crop, which a
      // Slice copies 2.5-4x faster than a Pad with negative amounts.
      const n = padAxes.length;
      const at = padAxes.map((_, i) => i).filter((i) => known.values[i] > 0 || known.values[i + n] > 0);
      const dx = at.length
        ? e.op('Slice', [g!, e.i64(at.map((i) => known.values[i])), e.i64(at.map((i) => (known.values[i + n] > 0 ? -known.values[i + n] : Number.MAX_SAFE_INTEGER))), e.i64(at.map((i) => padAxes[i]))])
        : g!;
      e.setShape(dx, e.shape(node.inputs[0]));
      return [dx, null, null, null];
    }
    const neg = known ? e.i64(known.values.map((v) => -v)) : e.neg(pads);
    const dx = e.op('Pad', axes.length ? [g!, neg, '', axes[0]] : [g!, neg], { mode });
    e.setShape(dx, e.shape(node.inputs[0]));
    return [dx, null, null, null];
  },
};
