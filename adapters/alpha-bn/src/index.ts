/**
 * alpha-bn: a convex mix of source and test-batch statistics. Schneider et al., NeurIPS 2020
 * (alpha = n / (N + n)); You, Li & Zhao, "Test-time Batch Statistics Calibration for Covariate
 * Shift", arXiv 2110.04065 (alpha-BN). Convention of MD-TTA's AlphaBatchNorm (tta-spec 3.3-3.4):
 * alpha is the weight on the TEST statistics.
 *
 * Update rule, per layer and batch: mu_t = batch mean, var_t = UNBIASED batch variance
 * (n / (n - 1) times the biased one, n = N*H*W);
 * mu = (1 - alpha) * mu_s + alpha * mu_t;  var = (1 - alpha) * var_s + alpha * var_t;
 * y = gamma * (x - mu) / sqrt(var + eps) + beta. No state: works at batch size 1.
 */
import { batchAxes, mixStatistics, predictOnce, unbiasedVariance, type MethodDefinition } from '@edgetta/core';

export interface AlphaBnOptions {
  /**
   * Weight on the test-batch statistics.
   * @defaultValue 0.1
   */
  alpha: number;
}

export const alphaBn: MethodDefinition<AlphaBnOptions> = {
  name: 'alpha-bn',
  summary: 'Mix of source and test-batch statistics (alpha = weight on test stats); works at batch size 1.',
  paper: 'Schneider et al., NeurIPS 2020; You, Li & Zhao, arXiv 2110.04065.',
  defaults: { alpha: 0.1 },
  optionSpecs: { alpha: { doc: 'weight on the test-batch statistics, in [0, 1]', min: 0, max: 1 } },
  passes: {
    predict: {
      norm: ({ ops, x, gamma, beta, source, layer, options }) => {
        const { mean, variance } = ops.moments(x, batchAxes(layer.rank));
        const batch = { mean, variance: unbiasedVariance(ops, x, variance, layer.rank) };
        const mixed = mixStatistics(ops, source, batch, options.alpha);
        return { y: ops.batchNorm(x, gamma, beta, mixed.mean, mixed.variance, layer.epsilon) };
      },
    },
  },
  step: predictOnce,
};
