// Over ~350 lines: the tfjs gradient oracle is one table mapping each ONNX op to its tfjs implementation; one entry per op keeps it greppable.
/**
 * A small tfjs interpreter of ONNX graphs: the gradient oracle of the autodiff tests (import it as
 * '@edgetta/testing/tfjs'; it loads the tfjs umbrella package, whose gradients are registered). It evaluates
 * the forward graph (model + loss) with tfjs ops so tfjs's own autodiff differentiates it,
 * independently of the backward rules under test. Float values are tf tensors; integer values
 * (shape arithmetic) are plain numbers on the host. Covers the ops of ResNet-20, the method
 * subgraphs and the small test nets.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { attrFloat, attrInt, attrInts, attrString, tensorDims, tensorToFloat32, tensorToInts, type Model, type Node, type TensorProto } from '@edgetta/onnx';

export { tf };

/**
 * Switches tfjs to its wasm backend (SIMD; ~10x faster than the JS cpu backend on ResNet-sized
 * convolutions). It lacks the depthwise-conv backprop kernels and has a MaxPoolGrad bug for negative
 * windows (stack-notes), so small nets with those ops stay on 'cpu'.
 */
export async function useTfjsBackend(name: 'cpu' | 'wasm'): Promise<void> {
  if (name === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const entry = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths(`${path.dirname(entry)}/`);
  }
  await tf.setBackend(name);
  await tf.ready();
}

type Ints = { ints: number[]; dims: number[] };
type Value = tf.Tensor | Ints;

const isInts = (v: Value): v is Ints => (v as Ints).ints !== undefined;
const FLOAT = new Set([1, 10, 11, 16]);

function fromProto(t: TensorProto): Value {
  const dims = tensorDims(t);
  if (FLOAT.has(t.dataType)) return tf.tensor(tensorToFloat32(t), dims, 'float32');
  if (t.dataType === 9) return tf.tensor(tensorToInts({ ...t, dataType: 6 } as TensorProto).map(Boolean), dims, 'bool');
  return { ints: tensorToInts(t), dims };
}

function f32(v: Value): tf.Tensor {
  return isInts(v) ? tf.tensor(v.ints, v.dims, 'float32') : v;
}

function ints(v: Value | undefined): number[] | undefined {
  if (v === undefined) return undefined;
  return isInts(v) ? v.ints : Array.from(v.dataSync());
}

const size = (d: number[]) => d.reduce((a, b) => a * b, 1);

function reshapeDims(dims: number[], target: number[]): number[] {
  const out = target.map((d, i) => (d === 0 ? dims[i] : d));
  const k = out.indexOf(-1);
  if (k >= 0) out[k] = size(dims) / size(out.filter((_, i) => i !== k));
  return out;
}

function normAxes(axes: number[], rank: number): number[] {
  return axes.map((a) => (a < 0 ? a + rank : a));
}

function nhwc(x: tf.Tensor): tf.Tensor4D {
  return tf.transpose(x, [0, 2, 3, 1]) as tf.Tensor4D;
}
function nchw(x: tf.Tensor): tf.Tensor4D {
  return tf.transpose(x, [0, 3, 1, 2]) as tf.Tensor4D;
}

function pads2d(n: Node): [[number, number], [number, number]] {
  if (attrString(n, 'auto_pad', 'NOTSET') !== 'NOTSET') throw new Error(`tfjs-onnx: auto_pad not supported (${n.name})`);
  const p = attrInts(n, 'pads') ?? [0, 0, 0, 0];
  return [
    [p[0], p[2]],
    [p[1], p[3]],
  ];
}

