/**
 * eata: efficient anti-forgetting test-time adaptation. Niu, Wu, Zhang, Chen, Zheng, Zhao & Tan,
 * "Efficient Test-Time Model Adaptation without Forgetting", ICML 2022 (mr-eggplant/EATA).
 * tta-spec 4.2.
 *
 * Update rule: ETA's (`sampleEfficientEntropy` of `@edgetta/core`, as `@edgetta/adapter-eta`: reliable and non-redundant samples,
 * weights exp(E0 - H), Adam on every BatchNorm gamma, beta) with the anti-forgetting term
 *   L += fisherWeight * sum_j F_j (theta_j - theta0_j)^2,
 * where F is the diagonal Fisher information of the parameters on clean source data and theta0 the
 * parameters it was computed at. Provide the source data once, before adapting:
 *   const s = await AdaptiveSession.create(model, { method: 'eata' });
 *   await s.calibrate(cleanBatches);   // feeds like run()'s; the Fisher survives reset()
 * F = mean over the batches of (d CE(z, argmax z) / d theta)^2 (the paper uses 2,000 samples).
 * Without calibration F = 0 and EATA behaves as ETA.
 */
import { etaOptionSpecs, fisherAnchor, sampleEfficientEntropy, type EtaOptions, type FisherAnchorOptions, type MethodDefinition, type OptionSpec } from '@edgetta/core';

/** ETA's options plus the anchor's weight. */
export type EataOptions = EtaOptions & FisherAnchorOptions;

const specs: Record<keyof EataOptions, OptionSpec> = {
  ...etaOptionSpecs,
  fisherWeight: { doc: 'weight beta_F of the Fisher regularizer (>= 0)', min: 0 },
};

export const eata: MethodDefinition<EataOptions> = sampleEfficientEntropy<EataOptions>({
  name: 'eata',
  summary: 'ETA plus a Fisher-weighted anchor to the source parameters (calibrate() with clean source batches).',
  anchor: fisherAnchor,
  defaults: { lr: 1e-3, e0Factor: 0.4, margin: 0.4, fisherWeight: 1 },
  optionSpecs: specs,
});
