/**
 * A tiny random classifier whose every layer the equation tests can recompute exactly in float64:
 *   x [N, 3, H, W] -> BN0 (image itself) -> Relu -> Conv 1x1 (3 -> 4, bias) -> BN1 -> Relu
 *     -> GlobalAveragePool -> Flatten -> BN2 (rank 2) -> Gemm (4 -> 5) -> logits [N, 5].
 * Built as a graph IR `Model` (AdaptiveSession accepts one). The float32 weights are kept so the
 * float64 forward uses exactly the values the ONNX graph holds. Used by the equation tests of
 * unmix-tns and dua.
 */
import { Rng } from '@edgetta/core';
import { emptyModel } from './models.js';

export interface BnParams {
  gamma: Float32Array;
  beta: Float32Array;
  mean: Float32Array;
  variance: Float32Array;
  epsilon: number;
}

export interface TinyModel {
  bns: BnParams[];
  convW: Float32Array; // [4, 3]
  convB: Float32Array; // [4]
  fcW: Float32Array; // [5, 4]
  fcB: Float32Array; // [5]
  /** A fresh graph IR of the model (sessions may rewrite what they are given). */
  ir(): ReturnType<typeof emptyModel>;
}

export const CLASSES = 5;
export const C0 = 3;
export const C1 = 4;

/** The float64 per-layer normalization a method applies: x is [N, C, S] (S = 1 for BN2). */
export type NormFn = (layer: number, x: Float64Array, n: number, c: number, s: number) => Float64Array;

export function tinyModel(seed: number, size: number): TinyModel {
  const rng = new Rng(seed);
  const randn = (n: number, scale: number, offset = 0) => Float32Array.from({ length: n }, () => offset + scale * rng.normal());
  const bn = (c: number, meanOffset: number, epsilon: number): BnParams => ({
    gamma: randn(c, 0.2, 1),
    beta: randn(c, 0.1),
    mean: randn(c, 0.2, meanOffset),
    variance: Float32Array.from({ length: c }, () => 0.05 + 0.1 * rng.random()),
    epsilon,
  });
  const bns = [bn(C0, 0.5, 1e-5), bn(C1, 0.3, 1e-4), bn(C1, 0.3, 1e-3)];
  const convW = randn(C1 * C0, 0.8);
  const convB = randn(C1, 0.1);
  const fcW = randn(CLASSES * C1, 0.5);
  const fcB = randn(CLASSES, 0.1);
  const ir = () => {
    const m = emptyModel(13);
    const g = m.graph;
    const init = (name: string, data: Float32Array, dims: number[]) => {
      const bytes = new Uint8Array(data.byteLength);
      bytes.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      g.initializers.set(name, { name, dataType: 1, dims, rawData: bytes });
      return name;
    };
    const node = (opType: string, inputs: string[], output: string, attrs: Record<string, unknown> = {}) => {
      g.nodes.push({ opType, domain: '', name: `${opType}_${g.nodes.length}`, inputs, outputs: [output], attrs: attrs as never });
      return output;
    };
    const bnNode = (i: number, x: string) => {
      const p = bns[i];
      const c = p.gamma.length;
      return node('BatchNormalization', [x, init(`bn${i}.gamma`, p.gamma, [c]), init(`bn${i}.beta`, p.beta, [c]), init(`bn${i}.mean`, p.mean, [c]), init(`bn${i}.var`, p.variance, [c])], `bn${i}.y`, {
        epsilon: { kind: 'float', value: p.epsilon },
        momentum: { kind: 'float', value: 0.9 },
      });
    };
    g.inputs.push({ name: 'x', elemType: 1, shape: ['N', C0, size, size] });
    let h = node('Relu', [bnNode(0, 'x')], 'relu0');
    h = node('Conv', [h, init('conv.w', convW, [C1, C0, 1, 1]), init('conv.b', convB, [C1])], 'conv', { kernel_shape: { kind: 'ints', value: [1, 1] } });
    h = node('Relu', [bnNode(1, h)], 'relu1');
    h = node('Flatten', [node('GlobalAveragePool', [h], 'gap')], 'flat', { axis: { kind: 'int', value: 1 } });
    h = bnNode(2, h);
    node('Gemm', [h, init('fc.w', fcW, [CLASSES, C1]), init('fc.b', fcB, [CLASSES])], 'logits', { transB: { kind: 'int', value: 1 } });
    g.outputs.push({ name: 'logits', elemType: 1, shape: ['N', CLASSES] });
    return m;
  };
  return { bns, convW, convB, fcW, fcB, ir };
}

/** The float64 forward of the tiny model on x [n, 3, size, size], with `norm` for the three BN layers. */
export function forward(model: TinyModel, x: ArrayLike<number>, n: number, size: number, norm: NormFn): Float64Array {
  const S = size * size;
  let h = norm(0, Float64Array.from(x), n, C0, S);
  h = h.map((v) => Math.max(0, v));
  const conv = new Float64Array(n * C1 * S);
  for (let b = 0; b < n; b++)
    for (let o = 0; o < C1; o++)
      for (let i = 0; i < S; i++) {
        let s = model.convB[o];
        for (let c = 0; c < C0; c++) s += model.convW[o * C0 + c] * h[(b * C0 + c) * S + i];
        conv[(b * C1 + o) * S + i] = s;
      }
  h = norm(1, conv, n, C1, S).map((v) => Math.max(0, v));
  const pooled = new Float64Array(n * C1);
  for (let b = 0; b < n; b++)
    for (let c = 0; c < C1; c++) {
      let s = 0;
      for (let i = 0; i < S; i++) s += h[(b * C1 + c) * S + i];
      pooled[b * C1 + c] = s / S;
    }
  h = norm(2, pooled, n, C1, 1);
  const logits = new Float64Array(n * CLASSES);
  for (let b = 0; b < n; b++)
    for (let k = 0; k < CLASSES; k++) {
      let s = model.fcB[k];
      for (let c = 0; c < C1; c++) s += model.fcW[k * C1 + c] * h[b * C1 + c];
      logits[b * CLASSES + k] = s;
    }
  return logits;
}

/** max |got - want| / max |want|: the relative error of a whole array (max norm). */
export function relMax(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) return Infinity;
  let d = 0;
  let r = 0;
  for (let i = 0; i < want.length; i++) {
    d = Math.max(d, Math.abs(got[i] - want[i]));
    r = Math.max(r, Math.abs(want[i]));
  }
  return d / r;
}
