/**
 * eata: efficient anti-forgetting test-time adaptation. Niu, Wu, Zhang, Chen, Zheng, Zhao & Tan,
 * "Efficient Test-Time Model Adaptation without Forgetting", ICML 2022 (mr-eggplant/EATA).
 * tta-spec 4.2. Built on core's `sampleSelectiveEntropy` (ETA's objective, as
 * `@edgetta/adapter-eta`) composed with the loss term `fisherAnchor`.
 *
 * Update rule, per batch:
 *   z = f(x) with batch-statistics BatchNorm, H_b = H(softmax(z_b)), E0 = e0Factor * ln K;
 *   reliable S1 = {b : H_b < E0};
 *   non-redundant S2 = {b in S1 : |cos(p_b, m)| < margin} once the moving-average prediction m
 *     exists (else S2 = S1);
 *   L = mean_{b in S2} exp(E0 - H_b) * H_b (weights detached)
 *       + fisherWeight * sum_j F_j (theta_j - theta0_j)^2   (the anti-forgetting term);
 *   if S2 is not empty: Adam step on every BatchNorm gamma, beta;
 *   m <- 0.9 m + 0.1 mean_{S2} p_b (m = mean_{S1} p_b the first time).
 * Returns z (pre-update). F is the diagonal Fisher information of the parameters on clean source
 * data and theta0 the parameters it was computed at. Provide the source data once, before adapting:
 *   const s = await AdaptiveSession.create(model, { method: 'eata' });
 *   await s.calibrate(cleanBatches);   // feeds like run()'s; the Fisher survives reset()
 * F = mean over the batches of (d CE(z, argmax z) / d theta)^2 (the paper uses 2,000 samples).
 * Without calibration F = 0 and EATA behaves as ETA. Defaults follow MD-TTA's CIFAR-10-C config.
 */
import {
  fisherAnchor,
  fisherAnchorOptionSpecs,
  sampleSelectionOptionSpecs,
  sampleSelectiveEntropy,
  type FisherAnchorOptions,
  type MethodDefinition,
  type OptionSpec,
  type SampleSelectionOptions,
} from '@edgetta/core';

export interface EataOptions extends SampleSelectionOptions, FisherAnchorOptions {
  /** Adam learning rate. @defaultValue 1e-3 */
  lr: number;
  /** E0 = e0Factor * ln K: samples with a larger entropy are unreliable. @defaultValue 0.4 */
  e0Factor: number;
  /**
   * Redundancy margin on |cos(p_b, m)|: samples closer to the moving-average prediction are
   * dropped. 0.4 on CIFAR (MD-TTA), 0.05 on ImageNet (the paper). @defaultValue 0.4
   */
  margin: number;
  /** beta_F, weight of the Fisher regularizer (1 on CIFAR-10-C in MD-TTA, 2000 on ImageNet). @defaultValue 1 */
  fisherWeight: number;
}

const specs: Record<keyof EataOptions, OptionSpec> = { ...sampleSelectionOptionSpecs, ...fisherAnchorOptionSpecs };

export const eata: MethodDefinition<EataOptions> = sampleSelectiveEntropy<EataOptions>({
  name: 'eata',
  summary: 'ETA plus a Fisher-weighted anchor to the source parameters (calibrate() with clean source batches).',
  paper: 'Niu et al., Efficient Test-Time Model Adaptation without Forgetting, ICML 2022.',
  defaults: { lr: 1e-3, e0Factor: 0.4, margin: 0.4, fisherWeight: 1 },
  optionSpecs: specs,
  terms: [fisherAnchor],
});
