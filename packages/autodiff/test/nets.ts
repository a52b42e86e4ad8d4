/**
 * Small random ONNX nets for the gradient tests, built with GraphBuilder. Parameters are graph
 * inputs (BatchNormalization scales/biases, as the compiler makes them), so every op between the
 * first normalization layer and the loss is on the gradient path; together the nets cover every
 * op that has a gradient rule.
 */
import {
  Rng,
  anchorPenalty,
  argmaxCrossEntropyLoss,
  entropyThreshold,
  meanEntropyLoss,
  reliableEntropyLoss,
  softCrossEntropyLoss,
} from '@edgetta/core';
import { OnnxOps } from '@edgetta/compiler';
import { f, GraphBuilder, type Model } from '@edgetta/onnx';
import { emptyModel } from '@edgetta/testing';

export interface Net {
  name: string;
  model: Model;
  /** Parameter inputs with their values. */
  params: Record<string, Float32Array>;
  /** Other inputs (the batch). */
  inputs: Record<string, { data: Float32Array; dims: number[] }>;
  loss: string;
}

export class NetBuilder {
  readonly model: Model;
  readonly b: GraphBuilder;
  readonly rng: Rng;
  readonly params: Record<string, Float32Array> = {};
  readonly inputs: Record<string, { data: Float32Array; dims: number[] }> = {};

  constructor(seed: number, readonly opset = 15) {
    this.model = emptyModel(opset);
    this.b = new GraphBuilder(this.model, 'n');
    this.rng = new Rng(seed);
  }

  randn(n: number, scale = 1, offset = 0): Float32Array {
    return Float32Array.from({ length: n }, () => offset + scale * this.rng.normal());
  }

  input(name: string, dims: number[], scale = 1): string {
    this.inputs[name] = { data: this.randn(dims.reduce((a, b) => a * b, 1), scale), dims };
    return this.b.input({ name, elemType: 1, shape: ['N', ...dims.slice(1)] });
  }

  param(name: string, data: Float32Array): string {
    this.params[name] = data;
    return this.b.input({ name, elemType: 1, shape: [data.length] });
  }

  weight(dims: number[], scale?: number): string {
    const fanIn = dims.slice(1).reduce((a, b) => a * b, 1);
    return this.b.initializer('w', this.randn(dims.reduce((a, b) => a * b, 1), scale ?? Math.sqrt(2 / fanIn)), dims);
  }

  conv(x: string, cin: number, cout: number, k: number, attrs: { stride?: number; pad?: number; group?: number; dilation?: number; bias?: boolean } = {}): string {
    const { stride = 1, pad = (k - 1) / 2, group = 1, dilation = 1, bias = false } = attrs;
    const w = this.weight([cout, cin / group, k, k]);
    const inputs = bias ? [x, w, this.b.initializer('bias', this.randn(cout, 0.1), [cout])] : [x, w];
    return this.b.op('Conv', inputs, { kernel_shape: [k, k], strides: [stride, stride], pads: [pad, pad, pad, pad], group, dilations: [dilation, dilation] });
  }

  /** BatchNormalization with trainable scale/bias inputs; `train` uses batch statistics (training_mode=1, momentum 0) as the compiler emits. */
  bn(x: string, c: number, tag: string, train = false): string {
    const gamma = this.param(`${tag}.gamma`, this.randn(c, 0.2, 1));
    const beta = this.param(`${tag}.beta`, this.randn(c, 0.2));
    if (train) {
      const r1 = this.b.initializer('running', new Float32Array(c).fill(1.5 + this.rng.random()), [c]);
      const r2 = this.b.initializer('running', new Float32Array(c).fill(2.5 + this.rng.random()), [c]);
      return this.b.node('BatchNormalization', [x, gamma, beta, r1, r2], { epsilon: f(1e-5), momentum: f(0), training_mode: 1 }, 3)[0];
    }
    const mean = this.b.initializer('mean', this.randn(c, 0.2), [c]);
    const variance = this.b.initializer('var', Float32Array.from({ length: c }, () => 0.5 + this.rng.random()), [c]);
    return this.b.op('BatchNormalization', [x, gamma, beta, mean, variance], { epsilon: f(1e-5) });
  }

