/**
 * The op-builder interface methods write their per-layer normalization against.
 *
 * A method's math is written once, generic in the handle type `T`: the ONNX emitter
 * (`@edgetta/compiler`) turns each call into graph nodes, the typed-array reference interpreter
 * (`./reference.ts`) computes it directly, and tests compare the two. Broadcasting follows
 * numpy/ONNX rules. Per-channel vectors are 1-D `[C]`; feature maps are `[N, C, ...spatial]`.
 */
export interface Ops<T> {
  /** A float32 scalar constant. */
  scalar(value: number): T;
  add(a: T, b: T): T;
  sub(a: T, b: T): T;
  mul(a: T, b: T): T;
  div(a: T, b: T): T;
  sqrt(x: T): T;
  exp(x: T): T;
  log(x: T): T;
  abs(x: T): T;
  /** Mean over `axes` (negative axes count from the end). */
  reduceMean(x: T, axes: number[], keepDims: boolean): T;
  reduceSum(x: T, axes: number[], keepDims: boolean): T;
  /**
   * Mean and biased variance over `axes` (keepDims false). One op so that each backend can pick its
   * fastest stable formulation; the reference computes the two-pass definition.
   */
  moments(x: T, axes: number[]): { mean: T; variance: T };
  /**
   * Train-mode batch normalization: normalize `[N, C, ...]` with its own batch mean and biased
   * variance over every axis but 1, and return those statistics (`[C]`) too.
   */
  batchNormTrain(x: T, gamma: T, beta: T, epsilon: number): { y: T; mean: T; variance: T };
  /** Number of elements reduced over `axes`, as a float scalar known only at run time. */
  count(x: T, axes: number[]): T;
  /** Inserts size-1 axes (ONNX Unsqueeze semantics). */
  unsqueeze(x: T, axes: number[]): T;
  /** ONNX Reshape semantics (0 copies the input dim, -1 is inferred). */
  reshape(x: T, shape: number[]): T;
  transpose(x: T, perm: number[]): T;
  /** 2-D matrix product. */
  matmul(a: T, b: T): T;
  softmax(x: T, axis: number): T;
  /** log(softmax(x)) along `axis` (the last axis before ONNX opset 13), computed stably. */
  logSoftmax(x: T, axis: number): T;
  /** Maximum over `axes`. */
  reduceMax(x: T, axes: number[], keepDims: boolean): T;
  /** Elementwise maximum (broadcasting). */
  maximum(a: T, b: T): T;
  /** Elementwise 1 where a < b, else 0, as float32; a constant for gradients (a mask). */
  less(a: T, b: T): T;
  /** The same value, with no gradient flowing back through it. */
  stopGradient(x: T): T;
  /**
   * y = gamma * (x - mean) / sqrt(variance + epsilon) + beta with per-channel `[C]` mean, variance,
   * gamma, beta broadcast over `[N, C, ...]` (ONNX BatchNormalization in inference form; the
   * statistics may be computed in-graph).
   */
  batchNorm(x: T, gamma: T, beta: T, mean: T, variance: T, epsilon: number): T;
  /**
   * y[n, c, ...] = x[n, c, ...] * scale[n, c] + shift[n, c]: per-instance, per-channel affine of a
   * `[N, C, ...]` map with `[N, C]` coefficients (instance-wise normalization). One op so the
   * backend can avoid broadcasting Mul + Add, which onnxruntime runs slowly on large maps.
   */
  scaleShift(x: T, scale: T, shift: T): T;
}

/** Axes of the batch statistics of a rank-`rank` feature map: all but the channel axis 1. */
export function batchAxes(rank: number): number[] {
  return [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2)];
}

/** Axes of the per-instance statistics: the spatial axes. */
export function instanceAxes(rank: number): number[] {
  return Array.from({ length: rank - 2 }, (_, i) => i + 2);
}
