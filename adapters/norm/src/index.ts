/**
 * norm (test-time BN, AdaBN / BN-1 / TBN): normalize every layer with the statistics of the
 * current test batch. Schneider et al., "Improving robustness against common corruptions by
 * covariate shift adaptation", NeurIPS 2020; Li et al., "Revisiting Batch Normalization For
 * Practical Domain Adaptation" (AdaBN), ICLR-W 2017. tta-spec 3.2.
 *
 * Update rule, per layer and batch: mu_B = mean over (n, h, w); var_B = biased variance;
 * y = gamma * (x - mu_B) / sqrt(var_B + eps) + beta. No state.
 */
import { predictOnce, type MethodDefinition } from '@edgetta/core';

export type NormOptions = Record<string, never>;

export const norm: MethodDefinition<NormOptions> = {
  name: 'norm',
  summary: 'Test-batch statistics in every BatchNorm layer (AdaBN / TBN).',
  paper: 'Schneider et al., NeurIPS 2020; Li et al., AdaBN, 2017.',
  defaults: {},
  optionSpecs: {},
  minBatchSize: {
    size: 2,
    reason:
      "'norm' normalizes with the statistics of the test batch, and one image is too little for them (they then come from its own pixels and erase its content); use 'alpha-bn', which mixes in the source statistics, for single images",
  },
  passes: {
    predict: {
      norm: ({ ops, x, gamma, beta, layer }) => ({ y: ops.batchNormTrain(x, gamma, beta, layer.epsilon).y }),
    },
  },
  step: predictOnce,
};