  /** Mean entropy of `logits` (the Tent loss, built with the ONNX emitter of Ops), or another loss. */
  finish(name: string, logits: string, build: (ops: OnnxOps, logits: string) => string = (ops, l) => meanEntropyLoss(ops, l)): Net {
    const ops = new OnnxOps(this.b, this.opset, 'loss');
    const loss = build(ops, logits);
    this.b.output(logits, 'logits');
    this.b.output(loss, 'loss', []);
    return { name, model: this.model, params: this.params, inputs: this.inputs, loss };
  }
}

const axesInput = (b: NetBuilder, type: string, x: string, axes: number[], keepdims: number) =>
  b.opset >= (type === 'ReduceSum' ? 13 : 18) ? b.b.op(type, [x, b.b.int64(axes)], { keepdims }) : b.b.op(type, [x], { axes, keepdims });

/** Conv (bias, dilation), BN inference, Relu, depthwise strided Conv, BN train, Clip (ReLU6), overlapping MaxPool, 1x1 Conv, HardSwish, GlobalAveragePool, Flatten, Gemm. */
export function cnnNet(seed = 1, opset = 15): Net {
  const n = new NetBuilder(seed, opset);
  const b = n.b;
  const x = n.input('x', [4, 3, 9, 9]);
  let h = n.conv(x, 3, 8, 3, { bias: true, dilation: 2, pad: 2 });
  h = b.op('Relu', [n.bn(h, 8, 'bn0')]);
  h = n.conv(h, 8, 8, 3, { stride: 2, group: 8 });
  h = n.bn(h, 8, 'bn1', true);
  h = b.op('Clip', [h, b.scalar(0), b.scalar(6)]);
  h = b.op('MaxPool', [h], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
  h = n.conv(h, 8, 6, 1);
  h = b.op('HardSwish', [n.bn(h, 6, 'bn2')]);
  h = b.op('Flatten', [b.op('GlobalAveragePool', [h])], { axis: 1 });
  const logits = b.op('Gemm', [h, n.weight([5, 6], 0.8), b.initializer('fc_b', n.randn(5, 0.1), [5])], { transB: 1 });
  return n.finish('cnn', logits);
}

/**
 * Option-A ResNet shortcut and layout ops: strided Slice, channel Pad (pads computed at run time
 * from Shape/Gather/ConstantOfShape/Concat like the exporter's), Add, Concat, Split, Transpose,
 * Reshape, Unsqueeze/Squeeze, AveragePool (count_include_pad 0 with pads), LeakyRelu, Sigmoid,
 * HardSigmoid, MatMul, Softmax/Log, Identity.
 */
export function layoutNet(seed = 2, opset = 15): Net {
  const n = new NetBuilder(seed, opset);
  const b = n.b;
  const x = n.input('x', [3, 4, 8, 8]);
  const a = b.op('LeakyRelu', [n.bn(n.conv(x, 4, 4, 3), 4, 'bn0', true)], { alpha: f(0.1) });
  // Shortcut: x[:, :, ::2, ::2], then pad channels 4 -> 8 (2 each side) with pads from shape arithmetic.
  const s1 = b.op('Slice', [a, b.int64([0]), b.int64([1_000_000]), b.int64([2]), b.int64([2])]);
  const s2 = b.op('Slice', [s1, b.int64([0]), b.int64([1_000_000]), b.int64([3]), b.int64([2])]);
  const rank = b.op('Gather', [b.op('Shape', [b.op('Shape', [s2])]), b.int64([0])], { axis: 0 });
  const zeros = b.op('ConstantOfShape', [b.op('Sub', [b.op('Mul', [rank, b.int64([2])]), b.int64([2])])], { value: { kind: 'tensor', value: { dims: [1], dataType: 7, rawData: new Uint8Array(8) } } });
  const pads = b.op('Concat', [b.int64([0, 2]), b.op('Slice', [zeros, b.int64([0]), b.int64([2]), b.int64([0])]), b.int64([0, 2]), b.op('Slice', [zeros, b.int64([2]), b.int64([4]), b.int64([0])])], { axis: 0 });
  const shortcut = b.op('Pad', [s2, pads], { mode: 'constant' });
  const main = b.op('Sigmoid', [n.bn(n.conv(a, 4, 8, 3, { stride: 2 }), 8, 'bn1')]);
  let h = b.op('Add', [main, shortcut]);
  const [p, q] = b.node('Split', [h, b.int64([3, 5])], { axis: 1 }, 2);
  h = b.op('Concat', [b.op('HardSigmoid', [q], { alpha: f(0.3), beta: f(0.4) }), b.op('Identity', [p])], { axis: 1 });
  h = b.op('AveragePool', [h], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], count_include_pad: 0 });
  h = b.op('Transpose', [h], { perm: [0, 2, 3, 1] });
  h = b.op('Reshape', [h, b.int64([0, -1])]);
  h = opset >= 13 ? b.op('Unsqueeze', [h, b.int64([1])]) : b.op('Unsqueeze', [h], { axes: [1] });
  h = b.op('MatMul', [h, n.weight([32, 6], 0.3)]);
  h = opset >= 13 ? b.op('Squeeze', [h, b.int64([1])]) : b.op('Squeeze', [h], { axes: [1] });
  // Logits through a log-probability detour: log(softmax(h) + 0.1).
  const logits = b.op('Log', [b.op('Add', [b.op('Softmax', [h], { axis: -1 }), b.scalar(0.1)])]);
  return n.finish('layout', logits);
}

