import type { NormArgs, NormResult } from './method.js';
import { batchAxes } from './ops.js';

/**
 * PyTorch train-mode BatchNorm, written once for the methods that keep running statistics
 * (bn-ema, dua): normalize with the batch mean and biased variance, and update
 * mean <- (1 - m) * mean + m * mu_B, variance <- (1 - m) * variance + m * var_B * n / (n - 1).
 * Reads and writes the layer state 'mean' and 'variance'.
 */
export function trainModeBatchNorm<T, O>(args: NormArgs<T, O>, momentum: T): NormResult<T> {
  const { ops, x, gamma, beta, layer, state } = args;
  const { y, mean, variance } = ops.batchNormTrain(x, gamma, beta, layer.epsilon);
  const n = ops.count(x, batchAxes(layer.rank));
  const unbiased = ops.div(ops.mul(variance, n), ops.sub(n, ops.scalar(1)));
  const keep = ops.sub(ops.scalar(1), momentum);
  return {
    y,
    state: {
      mean: ops.add(ops.mul(keep, state.mean), ops.mul(momentum, mean)),
      variance: ops.add(ops.mul(keep, state.variance), ops.mul(momentum, unbiased)),
    },
  };
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
