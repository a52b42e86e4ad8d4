// Over ~350 lines: one table of per-op shape rules plus the folding of exporter shape arithmetic; splitting the table would scatter one lookup.
import { attrInt, attrInts, tensorDims, tensorToFloat32, tensorToInts, type Dim, type Model, type Node, type TensorProto } from '@edgetta/onnx';

/**
 * Static shape inference and small-integer constant folding, enough for the gradient rules to pick
 * static formulations (a ReduceSum over known axes instead of run-time broadcast arithmetic, a
 * ConvTranspose output_padding, a Slice's padded extent). Dims are numbers, symbolic names (the
 * dynamic batch 'N') or unknown; anything not inferred stays unknown and the rules fall back to
 * run-time shape ops. Exporter shape arithmetic (Shape/Gather/Concat/ConstantOfShape feeding a Pad,
 * as in option-A ResNet shortcuts) is folded so the Pad's output shape is known.
 */
export type Shape = Dim[];

/** A folded constant: small int64 (or float) tensors used as shapes, axes, pads, indices. */
export interface Folded {
  values: number[];
  dims: number[];
  float: boolean;
}

export interface ShapeInfo {
  shapes: Map<string, Shape>;
  values: Map<string, Folded>;
  /** Outputs of Shape nodes whose dims are symbolic: the (symbolic) shape they hold, for Reshape. */
  shapeValues?: Map<string, Shape>;
}

const FLOAT_TYPES = new Set([1, 10, 11, 16]);
/** Folding is for shape arithmetic; larger tensors are left alone. */
const FOLD_LIMIT = 64;

type Ctx = {
  node: Node;
  opset: number;
  shape(i: number): Shape | undefined;
  value(i: number): Folded | undefined;
  /** The shape held by input i when a whole-shape Shape node produced it. */
  shapeValue(i: number): Shape | undefined;
};

const same = (c: Ctx) => [c.shape(0)];

function size(s: number[]): number {
  return s.reduce((a, b) => a * b, 1);
}

function isStatic(s: Shape | undefined): s is number[] {
  return !!s && s.every((d) => typeof d === 'number');
}

/** numpy broadcasting of two shapes; unknown when a pair of dims cannot be decided statically. */
export function broadcastShapes(a: Shape | undefined, b: Shape | undefined): Shape | undefined {
  if (!a || !b) return undefined;
  const r = Math.max(a.length, b.length);
  const pa = [...Array(r - a.length).fill(1), ...a];
  const pb = [...Array(r - b.length).fill(1), ...b];
  const out: Shape = [];
  for (let i = 0; i < r; i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === y) out.push(x);
    else if (x === 1) out.push(y);
    else if (y === 1) out.push(x);
    else if (typeof x === 'number' && typeof y !== 'number') out.push(x);
    else if (typeof y === 'number' && typeof x !== 'number') out.push(y);
    else return undefined;
  }
  return out;
}

function normAxes(axes: number[], rank: number): number[] {
  return axes.map((a) => (a < 0 ? a + rank : a));
}

/** Axes of a Reduce* node: attribute before the opset that made them an input (ReduceSum 13, others 18). */
export function reduceAxes(node: Node, opset: number, axesInput: Folded | undefined): number[] | undefined | 'dynamic' {
  const inputSince = node.opType === 'ReduceSum' ? 13 : 18;
  if (opset < inputSince) return attrInts(node, 'axes');
  if (!node.inputs[1]) return undefined;
  return axesInput ? axesInput.values : 'dynamic';
}

/**
 * A Slice end at or past this is taken to run to the end of a dynamic axis (exporters write
 * INT64_MAX or a large sentinel; dynamic image sizes stay far below it).
 */
export const SLICE_TO_END = 1_000_000;

/** ceil(d / s) of a symbolic dim, canonical: `d` itself for s = 1. */
function ceilDiv(d: string, s: number): string {
  return s === 1 ? d : `ceil(${d}/${s})`;
}

