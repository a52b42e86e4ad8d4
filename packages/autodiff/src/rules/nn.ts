import { attrFloat, attrInt, attrInts, attrString, f, type Node } from '@edgetta/onnx';
import type { Emitter } from '../emit.js';
import type { GradRule } from './types.js';

/** Window geometry of a Conv/pool node, with auto_pad resolved to explicit pads. */
interface Window {
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** [begin..., end...] */
  pads: number[];
}

function windowOf(node: Node, e: Emitter, kernel: number[]): Window {
  const sp = kernel.length;
  const strides = attrInts(node, 'strides') ?? Array(sp).fill(1);
  const dilations = attrInts(node, 'dilations') ?? Array(sp).fill(1);
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  let pads = attrInts(node, 'pads') ?? Array(2 * sp).fill(0);
  if (autoPad === 'VALID') pads = Array(2 * sp).fill(0);
  else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    const x = e.shape(node.inputs[0]);
    const y = e.shape(node.outputs[0]);
    if (!x || !y || [...x.slice(2), ...y.slice(2)].some((d) => typeof d !== 'number')) {
      throw new Error(`autodiff: ${node.opType} '${node.name}' uses auto_pad ${autoPad}; its gradient needs static spatial dims`);
    }
    pads = Array(2 * sp).fill(0);
    for (let i = 0; i < sp; i++) {
      const total = Math.max(0, ((y[i + 2] as number) - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - (x[i + 2] as number));
      const small = Math.floor(total / 2);
      pads[i] = autoPad === 'SAME_UPPER' ? small : total - small;
      pads[i + sp] = total - pads[i];
    }
  }
  return { kernel, strides, dilations, pads };
}

/**
 * The transposed convolution that maps a gradient of `y` back onto the input `x` of a
 * strided window op: ConvTranspose with `weight`, output_padding for the rows the forward floor
 * dropped (and extra end padding to crop what a ceil_mode window added).
 */
function transposedWindow(e: Emitter, node: Node, g: string, weight: string, w: Window, group: number): string {
  const [x] = node.inputs;
  const sx = e.shape(x);
  const sg = e.shape(g);
  const sp = w.kernel.length;
  const pads = [...w.pads];
  const outputPadding = Array(sp).fill(0);
  let known = true;
  for (let i = 0; i < sp; i++) {
    const h = sx?.[i + 2];
    const o = sg?.[i + 2];
    if (typeof h !== 'number' || typeof o !== 'number') {
      // A dynamic extent: keep every row the windows reach (no end crop), and let padEndTo crop or
      // zero-fill to the input's run-time size. Cropping by the end pad here would drop the rows
      // that output_padding restores in the static case.
      known = false;
      pads[i + sp] = 0;
      continue;
    }
    const produced = (o - 1) * w.strides[i] + (w.kernel[i] - 1) * w.dilations[i] + 1 - pads[i] - pads[i + sp];
    if (produced > h) pads[i + sp] += produced - h;
    else outputPadding[i] = h - produced;
  }
  const attrs = { strides: w.strides, dilations: w.dilations, pads, group, ...(outputPadding.some((v) => v > 0) ? { output_padding: outputPadding } : {}) };
  const dx = e.op('ConvTranspose', [g, weight], attrs);
  if (known) {
    e.setShape(dx, sx);
    return dx;
  }
  return e.padEndTo(dx, x, 2, sp + 2);
}

/** Conv weight [Cout, Cin/g, k...] rearranged for the input gradient as a forward conv: [Cin, Cout/g, k...], kernel flipped. */
function flippedWeight(data: Float32Array, dims: number[], group: number): { data: Float32Array; dims: number[] } {
  const [cout, cinG, ...k] = dims;
  const coutG = cout / group;
  const kk = k.reduce((a, b) => a * b, 1);
  const out = new Float32Array(data.length);
  for (let gi = 0; gi < group; gi++) {
    for (let o = 0; o < coutG; o++) {
      for (let i = 0; i < cinG; i++) {
        const src = ((gi * coutG + o) * cinG + i) * kk;
        const dst = ((gi * cinG + i) * coutG + o) * kk;
        for (let t = 0; t < kk; t++) out[dst + kk - 1 - t] = data[src + t];
      }
    }
  }
  return { data: out, dims: [cinG * group, coutG, ...k] };
}

