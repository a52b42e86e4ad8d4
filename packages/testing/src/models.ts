import { Rng } from '@edgetta/core';
import { decodeModel, encodeModel, f, GraphBuilder, type Model } from '@edgetta/onnx';

/** An empty model at the given default-domain opset. */
export function emptyModel(opset = 13): Model {
  return {
    proto: { irVersion: 8, opsetImport: [], producerName: 'edgetta-test' },
    opsets: new Map([['', opset]]),
    graph: { name: 'test', nodes: [], inputs: [], outputs: [], initializers: new Map(), valueInfo: [] },
  };
}

function randn(rng: Rng, n: number, scale: number, offset = 0): Float32Array {
  return Float32Array.from({ length: n }, () => offset + scale * rng.normal());
}

/** BatchNormalization with random source statistics and affine parameters. */
function bn(b: GraphBuilder, rng: Rng, x: string, c: number, epsilon = 1e-5): string {
  const gamma = b.initializer('gamma', randn(rng, c, 0.2, 1), [c]);
  const beta = b.initializer('beta', randn(rng, c, 0.1), [c]);
  const mean = b.initializer('mean', randn(rng, c, 0.3), [c]);
  const variance = b.initializer('var', Float32Array.from({ length: c }, () => 0.5 + rng.random()), [c]);
  return b.op('BatchNormalization', [x, gamma, beta, mean, variance], { epsilon: f(epsilon), momentum: f(0.9) });
}

function conv(b: GraphBuilder, rng: Rng, x: string, cin: number, cout: number, k: number, stride = 1, group = 1): string {
  const w = b.initializer('w', randn(rng, cout * (cin / group) * k * k, Math.sqrt(2 / (cin * k * k))), [cout, cin / group, k, k]);
  const pad = (k - 1) / 2;
  return b.op('Conv', [x, w], { kernel_shape: [k, k], strides: [stride, stride], pads: [pad, pad, pad, pad], group });
}

/**
 * A small random CNN: Conv-BN-Relu, depthwise Conv-BN-Relu (stride 2), Conv-BN, residual Add,
 * GlobalAveragePool, Flatten, Gemm, and a rank-2 BatchNormalization on the logits' features.
 * Input `x` [N, 3, size, size], output `logits` [N, classes]. Returns ONNX bytes.
 */
export function smallCnn(seed = 1, opts: { size?: number; classes?: number; opset?: number } = {}): Uint8Array {
  const { size = 8, classes = 5, opset = 13 } = opts;
  const rng = new Rng(seed);
  const m = emptyModel(opset);
  const b = new GraphBuilder(m, 'm');
  const x = b.input({ name: 'x', elemType: 1, shape: ['N', 3, size, size] });
  let h = b.op('Relu', [bn(b, rng, conv(b, rng, x, 3, 8, 3), 8)]);
  h = b.op('Relu', [bn(b, rng, conv(b, rng, h, 8, 8, 3, 2, 8), 8)]);
  const skip = h;
  h = bn(b, rng, conv(b, rng, h, 8, 8, 1), 8);
  h = b.op('Relu', [b.op('Add', [h, skip])]);
  h = b.op('Flatten', [b.op('GlobalAveragePool', [h])], { axis: 1 });
  h = bn(b, rng, h, 8, 1e-3);
  const w = b.initializer('fc_w', randn(rng, classes * 8, 0.5), [classes, 8]);
  const bias = b.initializer('fc_b', randn(rng, classes, 0.1), [classes]);
  const logits = b.op('Gemm', [h, w, bias], { transB: 1 });
  b.output(logits, 'logits', ['N', classes]);
  return encodeModel(m);
}

/**
 * A small random CNN without any normalization layer (as `torch.onnx.export` writes a model whose
 * BatchNorm was folded into its convolutions): Conv-Relu, Conv-Relu (stride 2), GlobalAveragePool,
 * Flatten, Gemm; `norm` inserts one LayerNormalization (opset 17) on the pooled features.
 * Input `x` [N, 3, size, size], output `logits` [N, classes]. Returns ONNX bytes.
 */
export function plainCnn(seed = 1, opts: { size?: number; classes?: number; layerNorm?: boolean } = {}): Uint8Array {
  const { size = 8, classes = 5, layerNorm = false } = opts;
  const rng = new Rng(seed);
  const m = emptyModel(layerNorm ? 17 : 13);
  const b = new GraphBuilder(m, 'm');
  const x = b.input({ name: 'x', elemType: 1, shape: ['N', 3, size, size] });
  let h = b.op('Relu', [conv(b, rng, x, 3, 8, 3)]);
  h = b.op('Relu', [conv(b, rng, h, 8, 8, 3, 2)]);
  h = b.op('Flatten', [b.op('GlobalAveragePool', [h])], { axis: 1 });
  if (layerNorm) h = b.op('LayerNormalization', [h, b.initializer('ln_g', randn(rng, 8, 0.2, 1), [8]), b.initializer('ln_b', randn(rng, 8, 0.1), [8])], { axis: -1, epsilon: f(1e-5) });
  const w = b.initializer('fc_w', randn(rng, classes * 8, 0.5), [classes, 8]);
  const bias = b.initializer('fc_b', randn(rng, classes, 0.1), [classes]);
  b.output(b.op('Gemm', [h, w, bias], { transB: 1 }), 'logits', ['N', classes]);
  return encodeModel(m);
}

/** A model with normalization but no BatchNormalization (InstanceNormalization), for error tests. */
export function instanceNormModel(): Uint8Array {
  const rng = new Rng(3);
  const m = emptyModel(13);
  const b = new GraphBuilder(m, 'm');
  const x = b.input({ name: 'x', elemType: 1, shape: ['N', 3, 4, 4] });
  const s = b.initializer('s', randn(rng, 3, 1), [3]);
  const bb = b.initializer('b', randn(rng, 3, 1), [3]);
  b.output(b.op('InstanceNormalization', [x, s, bb]), 'y');
  return encodeModel(m);
}

/** Decodes the bytes again (a fresh IR). */
export function decode(bytes: Uint8Array): Model {
  return decodeModel(bytes);
}

/** Deterministic NCHW float data in [0, 1). */
export function randomInput(seed: number, dims: number[]): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => rng.random());
}
