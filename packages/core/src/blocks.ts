import type { NormArgs, NormResult } from './method.js';
import { batchAxes, type Ops } from './ops.js';

export interface Statistics<T> {
  mean: T;
  variance: T;
}

/** n / (n - 1) times a biased batch variance, with n = N * spatial counted in the graph. */
export function unbiasedVariance<T>(ops: Ops<T>, x: T, biased: T, rank: number): T {
  const n = ops.count(x, batchAxes(rank));
  return ops.div(ops.mul(biased, n), ops.sub(n, ops.scalar(1)));
}

/** (1 - w) * base + w * batch for the mean and the variance; `w` a constant or a graph scalar. */
export function mixStatistics<T>(ops: Ops<T>, base: Statistics<T>, batch: Statistics<T>, w: number | T): Statistics<T> {
  const take = typeof w === 'number' ? ops.scalar(w) : w;
  const keep = typeof w === 'number' ? ops.scalar(1 - w) : ops.sub(ops.scalar(1), w);
  return {
    mean: ops.add(ops.mul(keep, base.mean), ops.mul(take, batch.mean)),
    variance: ops.add(ops.mul(keep, base.variance), ops.mul(take, batch.variance)),
  };
}

/**
 * PyTorch train-mode BatchNorm, written once for the methods that keep running statistics
 * (bn-ema, dua): normalize with the batch mean and biased variance, and update
 * mean <- (1 - m) * mean + m * mu_B, variance <- (1 - m) * variance + m * var_B * n / (n - 1).
 * Reads and writes the layer state 'mean' and 'variance'.
 */
export function trainModeBatchNorm<T, O>(args: NormArgs<T, O>, momentum: T): NormResult<T> {
  const { ops, x, gamma, beta, layer, state } = args;
  const { y, mean, variance } = ops.batchNormTrain(x, gamma, beta, layer.epsilon);
  const batch = { mean, variance: unbiasedVariance(ops, x, variance, layer.rank) };
  return { y, state: { ...mixStatistics(ops, { mean: state.mean, variance: state.variance }, batch, momentum) } };
}

/** Eval-mode BatchNorm with the layer state 'mean' and 'variance'. */
export function evalModeBatchNorm<T, O>(args: NormArgs<T, O>): NormResult<T> {
  const { ops, x, gamma, beta, layer, state } = args;
  return { y: ops.batchNorm(x, gamma, beta, state.mean, state.variance, layer.epsilon) };
}

/** Initial running statistics: copies of the source ones. */
export function sourceRunningStats(layer: { mean: Float32Array; variance: Float32Array }): Record<string, Float32Array> {
  return { mean: layer.mean.slice(), variance: layer.variance.slice() };
}

/**
 * Per-sample normalization with the layer's own statistics (LayerNorm over `axes`, e.g. the
 * trailing ones): y = gamma * (x - mean) / sqrt(var + eps) + beta, mean and biased variance per
 * sample over `axes`; `gamma`/`beta` broadcast over the normalized (trailing) axes. Sites without
 * batch statistics always normalize this way; methods choose only their affine.
 */
export function ownStatisticsNorm<T>(ops: Ops<T>, x: T, axes: number[], gamma: T, beta: T, epsilon: number): T {
  const mean = ops.reduceMean(x, axes, true);
  const d = ops.sub(x, mean);
  const variance = ops.reduceMean(ops.mul(d, d), axes, true);
  const xhat = ops.div(d, ops.sqrt(ops.add(variance, ops.scalar(epsilon))));
  return ops.add(ops.mul(xhat, gamma), beta);
}