function conv(n: Node, x: tf.Tensor, w: tf.Tensor, b?: tf.Tensor): tf.Tensor {
  const group = attrInt(n, 'group', 1);
  const strides = (attrInts(n, 'strides') ?? [1, 1]) as [number, number];
  const dil = (attrInts(n, 'dilations') ?? [1, 1]) as [number, number];
  const [ph, pw] = pads2d(n);
  const xp = tf.pad(nhwc(x), [[0, 0], ph, pw, [0, 0]]) as tf.Tensor4D;
  const [cout, cinG, kh, kw] = w.shape;
  const cin = x.shape[1]!;
  let y: tf.Tensor4D;
  if (group === 1) {
    y = tf.conv2d(xp, tf.transpose(w, [2, 3, 1, 0]) as tf.Tensor4D, strides, 'valid', 'NHWC', dil);
  } else if (group === cin && cinG === 1) {
    const mult = cout / cin;
    // ONNX out channel c*mult + m -> tfjs depthwise filter [kh, kw, c, m].
    const filt = tf.transpose(tf.reshape(w, [cin, mult, kh, kw]), [2, 3, 0, 1]) as tf.Tensor4D;
    y = tf.depthwiseConv2d(xp, filt, strides, 'valid', 'NHWC', dil);
  } else {
    const xs = tf.split(xp, group, 3);
    const ws = tf.split(w, group, 0);
    y = tf.concat(xs.map((xi, i) => tf.conv2d(xi as tf.Tensor4D, tf.transpose(ws[i], [2, 3, 1, 0]) as tf.Tensor4D, strides, 'valid', 'NHWC', dil)), 3);
  }
  const out = nchw(y);
  return b ? tf.add(out, tf.reshape(b, [1, cout, 1, 1])) : out;
}

function pool(n: Node, x: tf.Tensor, type: 'max' | 'avg'): tf.Tensor {
  const k = attrInts(n, 'kernel_shape') as [number, number];
  const strides = (attrInts(n, 'strides') ?? [1, 1]) as [number, number];
  const dil = (attrInts(n, 'dilations') ?? [1, 1]) as [number, number];
  if (attrInt(n, 'ceil_mode', 0)) throw new Error('tfjs-onnx: ceil_mode not supported');
  const [ph, pw] = pads2d(n);
  if (type === 'max') {
    const xp = tf.pad(nhwc(x), [[0, 0], ph, pw, [0, 0]], -1e30) as tf.Tensor4D;
    return nchw(tf.pool(xp, k, 'max', 'valid', dil, strides) as tf.Tensor4D);
  }
  // Window sums of zero-padded x over the count of real elements (count_include_pad=0) or k*k.
  const kk = k[0] * k[1];
  const sum = (t: tf.Tensor4D) => tf.mul(tf.pool(tf.pad(t, [[0, 0], ph, pw, [0, 0]]) as tf.Tensor4D, k, 'avg', 'valid', dil, strides), kk);
  const xs = sum(nhwc(x));
  const count = attrInt(n, 'count_include_pad', 0) ? tf.scalar(kk) : sum(tf.onesLike(nhwc(x)));
  return nchw(tf.div(xs, count) as tf.Tensor4D);
}

function reduce(n: Node, opset: number, inputs: (Value | undefined)[], fn: (x: tf.Tensor, axes: number[], keep: boolean) => tf.Tensor): tf.Tensor {
  const x = f32(inputs[0]!);
  const inputSince = n.opType === 'ReduceSum' ? 13 : 18;
  let axes = opset >= inputSince ? ints(inputs[1]) : attrInts(n, 'axes');
  if (!axes || axes.length === 0) axes = x.shape.map((_, i) => i);
  return fn(x, normAxes(axes, x.rank), attrInt(n, 'keepdims', 1) === 1);
}

function bn(n: Node, opset: number, [x, scale, bias, mean, variance]: tf.Tensor[]): tf.Tensor[] {
  const eps = attrFloat(n, 'epsilon', 1e-5);
  const shape = [1, x.shape[1]!, ...x.shape.slice(2).map(() => 1)];
  const r = (t: tf.Tensor) => tf.reshape(t, shape);
  const training = opset >= 14 ? attrInt(n, 'training_mode', 0) === 1 : n.outputs.length > 1;
  if (!training) return [tf.add(tf.mul(tf.div(tf.sub(x, r(mean)), tf.sqrt(tf.add(r(variance), eps))), r(scale)), r(bias))];
  const axes = [0, ...x.shape.slice(2).map((_, i) => i + 2)];
  const m = tf.mean(x, axes);
  const v = tf.mean(tf.square(tf.sub(x, r(m))), axes);
  const y = tf.add(tf.mul(tf.div(tf.sub(x, r(m)), tf.sqrt(tf.add(r(v), eps))), r(scale)), r(bias));
  const mom = attrFloat(n, 'momentum', 0.9);
  return [y, tf.add(tf.mul(mean, mom), tf.mul(m, 1 - mom)), tf.add(tf.mul(variance, mom), tf.mul(v, 1 - mom))];
}

