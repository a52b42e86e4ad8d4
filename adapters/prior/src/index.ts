/**
 * prior: prior correction of the answers, after ROID (Marsden, Döbler & Yang, "Universal
 * Test-time Adaptation through Weight Ensembling, Diversity Weighting, and Prior Correction",
 * WACV 2024). On a label-correlated stream a batch holds a few classes; reweighting each answer by
 * the batch's (smoothed) class prior moves borderline samples to the classes the batch is made of.
 *
 * Per batch of probabilities p [N, K]:
 *   pi = mean_i p_i;  s = max(1/N, 1/K) / max_k pi_k;  pi~ = (pi + s) / (1 + s K)
 *   answer p~_i ∝ p_i * pi~   (logits z_i + log pi~; argmax unchanged when pi is uniform)
 * `scaleLogits` applies the public ROID code's form instead, z_i * pi~ (it multiplies the logits,
 * not the probabilities).
 */
import { softmaxRows, type OutputStage, type StageInput } from '@edgetta/core';

export interface PriorOptions {
  /** Multiply the logits by the smoothed prior (ROID's code) instead of the probabilities (its paper). @defaultValue false */
  scaleLogits: boolean;
}

/** The smoothed batch prior pi~ [K] of logits [N, K]. */
export function smoothedPrior(logits: Float32Array, n: number, k: number): Float64Array {
  const p = softmaxRows(logits, n, k);
  const pi = new Float64Array(k);
  for (let i = 0; i < n * k; i++) pi[i % k] += p[i] / n;
  const smooth = Math.max(1 / n, 1 / k) / Math.max(...pi);
  return pi.map((v) => (v + smooth) / (1 + smooth * k));
}

export function priorAdjust({ logits, options }: StageInput<PriorOptions>): Float32Array {
  const [n, k] = logits.dims;
  const prior = smoothedPrior(logits.data, n, k);
  const out = new Float32Array(n * k);
  for (let i = 0; i < n * k; i++) out[i] = options.scaleLogits ? logits.data[i] * prior[i % k] : logits.data[i] + Math.log(prior[i % k]);
  return out;
}

export const priorStage: OutputStage<PriorOptions> = {
  name: 'prior',
  summary: "Reweights each answer by the batch's smoothed class prior (ROID's prior correction).",
  paper: 'Marsden et al., Universal Test-time Adaptation (ROID), WACV 2024',
  defaults: { scaleLogits: false },
  optionSpecs: { scaleLogits: { doc: "multiply the logits by the prior (ROID's code) instead of the probabilities", type: 'boolean' } },
  adjust: priorAdjust,
};
