/**
 * source (BN-0): no adaptation. Every BatchNormalization layer keeps its stored statistics,
 * y = gamma * (x - mu_s) / sqrt(var_s + eps) + beta (tta-spec 3.1). The baseline every method is
 * measured against; it reproduces the original model's logits, also for a model without any
 * normalization layer.
 */
import { predictOnce, type MethodDefinition } from '@edgetta/core';

export type SourceOptions = Record<string, never>;

export const source: MethodDefinition<SourceOptions> = {
  name: 'source',
  summary: 'No adaptation: the stored source statistics (the original model).',
  paper: 'Baseline (BN-0).',
  defaults: {},
  optionSpecs: {},
  // Runs any model: BatchNormalization layers keep their statistics, other layers are untouched.
  appliesTo: { sites: 'any' },
  passes: {
    predict: {
      norm: ({ ops, x, gamma, beta, source: s, layer }) => ({ y: ops.batchNorm(x, gamma, beta, s.mean, s.variance, layer.epsilon) }),
    },
  },
  step: predictOnce,
};
