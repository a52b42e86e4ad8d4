/**
 * eta: efficient test-time adaptation without forgetting, without the anti-forgetting term.
 * Niu, Wu, Zhang, Chen, Zheng, Zhao & Tan, "Efficient Test-Time Model Adaptation without
 * Forgetting", ICML 2022 (mr-eggplant/EATA). tta-spec 4.2. EATA (`@edgetta/adapter-eata`) is this
 * method plus the Fisher regularizer; both are built by `sampleEfficientEntropy` below.
 *
 * Update rule, per batch:
 *   z = f(x) with batch-statistics BatchNorm, H_b = H(softmax(z_b)), E0 = e0Factor * ln K;
 *   reliable S1 = {b : H_b < E0};
 *   non-redundant S2 = {b in S1 : |cos(p_b, m)| < margin} once the moving-average prediction m
 *     exists (else S2 = S1);
 *   L = mean_{b in S2} exp(E0 - H_b) * H_b (weights detached);
 *   if S2 is not empty: Adam step on every BatchNorm gamma, beta;
 *   m <- 0.9 m + 0.1 mean_{S2} p_b (m = mean_{S1} p_b the first time).
 * Returns z (pre-update). Defaults follow MD-TTA's CIFAR-10-C config: Adam lr 1e-3, margin 0.4
 * (the paper's ImageNet value is 0.05), E0 = 0.4 ln K.
 */
import { etaOptionSpecs, sampleEfficientEntropy, type EtaOptions, type MethodDefinition } from '@edgetta/core';

export type { EtaOptions };
export { etaOptionSpecs };

export const eta: MethodDefinition<EtaOptions> = sampleEfficientEntropy<EtaOptions>({
  name: 'eta',
  summary: 'Entropy minimization on reliable, non-redundant samples, weighted by confidence (EATA without the Fisher term).',
  defaults: { lr: 1e-3, e0Factor: 0.4, margin: 0.4 },
  optionSpecs: etaOptionSpecs,
});