/**
 * Elementwise and reduction ops with broadcasting: the reduce-based batch statistics the method
 * subgraphs emit (ReduceMean, ReduceSumSquare, count via Shape/Gather/ReduceProd/Cast, Div, Sub,
 * Relu clamp, BatchNormalization with in-graph mean/var, a StopGradient Identity), then Mul, Div,
 * Sub, Pow, Sqrt, Abs, Exp, Tanh, Reciprocal, Neg, Max, Min, Where, Expand, ReduceSum/ReduceMax,
 * LogSoftmax, Sum, Mean.
 */
export function statsNet(seed = 3, opset = 15): Net {
  const n = new NetBuilder(seed, opset);
  const b = n.b;
  const x = n.input('x', [4, 5, 4, 4]);
  const c0 = n.conv(x, 5, 6, 3);
  const h0 = n.bn(c0, 6, 'bn0');
  // Batch statistics of h0 as OnnxOps.moments emits them without the fast path.
  const mean = axesInput(n, 'ReduceMean', h0, [0, 2, 3], 0);
  const sumSq = axesInput(n, 'ReduceSumSquare', h0, [0, 2, 3], 0);
  const count = b.op('Cast', [b.op('ReduceProd', [b.op('Gather', [b.op('Shape', [h0]), b.int64([0, 2, 3])], { axis: 0 })], { keepdims: 0 })], { to: 1 });
  const variance = b.op('Relu', [b.op('Sub', [b.op('Div', [sumSq, count]), b.op('Mul', [mean, mean])])]);
  const gamma = n.param('bn1.gamma', n.randn(6, 0.2, 1));
  const beta = n.param('bn1.beta', n.randn(6, 0.2));
  let h = b.op('BatchNormalization', [h0, gamma, beta, mean, variance], { epsilon: f(1e-3) });
  // A detached copy scales h without gradient through the scale.
  const detached = b.op('Identity', [axesInput(n, 'ReduceMean', h, [1, 2, 3], 1)], {}, 'sg/StopGradient');
  h = b.op('Mul', [h, b.op('Add', [b.op('Abs', [detached]), b.scalar(1)])]);
  h = b.op('Tanh', [h]);
  const pooled = axesInput(n, 'ReduceSum', h, [2, 3], 0); // [N, 6]
  const sq = b.op('Sqrt', [b.op('Add', [b.op('Mul', [pooled, pooled]), b.scalar(1)])]);
  const ratio = b.op('Div', [pooled, sq]);
  const powd = b.op('Pow', [b.op('Add', [b.op('Exp', [ratio]), b.scalar(0.5)]), b.scalar(1.5)]);
  const mx = b.op('Max', [ratio, b.op('Neg', [b.op('Reciprocal', [b.op('Add', [powd, b.scalar(2)])])])]);
  const mn = b.op('Min', [mx, b.op('Mul', [ratio, b.scalar(0.7)])]);
  const wh = b.op('Where', [b.op('Greater', [ratio, b.scalar(0)]), mn, b.op('Mul', [powd, b.scalar(0.1)])]);
  const bias = n.param('head.bias', n.randn(6, 0.3)); // a broadcast [6] parameter
  const ex = b.op('Expand', [bias, b.int64([4, 6])]);
  const rowMax = axesInput(n, 'ReduceMax', wh, [1], 1);
  const logits = b.op('Sum', [b.op('Sub', [wh, rowMax]), b.op('Mean', [ex, b.op('LogSoftmax', [powd], { axis: 1 })]), b.op('Div', [sq, b.scalar(4)])]);
  return n.finish('stats', logits);
}