function intBinary(a: Ints, b: Ints, fn: (p: number, q: number) => number): Ints {
  const n = Math.max(a.ints.length, b.ints.length);
  return { ints: Array.from({ length: n }, (_, i) => fn(a.ints[a.ints.length === 1 ? 0 : i], b.ints[b.ints.length === 1 ? 0 : i])), dims: a.ints.length >= b.ints.length ? a.dims : b.dims };
}

function sliceAxis(dim: number, start: number, end: number, step: number): { begin: number; end: number } {
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  if (step > 0) return { begin: clamp(start < 0 ? start + dim : start, 0, dim), end: clamp(end < 0 ? end + dim : end, 0, dim) };
  return { begin: clamp(start < 0 ? start + dim : start, -1, dim - 1), end: clamp(end < 0 ? end + dim : end, -1, dim - 1) };
}

function detach(t: tf.Tensor): tf.Tensor {
  return tf.tensor(t.dataSync(), t.shape, t.dtype);
}

/** Positive-step slicing from slice/pad/reshape, which tfjs can differentiate (StridedSlice it cannot). */
function sliceFloat(x: tf.Tensor, starts: number[], ends: number[], axes: number[], steps: number[]): tf.Tensor {
  let y = x;
  axes.forEach((a, k) => {
    const step = steps[k];
    if (step <= 0) throw new Error('tfjs-onnx: non-positive Slice step on float data');
    const dim = y.shape[a]!;
    const r = sliceAxis(dim, starts[k], ends[k], step);
    const count = Math.max(0, Math.ceil((r.end - r.begin) / step));
    const begin = y.shape.map((_, i) => (i === a ? r.begin : 0));
    const take = Math.min(count * step, dim - r.begin);
    y = tf.slice(y, begin, y.shape.map((d, i) => (i === a ? take : d!)));
    if (take < count * step) y = tf.pad(y, y.shape.map((_, i) => [0, i === a ? count * step - take : 0] as [number, number]));
    if (step > 1) {
      const shape = y.shape as number[];
      const split = [...shape.slice(0, a), count, step, ...shape.slice(a + 1)];
      y = tf.reshape(tf.slice(tf.reshape(y, split), split.map(() => 0), split.map((d, i) => (i === a + 1 ? 1 : d))), [...shape.slice(0, a), count, ...shape.slice(a + 1)]);
    }
  });
  return y;
}

/** Slicing of host integers (shape arithmetic), any step sign, in plain JS. */
function sliceInts(x: Ints, starts: number[], ends: number[], axes: number[], steps: number[]): Ints {
  const picks = x.dims.map((d) => Array.from({ length: d }, (_, i) => i));
  axes.forEach((a, k) => {
    const r = sliceAxis(x.dims[a], starts[k], ends[k], steps[k]);
    const out: number[] = [];
    for (let i = r.begin; steps[k] > 0 ? i < r.end : i > r.end; i += steps[k]) out.push(i);
    picks[a] = out;
  });
  const dims = picks.map((p) => p.length);
  const strides = x.dims.map((_, i) => size(x.dims.slice(i + 1)));
  const out: number[] = [];
  const walk = (axis: number, offset: number) => {
    if (axis === dims.length) return void out.push(x.ints[offset]);
    for (const i of picks[axis]) walk(axis + 1, offset + i * strides[axis]);
  };
  walk(0, 0);
  return { ints: out, dims };
}

type Kernel = (n: Node, inputs: (Value | undefined)[], opset: number) => Value[];

const T = (v: Value | undefined) => f32(v!);
const unary = (fn: (x: tf.Tensor) => tf.Tensor): Kernel => (_n, [x]) => [fn(T(x))];

