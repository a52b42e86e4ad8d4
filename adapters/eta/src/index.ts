/**
 * eta: efficient test-time adaptation without forgetting, without the anti-forgetting term.
 * Niu, Wu, Zhang, Chen, Zheng, Zhao & Tan, "Efficient Test-Time Model Adaptation without
 * Forgetting", ICML 2022 (mr-eggplant/EATA). tta-spec 4.2. Built on core's `sampleSelectiveEntropy`
 * with no further loss term (EATA, `@edgetta/adapter-eata`, adds the Fisher anchor to it).
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
import { sampleSelectionOptionSpecs, sampleSelectiveEntropy, type MethodDefinition, type OptionSpec, type SampleSelectionOptions } from '@edgetta/core';

export interface EtaOptions extends SampleSelectionOptions {
  /** Adam learning rate. @defaultValue 1e-3 */
  lr: number;
  /** E0 = e0Factor * ln K: samples with a larger entropy are unreliable. @defaultValue 0.4 */
  e0Factor: number;
  /**
   * Redundancy margin on |cos(p_b, m)|: samples closer to the moving-average prediction are
   * dropped. 0.4 on CIFAR (MD-TTA), 0.05 on ImageNet (the paper). @defaultValue 0.4
   */
  margin: number;
}

export const etaOptionSpecs: Record<keyof EtaOptions, OptionSpec> = { ...sampleSelectionOptionSpecs };

export const eta: MethodDefinition<EtaOptions> = sampleSelectiveEntropy<EtaOptions>({
  name: 'eta',
  summary: 'Entropy minimization on reliable, non-redundant samples, weighted by confidence (EATA without the Fisher term).',
  paper: 'Niu et al., Efficient Test-Time Model Adaptation without Forgetting, ICML 2022.',
  defaults: { lr: 1e-3, e0Factor: 0.4, margin: 0.4 },
  optionSpecs: etaOptionSpecs,
  terms: [],
});