function convInputGrad(e: Emitter, node: Node, g: string): string {
  const [x, weight] = node.inputs;
  const group = attrInt(node, 'group', 1);
  const constW = e.constTensor(weight);
  const kernel = attrInts(node, 'kernel_shape') ?? constW?.dims.slice(2) ?? (e.shape(weight)?.slice(2) as number[] | undefined);
  if (!kernel || kernel.some((k) => typeof k !== 'number')) throw new Error(`autodiff: Conv '${node.name}': kernel shape unknown`);
  const w = windowOf(node, e, kernel);
  const sp = kernel.length;
  // Stride 1 and a frozen weight: a forward conv with the flipped kernel, which onnxruntime runs on
  // its fast (NCHWc) conv path; measured ~2x faster than ConvTranspose on ResNet-20 layers.
  const flipPads = w.pads.map((p, i) => (kernel[i % sp] - 1) * w.dilations[i % sp] - p);
  if (constW && w.strides.every((s) => s === 1) && flipPads.every((p) => p >= 0)) {
    const f = flippedWeight(constW.data, constW.dims, group);
    const wf = e.tensor(`${node.name}/flipped_weight`, f.data, f.dims);
    const dx = e.op('Conv', [g, wf], { pads: flipPads, dilations: w.dilations, group, kernel_shape: kernel });
    e.setShape(dx, e.shape(x));
    return dx;
  }
  return transposedWindow(e, node, g, weight, w, group);
}

/** Per-channel scalars of a BatchNormalization-like node as `[C, 1, ...]` against its input. */
function bnRank(e: Emitter, node: Node): number {
  return e.needRank(node.inputs[0], `BatchNormalization '${node.name}' broadcasts per-channel values over its input`);
}

/** Elements per channel of x (N * spatial), as a float scalar. */
function perChannelCount(e: Emitter, x: string, scale: string): string {
  const sx = e.shape(x);
  if (sx && sx.every((d) => typeof d === 'number')) return e.f32((sx as number[]).reduce((a, b) => a * b, 1) / (sx[1] as number));
  return e.op('Div', [e.op('Cast', [e.op('Size', [x])], { to: 1 }), e.op('Cast', [e.op('Size', [scale])], { to: 1 })]);
}

function isTraining(node: Node, e: Emitter): boolean {
  if (e.opset >= 14) return attrInt(node, 'training_mode', 0) === 1;
  return node.outputs.length > 1 && !!node.outputs[1];
}