/** floor((d + a) / s) + 1 of a symbolic dim, in the canonical form {@link ceilDiv} and Slice share. */
function floorExpr(d: string, a: number, s: number): string {
  if (a === -1) return ceilDiv(d, s);
  if (s === 1) return `(${d}${a + 1 >= 0 ? '+' : ''}${a + 1})`;
  return `(floor((${d}${a >= 0 ? '+' : ''}${a})/${s})+1)`;
}

function poolShape(c: Ctx, outChannels?: Dim): Shape | undefined {
  const x = c.shape(0);
  if (!x) return undefined;
  const n = c.node;
  const sp = x.length - 2;
  const kernel = attrInts(n, 'kernel_shape') ?? (n.opType === 'Conv' ? (c.shape(1)?.slice(2) as number[] | undefined) : undefined);
  if (!kernel || kernel.some((k) => typeof k !== 'number')) return undefined;
  const strides = attrInts(n, 'strides') ?? Array(sp).fill(1);
  const dil = attrInts(n, 'dilations') ?? Array(sp).fill(1);
  const autoPad = n.attrs.auto_pad?.kind === 'string' ? n.attrs.auto_pad.value : 'NOTSET';
  const pads = attrInts(n, 'pads') ?? Array(2 * sp).fill(0);
  const ceil = attrInt(n, 'ceil_mode', 0) === 1;
  const out: Shape = [x[0], outChannels ?? x[1]];
  for (let i = 0; i < sp; i++) {
    const d = x[i + 2];
    const k = (kernel[i] - 1) * dil[i] + 1;
    if (typeof d === 'string' && !ceil) {
      // A dynamic H or W: the same expression of the symbol, so equal sizes compare equal.
      if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') out.push(ceilDiv(d, strides[i]));
      else if (autoPad === 'VALID') out.push(floorExpr(d, -k, strides[i]));
      else out.push(floorExpr(d, pads[i] + pads[i + sp] - k, strides[i]));
      continue;
    }
    if (typeof d !== 'number') return undefined;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') out.push(Math.ceil(d / strides[i]));
    else if (autoPad === 'VALID') out.push(Math.floor((d - k) / strides[i]) + 1);
    else {
      const span = d + pads[i] + pads[i + sp] - k;
      out.push((ceil ? Math.ceil(span / strides[i]) : Math.floor(span / strides[i])) + 1);
    }
  }
  return out;
}

function reduceShape(c: Ctx): Shape | undefined {
  const x = c.shape(0);
  if (!x) return undefined;
  const axes = reduceAxes(c.node, c.opset, c.value(1));
  if (axes === 'dynamic') return undefined;
  const keep = attrInt(c.node, 'keepdims', 1) === 1;
  const noop = attrInt(c.node, 'noop_with_empty_axes', 0) === 1;
  if (!axes || axes.length === 0) {
    if (noop) return x;
    return keep ? x.map(() => 1) : [];
  }
  const ax = normAxes(axes, x.length);
  return keep ? x.map((d, i) => (ax.includes(i) ? 1 : d)) : x.filter((_, i) => !ax.includes(i));
}

function reshapeShape(x: Shape | undefined, target: number[], allowZero: boolean): Shape | undefined {
  const out: Shape = target.map((d, i) => (d === 0 && !allowZero ? (x ? x[i] : null) : d));
  const minus = out.indexOf(-1);
  if (minus < 0) return out.some((d) => d === null) ? undefined : out;
  if (!x) return undefined;
  // Cancel equal factors (numbers and symbols) between input and known output dims; a product
  // symbol ('N*16', made below) is split back into its factors.
  const rest: Dim[] = x.flatMap((d) => (typeof d === 'string' && d.includes('*') ? d.split('*').map((p) => (/^\d+$/.test(p) ? Number(p) : p)) : [d]));
  for (let i = 0; i < out.length; i++) {
    if (i === minus) continue;
    const d = out[i];
    const j = rest.indexOf(d);
    if (j >= 0) rest.splice(j, 1);
    else if (typeof d === 'number') {
      const num = rest.filter((v): v is number => typeof v === 'number');
      const sym = rest.filter((v) => typeof v !== 'number');
      const total = size(num);
      if (total % d !== 0) return undefined;
      rest.length = 0;
      rest.push(...sym, total / d);
    } else return undefined;
  }
  if (rest.some((d) => typeof d !== 'number')) {
    // Several factors left, some symbolic (N * C of a [N, C, ...] -> [1, -1, ...] view): the rank
    // is still known; the dim becomes the product's own symbol.
    if (rest.length > 1 && rest.includes(null)) return undefined;
    out[minus] = rest.length === 1 ? rest[0] : rest.map(String).join('*');
    return out;
  }
  out[minus] = size(rest as number[]);
  return out;
}