/** A smooth tiny net for finite differences: Conv, BN train, Sigmoid, depthwise Conv, BN, Tanh, GlobalAveragePool, Gemm. */
export function smoothNet(seed = 4, opset = 15): Net {
  const n = new NetBuilder(seed, opset);
  const b = n.b;
  const x = n.input('x', [3, 2, 5, 5]);
  let h = b.op('Sigmoid', [n.bn(n.conv(x, 2, 4, 3), 4, 'bn0', true)]);
  h = b.op('Tanh', [n.bn(n.conv(h, 4, 4, 3, { group: 4, stride: 2 }), 4, 'bn1')]);
  h = b.op('Flatten', [b.op('GlobalAveragePool', [h])], { axis: 1 });
  const logits = b.op('Gemm', [h, n.weight([3, 4], 1.5)], { transB: 1 });
  return n.finish('smooth', logits);
}

/**
 * Rank-2 features: BatchNormalization on [N, C] (train mode), Abs, Softplus, Elu, Erf, Cast,
 * Dropout, ReduceMin, ReduceL2, ReduceLogSumExp, Gemm with transA, MatMul with 1-D operands,
 * Sub broadcasting a [C] parameter.
 */
export function miscNet(seed = 5, opset = 15): Net {
  const n = new NetBuilder(seed, opset);
  const b = n.b;
  const x = n.input('x', [4, 6]);
  const h = n.bn(x, 6, 'bn0', true);
  const el = b.op('Elu', [h], { alpha: f(0.5) });
  const sp = b.op('Softplus', [h]);
  const er = b.op('Erf', [h]);
  const d = b.op('Dropout', [b.op('Cast', [b.op('Abs', [h])], { to: 1 })]);
  const r1 = axesInputMisc(n, 'ReduceMin', el, [1], 1);
  const r2 = b.op('Unsqueeze', [axesInputMisc(n, 'ReduceL2', sp, [1], 0), b.int64([1])]);
  const r3 = axesInputMisc(n, 'ReduceLogSumExp', er, [1], 1);
  const g = b.op('Gemm', [b.op('Transpose', [d], { perm: [1, 0] }), n.weight([6, 6], 0.5)], { transA: 1 });
  const m1 = b.op('Unsqueeze', [b.op('MatMul', [h, n.weight([6], 0.5)]), b.int64([1])]);
  const m2 = b.op('MatMul', [b.initializer('u', n.randn(4, 0.3), [4]), el]);
  const shift = n.param('head.shift', n.randn(6, 0.3));
  const logits = b.op('Sub', [b.op('Sum', [g, m1, r1, r2, r3, m2]), shift]);
  return n.finish('misc', logits);
}

function axesInputMisc(n: NetBuilder, type: string, x: string, axes: number[], keepdims: number): string {
  return n.opset >= (type === 'ReduceSum' ? 13 : 18) ? n.b.op(type, [x, n.b.int64(axes)], { keepdims }) : n.b.op(type, [x], { axes, keepdims });
}

/**
 * 32x32 maps: Conv, BN, Relu, Conv, BN train, Relu, Conv, and a RoTTA-style robust BN (inference
 * BN whose mean/variance mix constants with the batch statistics of a train-mode BN, so two rules
 * give gradient contributions to its input), a residual Add, Relu, GlobalAveragePool, Gemm.
 */