/** Convolution, normalization, pooling and dense layers. */
export const nnRules: Record<string, GradRule> = {
  Conv: ({ node, e, dy: [g], needs }) => {
    const rank = e.needRank(node.inputs[0], `Conv '${node.name}'`);
    return [needs[0] ? convInputGrad(e, node, g!) : null, null, needs[2] ? e.sumPerChannel(g!, rank) : null];
  },

  /**
   * BatchNormalization, y = scale * (x - mean) / sqrt(var + eps) + bias.
   * Inference form (statistics are inputs, constant or computed in-graph): gradients to all five
   * inputs. Training form (statistics of the batch itself): the full formula through the batch mean
   * and variance, dx = A*g + B*x + C per channel, plus gradients through the statistics outputs.
   */
  BatchNormalization: ({ node, e, dy, needs }) => {
    const [x, scale, bias, inMean, inVar] = node.inputs;
    const eps = attrFloat(node, 'epsilon', 1e-5);
    const rank = bnRank(e, node);
    const g = dy[0];
    const training = isTraining(node, e);
    // Per-channel sums of g and g * x, each only where a requested gradient uses it (a frozen
    // inference-mode BN on the path needs neither: its input gradient is one affine of g).
    const sumG = g && (needs[1] || needs[2] || needs[3] || needs[4] || (training && needs[0])) ? e.sumPerChannel(g, rank) : null;
    const sumGx = g && (needs[1] || needs[4] || (training && needs[0])) ? e.sumPerChannel(e.op('Mul', [g, x]), rank) : null;
    if (!training) {
      if (!g) return [null, null, null, null, null];
      const rstd = e.op('Reciprocal', [e.op('Sqrt', [e.op('Add', [inVar, e.f32(eps)])])]);
      const a = needs[0] || needs[3] || needs[4] ? e.op('Mul', [scale, rstd]) : '';
      // sum(g * (x - mean)) without a full-size subtraction.
      const centered = sumGx ? e.op('Sub', [sumGx, e.op('Mul', [inMean, sumG!])]) : null;
      return [
        needs[0] ? e.affine(g, a) : null,
        needs[1] ? e.op('Mul', [centered!, rstd]) : null,
        needs[2] ? sumG : null,
        needs[3] ? e.neg(e.op('Mul', [a, sumG!])) : null,
        needs[4] ? e.op('Mul', [e.op('Mul', [centered!, e.op('Mul', [a, e.op('Mul', [rstd, rstd])])]), e.f32(-0.5)]) : null,
      ];
    }
    const momentum = attrFloat(node, 'momentum', 0.9);
    // Batch statistics. With momentum 0 the running outputs are exactly them, but onnxruntime
    // writes those in place into the running inputs: with constant running inputs one non-finite
    // batch would leave them NaN (0 * NaN) for every later run. So they are reused only when the
    // running inputs are computed each run (the compiler arranges that for gradient passes);
    // otherwise a second train-mode node with per-run running inputs recomputes both in one pass
    // (~4x cheaper than ReduceMean + ReduceSumSquare).
    let mean: string;
    let variance: string;
    const perRunInputs = !e.constTensor(inMean) && !e.constTensor(inVar) && !e.info.values.has(inMean);
    if (momentum === 0 && node.outputs[1] && node.outputs[2] && e.opset >= 14 && perRunInputs) {
      mean = node.outputs[1];
      variance = node.outputs[2];
    } else {
      const perRun = g ? sumG! : (dy[1] ?? dy[2])!;
      const c = e.shape(scale)?.[0];
      const ones = typeof c === 'number' ? e.f32(1, [c]) : e.op('Add', [e.op('Mul', [perRun, e.f32(0)]), e.f32(1)]);
      const zeros = typeof c === 'number' ? e.f32(0, [c]) : e.op('Mul', [perRun, e.f32(0)]);
      [, mean, variance] = e.node('BatchNormalization', [x, ones, zeros, e.op('Mul', [perRun, e.f32(0)]), e.op('Sub', [perRun, perRun])], { epsilon: f(0), momentum: f(0), training_mode: 1 }, 3);
    }
    const rstd = g && (needs[0] || needs[1]) ? e.op('Reciprocal', [e.op('Sqrt', [e.op('Add', [variance, e.f32(eps)])])]) : '';
    const sumGxhat = g && (needs[0] || needs[1]) ? e.op('Mul', [e.op('Sub', [sumGx!, e.op('Mul', [mean, sumG!])]), rstd]) : null;
    // Running outputs: momentum * input + (1 - momentum) * batch statistic.
    if (dy[3] || dy[4]) throw new Error(`BatchNormalization '${node.name}': gradients through the saved statistics outputs (opset < 14) are not supported`);
    let dx: string | null = null;
    if (needs[0]) {
      // Coefficients of dx = A*g + B*x + C, all [C] (only built when x needs its gradient).
      const n = perChannelCount(e, x, scale);
      const bTerms: string[] = [];
      const cTerms: string[] = [];
      let a: string | null = null;
      if (g) {
        a = e.op('Mul', [scale, rstd]);
        const b = e.neg(e.op('Div', [e.op('Mul', [e.op('Mul', [a, rstd]), sumGxhat!]), n]));
        bTerms.push(b);
        cTerms.push(e.neg(e.op('Div', [e.op('Mul', [a, sumG!]), n])), e.neg(e.op('Mul', [b, mean])));
      }
      const dMean = dy[1] ? e.op('Mul', [dy[1], e.f32(1 - momentum)]) : null;
      const dVar = dy[2] ? e.op('Mul', [dy[2], e.f32(1 - momentum)]) : null;
      if (dMean) cTerms.push(e.op('Div', [dMean, n]));
      if (dVar) {
        const b2 = e.op('Div', [e.op('Mul', [dVar, e.f32(2)]), n]);
        bTerms.push(b2);
        cTerms.push(e.neg(e.op('Mul', [b2, mean])));
      }
      // Two per-channel affines (A*g + C and B*x) and one Add: three passes over the map.
      const c = e.sum(cTerms);
      if (a && bTerms.length) dx = e.op('Add', [e.affine(g!, a, c), e.affine(x, e.sum(bTerms))]);
      else if (a) dx = e.affine(g!, a, c);
      else dx = e.affine(x, e.sum(bTerms), c);
      e.setShape(dx, e.shape(x));
    }
    return [
      dx,
      needs[1] && sumGxhat ? sumGxhat : null,
      needs[2] ? sumG : null,
      needs[3] ? (dy[1] ? e.op('Mul', [dy[1], e.f32(momentum)]) : e.op('Mul', [inMean, e.f32(0)])) : null,
      needs[4] ? (dy[2] ? e.op('Mul', [dy[2], e.f32(momentum)]) : e.op('Mul', [inVar, e.f32(0)])) : null,
    ];
  },

  GlobalAveragePool: ({ node, e, dy: [g] }) => {
    const [x] = node.inputs;
    const sx = e.shape(x);
    const n =
      sx && sx.slice(2).every((d) => typeof d === 'number')
        ? e.f32((sx.slice(2) as number[]).reduce((p, q) => p * q, 1))
        : e.op('Div', [e.op('Cast', [e.op('Size', [x])], { to: 1 }), e.op('Cast', [e.op('Size', [node.outputs[0]])], { to: 1 })]);
    return [e.expandLike(e.op('Div', [g!, n]), x)];
  },

  AveragePool: ({ node, e, dy: [g] }) => {
    const [x] = node.inputs;
    const sx = e.shape(x);
    const kernel = attrInts(node, 'kernel_shape')!;
    if (!sx || typeof sx[1] !== 'number') throw new Error(`autodiff: AveragePool '${node.name}': its gradient needs the channel count statically`);
    if (attrInt(node, 'ceil_mode', 0) === 1) throw new Error(`autodiff: AveragePool '${node.name}' with ceil_mode=1 has no gradient rule`);
    const c = sx[1];
    const w = windowOf(node, e, kernel);
    const kk = kernel.reduce((p, q) => p * q, 1);
    let scaled: string;
    if (attrInt(node, 'count_include_pad', 0) === 1 || w.pads.every((p) => p === 0)) scaled = e.op('Div', [g!, e.f32(kk)]);
    else {
      // Border windows average over fewer elements: divide by each window's count of real inputs.
      const spatial = sx.slice(2);
      const one = { kind: 'tensor' as const, value: { dims: [1], dataType: 1, floatData: [1] } };
      // A dynamic H or W: the map of ones is built at run time from the input's shape.
      const ones = spatial.every((d) => typeof d === 'number')
        ? e.tensor(`${node.name}/ones`, new Float32Array((spatial as number[]).reduce((p, q) => p * q, 1)).fill(1), [1, 1, ...(spatial as number[])])
        : e.op('ConstantOfShape', [e.op('Concat', [e.i64([1, 1]), e.op('Slice', [e.shapeOf(x), e.i64([2]), e.i64([sx.length])])], { axis: 0 })], { value: one });
      const attrs = { kernel_shape: kernel, strides: w.strides, pads: w.pads, count_include_pad: 1 };
      const count = e.op('Mul', [e.op('AveragePool', [ones], attrs), e.f32(kk)]);
      scaled = e.op('Div', [g!, count]);
    }
    const ones = e.tensor(`${node.name}/window`, new Float32Array(c * kk).fill(1), [c, 1, ...kernel]);
    return [transposedWindow(e, node, scaled, ones, w, c)];
  },

  /**
   * MaxPool: each output gradient goes to the input element its window picked (onnxruntime's
   * Indices, recomputed). Exact with overlapping windows and any opset: per kernel offset k, a
   * one-hot channel marks the windows whose argmax sits at offset k, and one grouped ConvTranspose
   * with one-hot kernels places them (no ScatterElements-add, which needs opset 16).
   */
  MaxPool: ({ node, e, dy: [g] }) => {
    const [x] = node.inputs;
    const sx = e.shape(x);
    const sy = e.shape(node.outputs[0]);
    if (!sx || !sy || [...sx.slice(1), ...sy.slice(2)].some((d) => typeof d !== 'number')) {
      throw new Error(`autodiff: MaxPool '${node.name}': its gradient needs static channel and spatial dims`);
    }
    if (attrInt(node, 'storage_order', 0) !== 0) throw new Error(`autodiff: MaxPool '${node.name}' with storage_order=1 has no gradient rule`);
    const kernel = attrInts(node, 'kernel_shape')!;
    const w = windowOf(node, e, kernel);
    const sp = kernel.length;
    const c = sx[1] as number;
    const inSp = sx.slice(2) as number[];
    const outSp = sy.slice(2) as number[];
    const plane = inSp.reduce((p, q) => p * q, 1);
    const outPlane = outSp.reduce((p, q) => p * q, 1);
    const kk = kernel.reduce((p, q) => p * q, 1);
    // Q[k, o] = flat in-plane index of kernel offset k of output window o (-1 outside the input).
    const q: number[] = new Array(kk * outPlane);
    const kIdx = new Array<number>(sp);
    const oIdx = new Array<number>(sp);
    for (let k = 0; k < kk; k++) {
      for (let r = k, i = sp - 1; i >= 0; i--) ((kIdx[i] = r % kernel[i]), (r = Math.floor(r / kernel[i])));
      for (let o = 0; o < outPlane; o++) {
        for (let r = o, i = sp - 1; i >= 0; i--) ((oIdx[i] = r % outSp[i]), (r = Math.floor(r / outSp[i])));
        let flat = 0;
        let inside = true;
        for (let i = 0; i < sp; i++) {
          const pos = oIdx[i] * w.strides[i] + kIdx[i] * w.dilations[i] - w.pads[i];
          if (pos < 0 || pos >= inSp[i]) inside = false;
          flat = flat * inSp[i] + pos;
        }
        q[k * outPlane + o] = inside ? flat : -1;
      }
    }
    const indices = node.outputs[1] || e.node('MaxPool', [x], { ...node.attrs }, 2)[1];
    const inPlane = e.op('Mod', [indices, e.i64([plane], [])]);
    const hit = e.op('Equal', [e.unsqueeze(inPlane, [2]), e.i64(q, [kk, ...outSp])]);
    const routed = e.op('Where', [hit, e.unsqueeze(g!, [2]), e.f32(0)]);
    const stacked = e.op('Reshape', [routed, e.i64([0, c * kk, ...outSp])]);
    const oneHot = new Float32Array(c * kk * kk);
    for (let ch = 0; ch < c; ch++) for (let k = 0; k < kk; k++) oneHot[(ch * kk + k) * kk + k] = 1;
    const weight = e.tensor(`${node.name}/onehot`, oneHot, [c * kk, 1, ...kernel]);
    return [transposedWindow(e, node, stacked, weight, w, c)];
  },

  /** Y = alpha * op(A) op(B) + beta * C. */
  Gemm: ({ node, e, dy: [g], needs }) => {
    const [a, b, c] = node.inputs;
    const alpha = attrFloat(node, 'alpha', 1);
    const beta = attrFloat(node, 'beta', 1);
    const ta = attrInt(node, 'transA', 0);
    const tb = attrInt(node, 'transB', 0);
    // d op(A) = alpha g op(B)^T; d op(B) = alpha op(A)^T g; transpose back when the operand was.
    // Only the operands on the gradient path get one (a frozen classifier weight gets no Gemm).
    const dA = !needs[0] ? null : ta ? e.op('Gemm', [b, g!], { transA: tb, transB: 1, alpha: f(alpha) }) : e.op('Gemm', [g!, b], { transB: tb ? 0 : 1, alpha: f(alpha) });
    const dB = !needs[1] ? null : tb ? e.op('Gemm', [g!, a], { transA: 1, transB: ta, alpha: f(alpha) }) : e.op('Gemm', [a, g!], { transA: ta ? 0 : 1, alpha: f(alpha) });
    const dC = needs[2] ? e.unbroadcast(beta === 1 ? g! : e.op('Mul', [g!, e.f32(beta)]), c, node.outputs[0]) : null;
    return [dA, dB, dC];
  },

  /** numpy matmul with batch broadcasting and 1-D operands. */
  MatMul: ({ node, e, dy: [g], needs }) => {
    const [a, b] = node.inputs;
    const ra = e.needRank(a, `MatMul '${node.name}'`);
    const rb = e.needRank(b, `MatMul '${node.name}'`);
    // Promote 1-D operands to matrices, as numpy does, and the gradient with them.
    const a2 = ra === 1 ? e.unsqueeze(a, [0]) : a;
    const b2 = rb === 1 ? e.unsqueeze(b, [1]) : b;
    let g2 = g!;
    if (ra === 1) g2 = e.unsqueeze(g2, [-2]);
    if (rb === 1) g2 = e.unsqueeze(g2, [-1]);
    const t = (v: string, r: number) => e.op('Transpose', [v], { perm: [...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2] });
    const back = (grad: string, operand: string, promoted: string) => {
      const reduced = e.unbroadcast(grad, promoted, grad);
      return promoted === operand ? reduced : e.reshapeLike(reduced, operand);
    };
    return [
      needs[0] ? back(e.op('MatMul', [g2, t(b2, Math.max(rb, 2))]), a, a2) : null,
      needs[1] ? back(e.op('MatMul', [t(a2, Math.max(ra, 2)), g2]), b, b2) : null,
    ];
  },
};