/** Per-op output shapes. */
const shapeFns: Record<string, (c: Ctx) => (Shape | undefined)[]> = {};
for (const op of [
  'Relu', 'LeakyRelu', 'Sigmoid', 'HardSigmoid', 'HardSwish', 'Tanh', 'Exp', 'Log', 'Sqrt', 'Abs', 'Neg', 'Reciprocal',
  'Sign', 'Softmax', 'LogSoftmax', 'Identity', 'Dropout', 'Clip', 'Cast', 'Elu', 'Softplus', 'Erf', 'Floor', 'Ceil', 'Round',
  'Not', 'LRN', 'InstanceNormalization', 'LayerNormalization',
]) {
  shapeFns[op] = same;
}
for (const op of ['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'And', 'Or', 'Mod', 'PRelu']) {
  shapeFns[op] = (c) => [broadcastShapes(c.shape(0), c.shape(1))];
}
for (const op of ['Sum', 'Max', 'Min', 'Mean']) {
  shapeFns[op] = (c) => [c.node.inputs.reduce<Shape | undefined>((acc, _, i) => (i === 0 ? c.shape(0) : broadcastShapes(acc, c.shape(i))), undefined)];
}
for (const op of ['ReduceMean', 'ReduceSum', 'ReduceSumSquare', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL2', 'ReduceL1', 'ReduceLogSumExp']) {
  shapeFns[op] = (c) => [reduceShape(c)];
}
Object.assign(shapeFns, {
  Where: (c: Ctx) => [broadcastShapes(c.shape(0), broadcastShapes(c.shape(1), c.shape(2)))],
  BatchNormalization: (c: Ctx) => {
    const ch = c.shape(1);
    return [c.shape(0), ch, ch];
  },
  Conv: (c: Ctx) => [poolShape(c, c.shape(1)?.[0])],
  MaxPool: (c: Ctx) => {
    const s = poolShape(c);
    return [s, s];
  },
  AveragePool: (c: Ctx) => [poolShape(c)],
  GlobalAveragePool: (c: Ctx) => [c.shape(0)?.map((d, i) => (i < 2 ? d : 1))],
  GlobalMaxPool: (c: Ctx) => [c.shape(0)?.map((d, i) => (i < 2 ? d : 1))],
  Gemm: (c: Ctx) => {
    const a = c.shape(0);
    const b = c.shape(1);
    if (!a || !b) return [undefined];
    return [[attrInt(c.node, 'transA', 0) ? a[1] : a[0], attrInt(c.node, 'transB', 0) ? b[0] : b[1]]];
  },
  MatMul: (c: Ctx) => {
    const a = c.shape(0);
    const b = c.shape(1);
    if (!a || !b) return [undefined];
    // numpy promotion of 1-D operands: [K] x [.., K, N] -> [.., N]; [.., M, K] x [K] -> [.., M].
    if (a.length === 1 && b.length === 1) return [[]];
    if (a.length === 1) return [[...b.slice(0, -2), b[b.length - 1]]];
    if (b.length === 1) return [a.slice(0, -1)];
    const batch = broadcastShapes(a.slice(0, -2), b.slice(0, -2));
    return [batch ? [...batch, a[a.length - 2], b[b.length - 1]] : undefined];
  },
  Flatten: (c: Ctx) => {
    const x = c.shape(0);
    if (!x) return [undefined];
    const axis = normAxes([attrInt(c.node, 'axis', 1)], x.length)[0];
    const prod = (d: Dim[]): Dim => (d.length === 1 ? d[0] : d.every((v) => typeof v === 'number') ? size(d as number[]) : null);
    const a = prod(x.slice(0, axis));
    const b = prod(x.slice(axis));
    return [a === null || b === null ? undefined : [a, b]];
  },
  Reshape: (c: Ctx) => {
    const t = c.value(1);
    // Reshape(y, Shape(x)) takes x's shape, symbolic batch dim included.
    return [t ? reshapeShape(c.shape(0), t.values, attrInt(c.node, 'allowzero', 0) === 1) : c.shapeValue(1)];
  },
  Transpose: (c: Ctx) => {
    const x = c.shape(0);
    if (!x) return [undefined];
    const perm = attrInts(c.node, 'perm') ?? x.map((_, i) => x.length - 1 - i);
    return [perm.map((p) => x[p])];
  },
  Unsqueeze: (c: Ctx) => {
    const x = c.shape(0);
    const axes = c.opset >= 13 ? c.value(1)?.values : attrInts(c.node, 'axes');
    if (!x || !axes) return [undefined];
    const rank = x.length + axes.length;
    const ax = normAxes(axes, rank);
    const out: Shape = [];
    let k = 0;
    for (let i = 0; i < rank; i++) out.push(ax.includes(i) ? 1 : x[k++]);
    return [out];
  },
  Squeeze: (c: Ctx) => {
    const x = c.shape(0);
    if (!x) return [undefined];
    const axes = c.opset >= 13 ? (c.node.inputs[1] ? c.value(1)?.values : []) : (attrInts(c.node, 'axes') ?? []);
    if (!axes) return [undefined];
    const ax = axes.length ? normAxes(axes, x.length) : x.flatMap((d, i) => (d === 1 ? [i] : []));
    return [x.filter((_, i) => !ax.includes(i))];
  },
  Concat: (c: Ctx) => {
    const shapes = c.node.inputs.map((_, i) => c.shape(i));
    if (shapes.some((s) => !s)) return [undefined];
    const first = shapes[0]!;
    const axis = normAxes([attrInt(c.node, 'axis', 0)], first.length)[0];
    let total = 0;
    for (const s of shapes) {
      if (typeof s![axis] !== 'number') return [undefined];
      total += s![axis] as number;
    }
    return [first.map((d, i) => (i === axis ? total : d))];
  },
  Slice: (c: Ctx) => {
    const x = c.shape(0);
    if (!x) return [undefined];
    const p = sliceParams(c.node, c.opset, (i) => c.value(i), x.length);
    if (!p) return [undefined];
    const out = [...x];
    for (let k = 0; k < p.axes.length; k++) {
      const a = p.axes[k];
      const d = x[a];
      // A whole symbolic axis taken every `step` elements: ceil(d / step), as a strided conv writes it.
      if (typeof d === 'string' && p.starts[k] === 0 && p.ends[k] >= SLICE_TO_END && p.steps[k] > 0) {
        out[a] = ceilDiv(d, p.steps[k]);
        continue;
      }
      if (typeof d !== 'number') return [undefined];
      out[a] = sliceRange(d, p.starts[k], p.ends[k], p.steps[k]).count;
    }
    return [out];
  },
  Pad: (c: Ctx) => {
    const x = c.shape(0);
    if (!x) return [undefined];
    const pads = c.opset >= 11 ? c.value(1)?.values : attrInts(c.node, 'pads');
    if (!pads) return [undefined];
    const axes = c.opset >= 18 && c.node.inputs[3] ? c.value(3)?.values : undefined;
    const ax = axes ? normAxes(axes, x.length) : x.map((_, i) => i);
    const out = [...x];
    const n = ax.length;
    for (let k = 0; k < n; k++) {
      const d = x[ax[k]];
      const delta = pads[k] + pads[k + n];
      out[ax[k]] = delta === 0 ? d : typeof d === 'number' ? d + delta : null;
    }
    return [out.some((d) => d === null) ? undefined : out];
  },
  Shape: (c: Ctx) => [c.shape(0) ? [c.shape(0)!.length] : undefined],
  Size: () => [[]],
  ConstantOfShape: (c: Ctx) => [c.value(0)?.values],
  Expand: (c: Ctx) => {
    const t = c.value(1);
    return [t ? broadcastShapes(c.shape(0), t.values.map((v) => v)) : undefined];
  },
  Gather: (c: Ctx) => {
    const x = c.shape(0);
    const idx = c.shape(1);
    if (!x || !idx) return [undefined];
    const axis = normAxes([attrInt(c.node, 'axis', 0)], x.length)[0];
    return [[...x.slice(0, axis), ...idx, ...x.slice(axis + 1)]];
  },
  Split: (c: Ctx) => {
    const x = c.shape(0);
    const n = c.node.outputs.length;
    if (!x) return Array(n).fill(undefined);
    const axis = normAxes([attrInt(c.node, 'axis', 0)], x.length)[0];
    const split = c.opset >= 13 ? (c.node.inputs[1] ? c.value(1)?.values : undefined) : attrInts(c.node, 'split');
    const d = x[axis];
    const parts = split ?? (typeof d === 'number' ? Array(n).fill(d / n) : undefined);
    if (!parts) return Array(n).fill(undefined);
    return parts.map((p) => x.map((v, i) => (i === axis ? p : v)));
  },
  ConvTranspose: () => [undefined],
});

export interface SliceParams {
  starts: number[];
  ends: number[];
  axes: number[];
  steps: number[];
}

/** A Slice node's constant parameters (attributes before opset 10, inputs after), axes normalized. */
export function sliceParams(node: Node, opset: number, value: (i: number) => Folded | undefined, rank: number): SliceParams | undefined {
  let starts: number[] | undefined;
  let ends: number[] | undefined;
  let axes: number[] | undefined;
  let steps: number[] | undefined;
  if (opset < 10) {
    starts = attrInts(node, 'starts');
    ends = attrInts(node, 'ends');
    axes = attrInts(node, 'axes');
  } else {
    starts = value(1)?.values;
    ends = value(2)?.values;
    if (node.inputs[3]) axes = value(3)?.values ?? [NaN];
    if (node.inputs[4]) steps = value(4)?.values ?? [NaN];
  }
  if (!starts || !ends) return undefined;
  axes = normAxes(axes ?? starts.map((_, i) => i), rank);
  steps = steps ?? starts.map(() => 1);
  if ([...axes, ...steps].some((v) => !Number.isFinite(v))) return undefined;
  return { starts, ends, axes, steps };
}

/** numpy-style clamping of one sliced axis: effective start and element count. */
export function sliceRange(dim: number, start: number, end: number, step: number): { start: number; count: number } {
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  if (step > 0) {
    const s = clamp(start < 0 ? start + dim : start, 0, dim);
    const e = clamp(end < 0 ? end + dim : end, 0, dim);
    return { start: s, count: Math.max(0, Math.ceil((e - s) / step)) };
  }
  const s = clamp(start < 0 ? start + dim : start, -1, dim - 1);
  const e = clamp(end < 0 ? end + dim : end, -1, dim - 1);
  return { start: s, count: Math.max(0, Math.ceil((e - s) / step)) };
}

/** Constant folding of shape arithmetic on small tensors. */
const foldFns: Record<string, (c: Ctx, shapes: Map<string, Shape>) => Folded | undefined> = {
  Shape: (c) => {
    const s = c.shape(0);
    if (!isStatic(s)) return undefined;
    let v = s;
    const start = attrInt(c.node, 'start', 0);
    const endA = c.node.attrs.end;
    const end = endA && endA.kind === 'int' ? endA.value : s.length;
    v = s.slice(start < 0 ? start + s.length : start, end < 0 ? end + s.length : end);
    return { values: v, dims: [v.length], float: false };
  },
  Gather: (c) => {
    const idx = c.value(1);
    // Static entries of a shape that has symbolic ones (the channels of [N, C, H, W]).
    const held = c.shapeValue(0);
    if (!c.value(0) && held && idx) {
      const picked = idx.values.map((i) => held[i < 0 ? i + held.length : i]);
      return picked.every((d) => typeof d === 'number') ? { values: picked as number[], dims: idx.dims, float: false } : undefined;
    }
    const x = c.value(0);
    if (!x || !idx || x.dims.length !== 1) return undefined;
    const values = idx.values.map((i) => x.values[i < 0 ? i + x.values.length : i]);
    return { values, dims: idx.dims, float: x.float };
  },
  Cast: (c) => {
    const x = c.value(0);
    if (!x) return undefined;
    const float = FLOAT_TYPES.has(attrInt(c.node, 'to', 1));
    return { values: float ? x.values : x.values.map(Math.trunc), dims: x.dims, float };
  },
  ConstantOfShape: (c) => {
    const s = c.value(0);
    if (!s || size(s.values) > FOLD_LIMIT) return undefined;
    const t = c.node.attrs.value;
    let v = 0;
    let float = true;
    if (t && t.kind === 'tensor') {
      float = FLOAT_TYPES.has(t.value.dataType);
      v = (float ? Array.from(tensorToFloat32(t.value)) : tensorToInts(t.value))[0] ?? 0;
    }
    return { values: Array(size(s.values)).fill(v), dims: s.values, float };
  },
  Concat: (c) => {
    const parts = c.node.inputs.map((_, i) => c.value(i));
    if (parts.some((p) => !p || p.dims.length !== 1)) return undefined;
    const values = parts.flatMap((p) => p!.values);
    return { values, dims: [values.length], float: parts[0]!.float };
  },
  Reshape: (c) => {
    const x = c.value(0);
    const t = c.value(1);
    if (!x || !t) return undefined;
    const dims = reshapeShape(x.dims, t.values, false);
    return isStatic(dims) ? { values: x.values, dims, float: x.float } : undefined;
  },
  Unsqueeze: (c) => {
    const x = c.value(0);
    const s = shapeFns.Unsqueeze(c)[0];
    return x && isStatic(s) ? { values: x.values, dims: s, float: x.float } : undefined;
  },
  Squeeze: (c) => {
    const x = c.value(0);
    const s = shapeFns.Squeeze(c)[0];
    return x && isStatic(s) ? { values: x.values, dims: s, float: x.float } : undefined;
  },
  Transpose: (c) => {
    const x = c.value(0);
    if (!x) return undefined;
    if (x.dims.length !== 2) return x.dims.length <= 1 ? x : undefined;
    const [r, k] = x.dims;
    const values: number[] = [];
    for (let j = 0; j < k; j++) for (let i = 0; i < r; i++) values.push(x.values[i * k + j]);
    return { values, dims: [k, r], float: x.float };
  },
  Slice: (c) => {
    const x = c.value(0);
    if (!x) return undefined;
    const rank = x.dims.length;
    const p = sliceParams(c.node, c.opset, (i) => c.value(i), rank);
    if (!p) return undefined;
    // Kept positions per axis, then a gather through all axes (row-major).
    const keep = x.dims.map((d) => Array.from({ length: d }, (_, i) => i));
    p.axes.forEach((a, k) => {
      const r = sliceRange(x.dims[a], p.starts[k], p.ends[k], p.steps[k]);
      keep[a] = Array.from({ length: r.count }, (_, i) => r.start + i * p.steps[k]);
    });
    const dims = keep.map((k) => k.length);
    const strides = x.dims.map((_, i) => x.dims.slice(i + 1).reduce((a, b) => a * b, 1));
    const values: number[] = [];
    const idx = new Array<number>(rank).fill(0);
    for (let n = 0; n < size(dims); n++) {
      let flat = 0;
      for (let d = 0; d < rank; d++) flat += keep[d][idx[d]] * strides[d];
      values.push(x.values[flat]);
      for (let d = rank - 1; d >= 0; d--) {
        if (++idx[d] < dims[d]) break;
        idx[d] = 0;
      }
    }
    return { values, dims, float: x.float };
  },
  ReduceProd: (c) => {
    const x = c.value(0);
    if (!x || x.dims.length !== 1) return undefined;
    const keep = attrInt(c.node, 'keepdims', 1) === 1;
    return { values: [x.values.reduce((a, b) => a * b, 1)], dims: keep ? [1] : [], float: x.float };
  },
};
const binary: Record<string, (a: number, b: number, float: boolean) => number> = {
  Add: (a, b) => a + b,
  Sub: (a, b) => a - b,
  Mul: (a, b) => a * b,
  Div: (a, b, float) => (float ? a / b : Math.trunc(a / b)),
  Max: (a, b) => Math.max(a, b),
  Min: (a, b) => Math.min(a, b),
};
for (const [op, fn] of Object.entries(binary)) {
  foldFns[op] = (c) => {
    const a = c.value(0);
    const b = c.value(1);
    if (!a || !b || c.node.inputs.length !== 2) return undefined;
    const dims = broadcastShapes(a.dims, b.dims);
    if (!isStatic(dims)) return undefined;
    if (a.values.length !== 1 && b.values.length !== 1 && a.values.length !== b.values.length) return undefined;
    const n = Math.max(a.values.length, b.values.length);
    const values = Array.from({ length: n }, (_, i) => fn(a.values[a.values.length === 1 ? 0 : i], b.values[b.values.length === 1 ? 0 : i], a.float));
    return { values, dims, float: a.float };
  };
}

function foldTensor(t: TensorProto): Folded | undefined {
  const dims = tensorDims(t);
  if (size(dims) > FOLD_LIMIT) return undefined;
  const float = FLOAT_TYPES.has(t.dataType);
  try {
    return { values: float ? Array.from(tensorToFloat32(t)) : tensorToInts(t), dims, float };
  } catch {
    return undefined;
  }
}

/** The default-domain opset of a model. */
export function defaultOpset(model: Model): number {
  return model.opsets.get('') ?? model.opsets.get('ai.onnx') ?? 13;
}

/**
 * Infers static shapes (and folds small integer constants) through a graph in topological order,
 * starting from the declared graph input shapes, initializers, Constant nodes and value_info.
 */
export function inferShapes(model: Model): ShapeInfo {
  const g = model.graph;
  const opset = defaultOpset(model);
  const shapes = new Map<string, Shape>();
  const values = new Map<string, Folded>();
  for (const v of g.inputs) if (v.shape && v.shape.every((d) => d !== null)) shapes.set(v.name, v.shape);
  for (const [name, t] of g.initializers) {
    shapes.set(name, tensorDims(t));
    const f = foldTensor(t);
    if (f) values.set(name, f);
  }
  for (const vi of g.valueInfo) {
    const dims = vi.type?.tensorType?.shape?.dim;
    if (!dims) continue;
    const s = dims.map((d): Dim => (d.dimParam ? d.dimParam : d.dimValue !== undefined && d.dimValue !== null ? Number(d.dimValue) : null));
    if (s.every((d) => d !== null)) shapes.set(vi.name, s);
  }
  const info = { shapes, values };
  for (const node of g.nodes) inferNode(node, info, opset);
  return { shapes, values };
}

/** Infers one node's output shapes (and folds it) into `info`; used again for emitted backward nodes. */
export function inferNode(node: Node, info: ShapeInfo, opset: number): void {
  const { shapes, values } = info;
  if (node.opType === 'Constant') {
    const v = node.attrs.value;
    if (v && v.kind === 'tensor') {
      shapes.set(node.outputs[0], tensorDims(v.value));
      const f = foldTensor(v.value);
      if (f) values.set(node.outputs[0], f);
    }
    return;
  }
  const c: Ctx = {
    node,
    opset,
    shape: (i) => (node.inputs[i] ? shapes.get(node.inputs[i]) : undefined),
    value: (i) => (node.inputs[i] ? values.get(node.inputs[i]) : undefined),
    shapeValue: (i) => (node.inputs[i] ? info.shapeValues?.get(node.inputs[i]) : undefined),
  };
  if (node.opType === 'Shape' && node.attrs.start === undefined && node.attrs.end === undefined) {
    const x = c.shape(0);
    if (x) (info.shapeValues ??= new Map()).set(node.outputs[0], x);
  }
  const fn = shapeFns[node.opType];
  const out = fn ? fn(c) : [];
  node.outputs.forEach((o, i) => {
    if (o && out[i] && !shapes.has(o)) shapes.set(o, out[i]!);
  });
  const fold = foldFns[node.opType]?.(c, shapes);
  if (fold && node.outputs[0]) {
    values.set(node.outputs[0], fold);
    shapes.set(node.outputs[0], fold.dims);
  }
}