const kernels: Record<string, Kernel> = {
  Identity: (n, [x]) => [n.name.includes('StopGradient') && !isInts(x!) ? tf.tensor(x!.dataSync(), x!.shape, x!.dtype) : x!],
  Add: (_n, [a, b]) => [isInts(a!) && isInts(b!) ? intBinary(a, b, (p, q) => p + q) : tf.add(T(a), T(b))],
  Sub: (_n, [a, b]) => [isInts(a!) && isInts(b!) ? intBinary(a, b, (p, q) => p - q) : tf.sub(T(a), T(b))],
  Mul: (_n, [a, b]) => [isInts(a!) && isInts(b!) ? intBinary(a, b, (p, q) => p * q) : tf.mul(T(a), T(b))],
  Div: (_n, [a, b]) => [isInts(a!) && isInts(b!) ? intBinary(a, b, (p, q) => Math.trunc(p / q)) : tf.div(T(a), T(b))],
  Pow: (_n, [a, b]) => [tf.pow(T(a), T(b))],
  Neg: unary(tf.neg),
  Sqrt: unary(tf.sqrt),
  Exp: unary(tf.exp),
  Log: unary(tf.log),
  Abs: unary(tf.abs),
  Reciprocal: unary(tf.reciprocal),
  Tanh: unary(tf.tanh),
  Sigmoid: unary(tf.sigmoid),
  Relu: unary(tf.relu),
  LeakyRelu: (n, [x]) => [tf.leakyRelu(T(x), attrFloat(n, 'alpha', 0.01))],
  Softplus: unary(tf.softplus),
  Erf: unary(tf.erf),
  Elu: (n, [x]) => {
    const t = T(x);
    return [tf.where(tf.greater(detach(t), 0), t, tf.mul(tf.sub(tf.exp(t), 1), attrFloat(n, 'alpha', 1)))];
  },
  Dropout: (_n, [x]) => [T(x)],
  Clip: (n, [x, lo, hi], opset) => {
    const min = opset >= 11 ? (lo ? ints(lo)![0] : -3.4e38) : attrFloat(n, 'min', -3.4e38);
    const max = opset >= 11 ? (hi ? ints(hi)![0] : 3.4e38) : attrFloat(n, 'max', 3.4e38);
    return [tf.clipByValue(T(x), min, max)];
  },
  HardSigmoid: (n, [x]) => [tf.clipByValue(tf.add(tf.mul(T(x), attrFloat(n, 'alpha', 0.2)), attrFloat(n, 'beta', 0.5)), 0, 1)],
  HardSwish: (_n, [x]) => [tf.div(tf.mul(T(x), tf.relu6(tf.add(T(x), 3))), 6)],
  Softmax: (n, [x]) => {
    const t = T(x);
    const axis = normAxes([attrInt(n, 'axis', -1)], t.rank)[0];
    if (axis !== t.rank - 1) throw new Error('tfjs-onnx: Softmax on a non-last axis');
    return [tf.softmax(t)];
  },
  LogSoftmax: (n, [x]) => {
    const t = T(x);
    if (normAxes([attrInt(n, 'axis', -1)], t.rank)[0] !== t.rank - 1) throw new Error('tfjs-onnx: LogSoftmax on a non-last axis');
    return [tf.logSoftmax(t)];
  },
  Conv: (n, [x, w, b]) => [conv(n, T(x), T(w), b ? T(b) : undefined)],
  BatchNormalization: (n, inputs, opset) => bn(n, opset, inputs.map((v) => T(v))),
  MaxPool: (n, [x]) => [pool(n, T(x), 'max')],
  AveragePool: (n, [x]) => [pool(n, T(x), 'avg')],
  GlobalAveragePool: (_n, [x]) => [tf.mean(T(x), [2, 3], true)],
  Gemm: (n, [a, b, c]) => {
    let y = tf.mul(tf.matMul(T(a) as tf.Tensor2D, T(b) as tf.Tensor2D, attrInt(n, 'transA', 0) === 1, attrInt(n, 'transB', 0) === 1), attrFloat(n, 'alpha', 1));
    if (c) y = tf.add(y, tf.mul(T(c), attrFloat(n, 'beta', 1)));
    return [y];
  },
  MatMul: (_n, [a, b]) => {
    let x = T(a);
    let y = T(b);
    const ra = x.rank;
    const rb = y.rank;
    if (ra === 1) x = tf.expandDims(x, 0);
    if (rb === 1) y = tf.expandDims(y, 1);
    let out = tf.matMul(x, y);
    if (ra === 1) out = tf.squeeze(out, [out.rank - 2]);
    if (rb === 1) out = tf.squeeze(out, [out.rank - 1]);
    return [out];
  },
  ReduceMean: (n, inputs, opset) => [reduce(n, opset, inputs, (x, a, k) => tf.mean(x, a, k))],
  ReduceSum: (n, inputs, opset) => [reduce(n, opset, inputs, (x, a, k) => tf.sum(x, a, k))],
  ReduceSumSquare: (n, inputs, opset) => [reduce(n, opset, inputs, (x, a, k) => tf.sum(tf.square(x), a, k))],
  ReduceMax: (n, inputs, opset) => [reduce(n, opset, inputs, (x, a, k) => tf.max(x, a, k))],
  ReduceMin: (n, inputs, opset) => [reduce(n, opset, inputs, (x, a, k) => tf.min(x, a, k))],
  ReduceL2: (n, inputs, opset) => [reduce(n, opset, inputs, (x, a, k) => tf.sqrt(tf.sum(tf.square(x), a, k)))],
  ReduceLogSumExp: (n, inputs, opset) => [reduce(n, opset, inputs, (x, a, k) => tf.logSumExp(x, a, k))],
  ReduceProd: (n, [x]) => {
    const v = x as Ints;
    return [{ ints: [v.ints.reduce((p, q) => p * q, 1)], dims: attrInt(n, 'keepdims', 1) ? [1] : [] }];
  },
  Max: (_n, inputs) => [inputs.map((v) => T(v)).reduce((a, b) => tf.maximum(a, b))],
  Min: (_n, inputs) => [inputs.map((v) => T(v)).reduce((a, b) => tf.minimum(a, b))],
  Sum: (_n, inputs) => [inputs.map((v) => T(v)).reduce((a, b) => tf.add(a, b))],
  Mean: (_n, inputs) => [tf.div(inputs.map((v) => T(v)).reduce((a, b) => tf.add(a, b)), inputs.length)],
  // Comparisons carry no gradient: evaluate them on detached copies (tfjs has no gradient for them).
  Less: (_n, [a, b]) => [tf.less(detach(T(a)), detach(T(b)))],
  Greater: (_n, [a, b]) => [tf.greater(detach(T(a)), detach(T(b)))],
  Equal: (_n, [a, b]) => [tf.equal(detach(T(a)), detach(T(b)))],
  Not: (_n, [a]) => [tf.logicalNot(a as tf.Tensor)],
  Where: (_n, [c, a, b]) => {
    const shape = tf.broadcastArgs(tf.tensor1d(T(a).shape, 'int32'), tf.tensor1d(T(b).shape, 'int32')).arraySync() as number[];
    return [tf.where(tf.broadcastTo(c as tf.Tensor, shape), tf.broadcastTo(T(a), shape), tf.broadcastTo(T(b), shape))];
  },
  Cast: (n, [x]) => {
    const to = attrInt(n, 'to', 1);
    if (FLOAT.has(to)) return [isInts(x!) ? f32(x!) : tf.cast(x!, 'float32')];
    if (to === 9) return [tf.cast(T(x), 'bool')];
    return [isInts(x!) ? x! : { ints: Array.from(x!.dataSync(), Math.trunc), dims: [...x!.shape] }];
  },
  Shape: (_n, [x]) => {
    const d = isInts(x!) ? x.dims : (x!.shape as number[]);
    return [{ ints: [...d], dims: [d.length] }];
  },
  Size: (_n, [x]) => [{ ints: [size(isInts(x!) ? x.dims : (x!.shape as number[]))], dims: [] }],
  Gather: (n, [x, idx]) => {
    const i = idx as Ints;
    if (isInts(x!)) return [{ ints: i.ints.map((k) => x.ints[k < 0 ? k + x.ints.length : k]), dims: i.dims }];
    return [tf.gather(x!, tf.tensor(i.ints, i.dims, 'int32'), attrInt(n, 'axis', 0))];
  },
  ConstantOfShape: (n, [s]) => {
    const dims = (s as Ints).ints;
    const a = n.attrs.value;
    const t = a && a.kind === 'tensor' ? fromProto(a.value) : tf.scalar(0);
    if (isInts(t)) return [{ ints: Array(size(dims)).fill(t.ints[0]), dims }];
    return [tf.fill(dims, t.dataSync()[0])];
  },
  Concat: (n, inputs) => {
    if (inputs.every((v) => isInts(v!))) return [{ ints: inputs.flatMap((v) => (v as Ints).ints), dims: [inputs.reduce((a, v) => a + (v as Ints).ints.length, 0)] }];
    const xs = inputs.map((v) => T(v));
    return [tf.concat(xs, normAxes([attrInt(n, 'axis', 0)], xs[0].rank)[0])];
  },
  Split: (n, [x, split], opset) => {
    const t = T(x);
    const axis = normAxes([attrInt(n, 'axis', 0)], t.rank)[0];
    const sizes = opset >= 13 ? ints(split) : attrInts(n, 'split');
    return tf.split(t, sizes ?? n.outputs.length, axis);
  },
  Reshape: (_n, [x, shape]) => {
    const target = ints(shape)!;
    if (isInts(x!)) return [{ ints: x.ints, dims: reshapeDims(x.dims, target) }];
    return [tf.reshape(x!, reshapeDims(x!.shape as number[], target))];
  },
  Flatten: (n, [x]) => {
    const t = T(x);
    const axis = normAxes([attrInt(n, 'axis', 1)], t.rank)[0];
    return [tf.reshape(t, [size(t.shape.slice(0, axis) as number[]), size(t.shape.slice(axis) as number[])])];
  },
  Transpose: (n, [x]) => {
    if (isInts(x!)) {
      if (x.dims.length !== 2) throw new Error('tfjs-onnx: integer Transpose of rank != 2');
      const [r, c] = x.dims;
      return [{ ints: Array.from({ length: r * c }, (_, i) => x.ints[(i % r) * c + Math.floor(i / r)]), dims: [c, r] }];
    }
    return [tf.transpose(x!, attrInts(n, 'perm'))];
  },
  Unsqueeze: (n, [x, axesV], opset) => {
    const axes = opset >= 13 ? ints(axesV)! : attrInts(n, 'axes')!;
    const dims = isInts(x!) ? x.dims : (x!.shape as number[]);
    const rank = dims.length + axes.length;
    const ax = normAxes(axes, rank);
    const out: number[] = [];
    for (let i = 0, k = 0; i < rank; i++) out.push(ax.includes(i) ? 1 : dims[k++]);
    return [isInts(x!) ? { ints: x.ints, dims: out } : tf.reshape(x!, out)];
  },
  Squeeze: (n, [x, axesV], opset) => {
    const axes = opset >= 13 ? ints(axesV) : attrInts(n, 'axes');
    const dims = isInts(x!) ? x.dims : (x!.shape as number[]);
    const ax = axes ? normAxes(axes, dims.length) : dims.flatMap((d, i) => (d === 1 ? [i] : []));
    const out = dims.filter((_, i) => !ax.includes(i));
    return [isInts(x!) ? { ints: x.ints, dims: out } : tf.reshape(x!, out)];
  },
  Expand: (_n, [x, s]) => {
    const t = T(x);
    const target = ints(s)!;
    const r = Math.max(t.rank, target.length);
    const a = [...Array(r - t.rank).fill(1), ...t.shape];
    const b = [...Array(r - target.length).fill(1), ...target];
    return [tf.broadcastTo(t, a.map((d, i) => Math.max(d, b[i])))];
  },
  Slice: (_n, [x, starts, ends, axes, steps]) => {
    const st = ints(starts)!;
    const ax = axes ? ints(axes)! : st.map((_, i) => i);
    const sp = steps ? ints(steps)! : st.map(() => 1);
    if (isInts(x!)) return [sliceInts(x, st, ints(ends)!, normAxes(ax, x.dims.length), sp)];
    return [sliceFloat(x!, st, ints(ends)!, normAxes(ax, x!.rank), sp)];
  },
  Pad: (n, [x, padsV, cv]) => {
    if (attrString(n, 'mode', 'constant') !== 'constant') throw new Error('tfjs-onnx: Pad mode');
    const t = T(x);
    const p = ints(padsV)!;
    const r = t.rank;
    let y = t;
    // Negative pads crop first.
    if (p.some((v) => v < 0)) y = tf.slice(y, p.slice(0, r).map((v) => Math.max(0, -v)), t.shape.map((d, i) => d - Math.max(0, -p[i]) - Math.max(0, -p[i + r])));
    return [tf.pad(y, Array.from({ length: r }, (_, i) => [Math.max(0, p[i]), Math.max(0, p[i + r])] as [number, number]), cv ? ints(cv)![0] : 0)];
  },
};

