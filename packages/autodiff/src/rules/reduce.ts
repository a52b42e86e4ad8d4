import { attrInt, type Node } from '@edgetta/onnx';
import type { Emitter } from '../emit.js';
import { reduceAxes } from '../shapes.js';
import type { GradRule } from './types.js';

interface Reduction {
  /** Normalized reduced axes (every axis when the node reduces all). */
  axes: number[] | 'all';
  /** The output gradient with the reduced axes restored as size 1 (broadcastable against x). */
  g: string;
  /** True when the node is a no-op (empty axes with noop_with_empty_axes). */
  noop: boolean;
}

/** Reads a Reduce* node's axes (attribute or input, per opset) and re-inserts reduced axes into g. */
function reduction(node: Node, e: Emitter, g: string): Reduction {
  const axes = reduceAxes(node, e.opset, node.inputs[1] ? e.value(node.inputs[1]) : undefined);
  if (axes === 'dynamic') throw new Error(`autodiff: ${node.opType} '${node.name}' takes its axes from a value computed at run time; its gradient needs constant axes`);
  const keep = attrInt(node, 'keepdims', 1) === 1;
  if (!axes || axes.length === 0) {
    if (attrInt(node, 'noop_with_empty_axes', 0) === 1) return { axes: 'all', g, noop: true };
    // Reduced to a scalar (or all-ones shape): it broadcasts against x as it is.
    return { axes: 'all', g, noop: false };
  }
  // Unsqueeze takes negative axes relative to its output rank, which is x's rank: no rank needed.
  return { axes, g: keep ? g : e.unsqueeze(g, axes), noop: false };
}

/** Elements reduced per output element, as a float scalar (static when the shapes are). */
function reducedCount(e: Emitter, x: string, y: string): string {
  const sx = e.shape(x);
  const sy = e.shape(y);
  if (sx && sy && [...sx, ...sy].every((d) => typeof d === 'number')) {
    const n = (sx as number[]).reduce((a, b) => a * b, 1) / (sy as number[]).reduce((a, b) => a * b, 1);
    return e.f32(n);
  }
  return e.op('Div', [e.op('Cast', [e.op('Size', [x])], { to: 1 }), e.op('Cast', [e.op('Size', [y])], { to: 1 })]);
}

/** Reductions and the softmax family. */
export const reduceRules: Record<string, GradRule> = {
  ReduceSum: ({ node, e, dy: [g] }) => {
    const r = reduction(node, e, g!);
    return [r.noop ? g : e.expandLike(r.g, node.inputs[0]), null];
  },
  ReduceMean: ({ node, e, dy: [g] }) => {
    const r = reduction(node, e, g!);
    if (r.noop) return [g, null];
    const [x] = node.inputs;
    return [e.expandLike(e.op('Div', [r.g, reducedCount(e, x, node.outputs[0])]), x), null];
  },
  ReduceSumSquare: ({ node, e, dy: [g] }) => {
    const r = reduction(node, e, g!);
    const [x] = node.inputs;
    if (r.noop) return [e.op('Mul', [g!, e.op('Mul', [x, e.f32(2)])]), null];
    return [e.op('Mul', [x, e.op('Mul', [r.g, e.f32(2)])]), null];
  },
  // The gradient of a max is split evenly between tied maxima (PyTorch's amax convention).
  ReduceMax: (args) => extremum(args),
  ReduceMin: (args) => extremum(args),
  ReduceL2: ({ node, e, dy: [g] }) => {
    const r = reduction(node, e, g!);
    const yk = r.axes === 'all' || attrInt(node, 'keepdims', 1) === 1 ? node.outputs[0] : e.unsqueeze(node.outputs[0], r.axes);
    return [e.op('Mul', [node.inputs[0], e.op('Div', [r.g, yk])]), null];
  },
  ReduceLogSumExp: ({ node, e, dy: [g] }) => {
    const r = reduction(node, e, g!);
    const yk = r.axes === 'all' || attrInt(node, 'keepdims', 1) === 1 ? node.outputs[0] : e.unsqueeze(node.outputs[0], r.axes);
    return [e.op('Mul', [r.g, e.op('Exp', [e.op('Sub', [node.inputs[0], yk])])]), null];
  },
  Softmax: ({ node, e, dy: [g] }) => {
    const y = node.outputs[0];
    const axes = softmaxAxes(node, e);
    const dot = e.reduce('ReduceSum', e.op('Mul', [g!, y]), axes, true);
    return [e.op('Mul', [y, e.op('Sub', [g!, dot])])];
  },
  LogSoftmax: ({ node, e, dy: [g] }) => {
    const y = node.outputs[0];
    const axes = softmaxAxes(node, e);
    return [e.op('Sub', [g!, e.op('Mul', [e.op('Exp', [y]), e.reduce('ReduceSum', g!, axes, true)])])];
  },
};

function extremum({ node, e, dy: [g] }: Parameters<GradRule>[0]): (string | null)[] {
  const r = reduction(node, e, g!);
  if (r.noop) return [g, null];
  const [x] = node.inputs;
  const y = node.outputs[0];
  const yk = r.axes === 'all' || attrInt(node, 'keepdims', 1) === 1 ? y : e.unsqueeze(y, r.axes);
  const mask = e.op('Cast', [e.op('Equal', [x, yk])], { to: 1 });
  const ties = r.axes === 'all' ? e.op('ReduceSum', [mask], { keepdims: 1 }) : e.reduce('ReduceSum', mask, r.axes, true);
  return [e.op('Mul', [mask, e.op('Div', [r.g, ties])]), null];
}

/** Softmax normalizes over one axis from opset 13, over the flattened axes [axis, rank) before. */
function softmaxAxes(node: Node, e: Emitter): number[] {
  const axis = attrInt(node, 'axis', e.opset >= 13 ? -1 : 1);
  if (e.opset >= 13) return [axis];
  const rank = e.needRank(node.inputs[0], `${node.opType} '${node.name}' before opset 13 normalizes over axes [axis, rank)`);
  const a = axis < 0 ? axis + rank : axis;
  return Array.from({ length: rank - a }, (_, i) => a + i);
}
