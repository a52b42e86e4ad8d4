import { compose, entropyObjective, withOutputStage, type MethodDefinition } from '@edgetta/core';
import { source } from '@edgetta/adapter-source';
import { priorStage } from '@edgetta/adapter-prior';
import { unmixTnsPolicy } from '@edgetta/adapter-unmix-tns';
import { balancedBnPolicy } from '@edgetta/adapter-balanced-bn';
import { lameStage } from '@edgetta/adapter-lame';
import { batchStats, roidObjective } from '@edgetta/adapter-roid';

/**
 * Presets: methods composed from a normalization policy and an objective, no new method code.
 * `unmix-tns+tent`: UnMix-TNS statistics with Tent's entropy minimization of the BN affine
 * parameters; lr 1e-5 as UnMix-TNS's run scripts set it for gradient methods on CIFAR (tta-spec 3.7).
 * `auto`: class-balanced statistics (`balanced-bn`, eta 0.01, the source weighing as 32 samples per
 * class) with LAME on the batches that hold few classes (effective class share <= 0.8); one forward,
 * no backward. `auto-grad`: the same with ROID's objective over the BN affine parameters. The
 * choices and their measurements: docs/unknown-streams.md.
 */
/** `lame`: the unadapted model's answers, LAME-adjusted (the paper's setting). Any classifier with a linear head. */
export const lame: MethodDefinition<any> = {
  ...withOutputStage(source, lameStage, 'lame'),
  summary: "LAME: the source model's answers adjusted over the batch's feature affinity (no backward; label-correlated streams).",
};

/** `roid`: ROID's objective on batch statistics, answers prior-corrected as ROID's code does (logits times the prior). */
export const roid = compose({
  name: 'roid',
  norm: batchStats,
  objective: roidObjective,
  output: priorStage,
  defaults: { scaleLogits: true },
  summary: 'ROID: diversity- and certainty-weighted soft-likelihood-ratio loss, weight ensembling with the source, prior-corrected answers.',
});

export const presets: readonly MethodDefinition<any>[] = [
  compose({ name: 'unmix-tns+tent', norm: unmixTnsPolicy, objective: entropyObjective, defaults: { lr: 1e-5 } }),
  compose({ name: 'auto', norm: balancedBnPolicy, output: lameStage, defaults: { priorCount: 32, eta: 0.01, maxDiversity: 0.8 } }),
  compose({ name: 'auto-grad', norm: balancedBnPolicy, objective: roidObjective, output: lameStage, defaults: { priorCount: 32, eta: 0.01, maxDiversity: 0.8 } }),
];