export function largeMapNet(seed = 12, opset = 15): Net {
  const n = new NetBuilder(seed, opset);
  const b = n.b;
  const x = n.input('x', [2, 3, 32, 32]);
  const pre = b.op('Relu', [n.bn(n.conv(x, 3, 4, 3), 4, 'pre')]);
  const a = b.op('Relu', [n.bn(n.conv(pre, 4, 4, 3), 4, 'bn0', true)]);
  const c = n.conv(a, 4, 4, 3);
  const r1 = b.initializer('running', new Float32Array(4).fill(1.5), [4]);
  const r2 = b.initializer('running', new Float32Array(4).fill(2.5), [4]);
  const [, bm, bv] = b.node('BatchNormalization', [c, b.scalar(1, [4]), b.scalar(0, [4]), r1, r2], { epsilon: f(0), momentum: f(0), training_mode: 1 }, 3);
  const mix = (stat: string, source: number) => b.op('Add', [b.op('Mul', [stat, b.scalar(0.9)]), b.scalar(0.1 * source)]);
  const gamma = n.param('bn1.gamma', n.randn(4, 0.2, 1));
  const beta = n.param('bn1.beta', n.randn(4, 0.2));
  const robust = b.op('BatchNormalization', [c, gamma, beta, mix(bm, 0.2), mix(bv, 1.3)], { epsilon: f(1e-5) });
  const h = b.op('Relu', [b.op('Add', [robust, a])]);
  const logits = b.op('Gemm', [b.op('Flatten', [b.op('GlobalAveragePool', [h])], { axis: 1 }), n.weight([5, 4], 1.5)], { transB: 1 });
  return n.finish('largeMap', logits);
}

/** Pad with an axes input (opset 18) on channels and width, between a BN + Sigmoid and a pooled Gemm. */
export function padAxesNet(seed = 13): Net {
  const n = new NetBuilder(seed, 18);
  const b = n.b;
  const x = n.input('x', [2, 3, 4, 4]);
  const h = b.op('Sigmoid', [n.bn(x, 3, 'bn0')]);
  const p = b.op('Pad', [h, b.int64([1, 0, 2, 1]), '', b.int64([1, 3])], { mode: 'constant' }); // [N, 6, 4, 5]
  const w = b.initializer('w', n.randn(6 * 4 * 5, 1), [1, 6, 4, 5]);
  const pooled = b.op('Flatten', [b.op('GlobalAveragePool', [b.op('Mul', [p, w])])], { axis: 1 });
  return n.finish('padAxes', b.op('Gemm', [pooled, n.weight([4, 6], 2)], { transB: 1 }));
}

/**
 * No declared input shape: every shape is unknown statically, so the rules take their run-time
 * paths (broadcast reduction from Shape values, Split sizes from Shape/Gather).
 */
export function dynamicNet(seed = 6, opset = 15): Net {
  const n = new NetBuilder(seed, opset);
  const b = n.b;
  n.inputs.x = { data: n.randn(4 * 6), dims: [4, 6] };
  const x = b.input({ name: 'x', elemType: 1, shape: null });
  const scale = n.param('p.scale', n.randn(6, 0.3, 1));
  const shift = n.param('p.shift', n.randn(1, 0.3));
  let h = b.op('Sigmoid', [b.op('Mul', [b.op('Add', [x, shift]), scale])]);
  h = b.op('Concat', [h, b.op('Div', [h, scale])], { axis: 1 });
  const logits = b.op('Sub', [h, b.op('ReduceMean', [h], { axes: [1], keepdims: 1 })]);
  return n.finish('dynamic', logits);
}

/**
 * The method losses on a small CNN (K = 4 classes, so that some samples pass E0 = 0.4 ln 4 and some
 * do not): `eata` = ETA's weighted reliable entropy with the redundancy filter active plus the
 * Fisher anchor penalty; `sar` = reliable entropy intersected with a given mask; `softce` = soft
 * cross-entropy to given targets with per-sample weights; `argmaxce` = EATA's Fisher loss.
 */
