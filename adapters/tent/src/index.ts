/**
 * tent: test entropy minimization. Wang, Shelhamer, Liu, Olshausen & Darrell, "Tent: Fully
 * Test-Time Adaptation by Entropy Minimization", ICLR 2021 (DequanWang/tent). tta-spec 4.1.
 *
 * Update rule, per batch (repeated `steps` times):
 *   z = f(x) with every BatchNorm normalizing by the batch mean and biased variance;
 *   L = (1/B) sum_b H(softmax(z_b));
 *   g = dL/d(gamma, beta) of every BatchNorm (one run: the compiled graph returns z, L and g);
 *   (gamma, beta) <- Adam(g), lr 1e-3, betas (0.9, 0.999), no weight decay.
 * Returns z, the logits of the adapting forward (before its update). `episodic` resets the
 * parameters and the optimizer to the source before every batch. A non-finite loss or a step that
 * would make a parameter non-finite is skipped and reported (stats.lastUpdate), state unchanged.
 */
import {
  adam,
  affinePredictPass,
  applyGradients,
  batchStatsNorm,
  meanEntropyLoss,
  reinitialize,
  sourceAffine,
  type LayerSource,
  type MethodDefinition,
  type PassOutput,
  type UpdateReport,
} from '@edgetta/core';

export interface TentOptions {
  /** Adam learning rate. @defaultValue 1e-3 */
  lr: number;
  /** Adam beta1. @defaultValue 0.9 */
  beta1: number;
  /** Adam beta2. @defaultValue 0.999 */
  beta2: number;
  /** Adam L2 weight decay. @defaultValue 0 */
  weightDecay: number;
  /** Forward-and-update iterations per batch. @defaultValue 1 */
  steps: number;
  /** Reset parameters and optimizer to the source before every batch. @defaultValue false */
  episodic: boolean;
}

const optimizer = (o: TentOptions) => adam({ lr: o.lr, betas: [o.beta1, o.beta2], weightDecay: o.weightDecay });
const layerInit = (layer: LayerSource, o: TentOptions) => ({ ...sourceAffine(layer), ...optimizer(o).slots(['gamma', 'beta'], layer.channels) });

export const tent: MethodDefinition<TentOptions> = {
  name: 'tent',
  summary: 'Entropy minimization over the BatchNorm scales and biases (Adam, batch statistics).',
  paper: 'Wang et al., Tent: Fully Test-Time Adaptation by Entropy Minimization, ICLR 2021.',
  defaults: { lr: 1e-3, beta1: 0.9, beta2: 0.999, weightDecay: 0, steps: 1, episodic: false },
  optionSpecs: {
    lr: { doc: 'Adam learning rate (> 0)', greaterThan: 0 },
    beta1: { doc: 'Adam beta1, in [0, 1)', min: 0, max: 0.999999 },
    beta2: { doc: 'Adam beta2, in [0, 1)', min: 0, max: 0.999999 },
    weightDecay: { doc: 'Adam L2 weight decay (>= 0)', min: 0 },
    steps: { doc: 'updates per batch (>= 1)', min: 1, integer: true },
    episodic: { doc: 'reset to the source before every batch', type: 'boolean' },
  },
  // LayerNorm sites keep their per-sample statistics; Tent adapts their affine (as for ViTs).
  appliesTo: { sites: ['batch-norm', 'layer-norm', 'group-norm'] },
  minBatchSize: {
    size: 2,
    reason: "'tent' normalizes with test-batch statistics and minimizes the batch's entropy, which one image does not support; use 'alpha-bn' for single images",
  },
  initLayerState: layerInit,
  initState: (o) => optimizer(o).init(),
  passes: {
    adapt: {
      reads: ['gamma', 'beta'],
      grads: ['gamma', 'beta'],
      norm: batchStatsNorm,
      loss: { build: ({ ops, logits }) => ({ loss: meanEntropyLoss(ops, logits) }) },
    },
    predict: affinePredictPass(),
  },
  async step(ctx) {
    const o = ctx.options;
    if (o.episodic) reinitialize(ctx, (l) => layerInit(l, o), optimizer(o).init());
    let out!: PassOutput;
    let update!: UpdateReport;
    for (let s = 0; s < o.steps; s++) {
      out = await ctx.run('adapt');
      update = applyGradients(ctx.state, optimizer(o), out);
    }
    return { ...out, update };
  },
};