/** Evaluates `wanted` values of a model for the given float feeds (other inputs from `extra`). */
export function evaluate(model: Model, feeds: Record<string, tf.Tensor>, wanted: readonly string[]): Record<string, tf.Tensor> {
  const g = model.graph;
  const opset = model.opsets.get('') ?? 13;
  const producer = new Map<string, Node>();
  for (const n of g.nodes) for (const o of n.outputs) producer.set(o, n);
  // Only the nodes the wanted values need.
  const need = new Set<Node>();
  const stack = [...wanted];
  while (stack.length) {
    const v = stack.pop()!;
    const n = producer.get(v);
    if (!n || need.has(n)) continue;
    need.add(n);
    stack.push(...n.inputs.filter(Boolean));
  }
  const values = new Map<string, Value>(Object.entries(feeds));
  for (const [name, t] of g.initializers) if (!values.has(name)) values.set(name, fromProto(t));
  for (const n of g.nodes) {
    if (!need.has(n)) continue;
    if (n.opType === 'Constant') {
      const a = n.attrs.value;
      if (a?.kind !== 'tensor') throw new Error(`tfjs-onnx: Constant '${n.name}' without a tensor value`);
      values.set(n.outputs[0], fromProto(a.value));
      continue;
    }
    const k = kernels[n.opType];
    if (!k) throw new Error(`tfjs-onnx: no kernel for ${n.opType} ('${n.name}')`);
    const inputs = n.inputs.map((i) => {
      if (!i) return undefined;
      const v = values.get(i);
      if (v === undefined) throw new Error(`tfjs-onnx: value '${i}' (input of '${n.name}') is missing`);
      return v;
    });
    const outs = k(n, inputs, opset);
    n.outputs.forEach((o, i) => o && outs[i] !== undefined && values.set(o, outs[i]));
  }
  const out: Record<string, tf.Tensor> = {};
  for (const w of wanted) out[w] = f32(values.get(w)!);
  return out;
}