export function lossNet(kind: 'eata' | 'sar' | 'softce' | 'argmaxce', seed = 11): Net {
  const n = new NetBuilder(seed);
  const b = n.b;
  const x = n.input('x', [8, 3, 6, 6]);
  let h = b.op('Relu', [n.bn(n.conv(x, 3, 6, 3), 6, 'bn0', true)]);
  h = b.op('Flatten', [b.op('GlobalAveragePool', [n.bn(n.conv(h, 6, 6, 3, { stride: 2 }), 6, 'bn1', true)])], { axis: 1 });
  const logits = b.op('Gemm', [h, n.weight([4, 6], 3)], { transB: 1 });
  const vec = (name: string, dims: number[], data: Float32Array) => {
    n.inputs[name] = { data, dims };
    return b.input({ name, elemType: 1, shape: dims });
  };
  return n.finish(kind, logits, (ops, z) => {
    if (kind === 'eata') {
      const average = vec('average', [4], Float32Array.from([0.1, 0.2, 0.3, 0.4]));
      const active = vec('active', [1], Float32Array.of(1));
      const r = reliableEntropyLoss(ops, z, { e0: entropyThreshold(ops, z, 0.9), weighted: true, redundancy: { average, active, margin: 0.97 } });
      const anchor = (tag: string, p: string) => ({ param: p, anchor: vec(`${tag}.anchor`, [6], n.randn(6, 0.1, 1)), weight: vec(`${tag}.fisher`, [6], n.randn(6, 0.5, 1)) });
      return ops.add(r.loss, anchorPenalty(ops, [anchor('g0', 'bn0.gamma'), anchor('b1', 'bn1.beta')], 0.5));
    }
    if (kind === 'sar') {
      const mask = vec('mask', [8], Float32Array.from([1, 1, 0, 1, 1, 0, 1, 1]));
      return reliableEntropyLoss(ops, z, { e0: entropyThreshold(ops, z, 0.9), mask }).loss;
    }
    if (kind === 'softce') {
      const t = n.randn(32, 1).map(Math.abs);
      for (let r = 0; r < 8; r++) {
        const sum = t.subarray(r * 4, r * 4 + 4).reduce((a, v) => a + v, 0);
        for (let j = 0; j < 4; j++) t[r * 4 + j] /= sum;
      }
      return softCrossEntropyLoss(ops, z, vec('targets', [8, 4], t), vec('weights', [8], n.randn(8, 0.3, 1)));
    }
    return argmaxCrossEntropyLoss(ops, z);
  });
}

/**
 * A net for dynamic H and W (the input is declared [N, 4, 'H', 'W'] by the caller): Conv with
 * dilation and bias, BN, depthwise strided Conv with BN in train mode, the option-A strided-Slice
 * shortcut (x[:, :, ::2, ::2], ends INT64_MAX as torch writes them) added to it, Clip, HardSwish,
 * GAP, Gemm. With odd H and W the strided Conv's gradient must crop, with even ones zero-fill no
 * row it reaches (the static rule's output_padding).
 */
export function spatialNet(size: [number, number] = [8, 10], seed = 6, opset = 15): Net {
  const n = new NetBuilder(seed, opset);
  const b = n.b;
  const x = n.input('x', [3, 4, ...size]);
  let h = b.op('Relu', [n.bn(n.conv(x, 4, 6, 3, { bias: true, dilation: 2, pad: 2 }), 6, 'bn0')]);
  const main = n.bn(n.conv(h, 6, 6, 3, { stride: 2, group: 6 }), 6, 'bn1', true);
  const s1 = b.op('Slice', [h, b.int64([0]), b.int64([Number.MAX_SAFE_INTEGER]), b.int64([2]), b.int64([2])]);
  const short = b.op('Slice', [s1, b.int64([0]), b.int64([Number.MAX_SAFE_INTEGER]), b.int64([3]), b.int64([2])]);
  h = b.op('Clip', [b.op('Add', [main, short]), b.scalar(0), b.scalar(6)]);
  h = b.op('HardSwish', [n.bn(n.conv(h, 6, 5, 1), 5, 'bn2')]);
  h = b.op('Flatten', [b.op('GlobalAveragePool', [h])], { axis: 1 });
  const logits = b.op('Gemm', [h, n.weight([5, 5], 0.8), b.initializer('fc_b', n.randn(5, 0.1), [5])], { transB: 1 });
  return n.finish('spatial', logits);
}