/**
 * Value of `loss` and its gradients with respect to `params` (graph inputs), by tfjs autodiff of
 * the interpreted graph.
 */
export function tfjsGradients(model: Model, feeds: Record<string, Float32Array | { data: Float32Array; dims: number[] }>, loss: string, params: readonly string[]): { loss: number; grads: Record<string, Float32Array> } {
  const dimsOf = (name: string): number[] => {
    const f = feeds[name];
    if (!(f instanceof Float32Array)) return f.dims;
    const info = model.graph.inputs.find((v) => v.name === name);
    return (info?.shape ?? [f.length]).map((d) => (typeof d === 'number' ? d : f.length)) as number[];
  };
  const tensors: Record<string, tf.Tensor> = {};
  for (const [k, v] of Object.entries(feeds)) tensors[k] = tf.tensor(v instanceof Float32Array ? v : v.data, dimsOf(k), 'float32');
  let lossValue = NaN;
  const fn = (...xs: tf.Tensor[]) => {
    const fd = { ...tensors };
    params.forEach((p, i) => (fd[p] = xs[i]));
    const l = evaluate(model, fd, [loss])[loss];
    lossValue = l.dataSync()[0];
    return tf.reshape(l, []) as tf.Scalar;
  };
  const gs = tf.grads(fn)(params.map((p) => tensors[p]));
  const grads: Record<string, Float32Array> = {};
  params.forEach((p, i) => (grads[p] = gs[i].dataSync() as Float32Array));
  return { loss: lossValue, grads };
}

/**
 * Relative L2 error of a compiled pass's gradient outputs (`result[g.name]`) against the oracle's
 * (`oracle[`edgetta.state.<key>`]`), over every gradient tensor; `norm` is the oracle's L2 norm.
 */
export function gradientError(grads: readonly { name: string; key: string }[], result: Record<string, { data: unknown }>, oracle: Record<string, Float32Array>): { rel: number; norm: number } {
  let num = 0;
  let den = 0;
  for (const g of grads) {
    const mine = result[g.name].data as Float32Array;
    const want = oracle[`edgetta.state.${g.key}`];
    for (let i = 0; i < want.length; i++) {
      num += (mine[i] - want[i]) ** 2;
      den += want[i] ** 2;
    }
  }
  return { rel: Math.sqrt(num / den), norm: Math.sqrt(den) };
}
