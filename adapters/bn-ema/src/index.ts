/**
 * bn-ema: running averages of test-batch statistics (MD-TTA `norm_ema`, tta-spec 3.5), after
 * PyTorch's train-mode BatchNorm (Ioffe & Szegedy, ICML 2015) applied at test time.
 *
 * Update rule, per batch: (a) a forward in train mode normalizes every layer with its batch
 * statistics and updates mean <- (1 - m) mean + m mu_B, var <- (1 - m) var + m var_B_unbiased
 * (its output is discarded); (b) a forward in eval mode normalizes with the updated running
 * statistics, and its logits are returned. Two forwards per batch, by definition.
 *
 * `passes: 1` is a faster variant (not MD-TTA's): one forward in which every layer updates its
 * running statistics from the batch it sees and normalizes with the updated ones (the rule of
 * RoTTA's robust BN, with PyTorch's unbiased running variance).
 */
import { batchAxes, evalModeBatchNorm, mixStatistics, unbiasedVariance, sourceRunningStats, trainModeBatchNorm, type MethodDefinition, type NormArgs, type NormResult } from '@edgetta/core';

export interface BnEmaOptions {
  /**
   * Weight of the new batch in the running average (PyTorch's BatchNorm momentum).
   * @defaultValue 0.1
   */
  momentum: number;
  /**
   * 2: MD-TTA's two forwards (train-mode update, then eval-mode prediction). 1: one forward that
   * updates each layer and normalizes with the updated statistics.
   * @defaultValue 2
   */
  passes: number;
}

/** Single-forward variant: EMA-update the layer's statistics from the batch, normalize with the result. */
function updateThenNormalize<T>(args: NormArgs<T, BnEmaOptions>): NormResult<T> {
  const { ops, x, gamma, beta, layer, state, options } = args;
  const { mean, variance } = ops.moments(x, batchAxes(layer.rank));
  const batch = { mean, variance: unbiasedVariance(ops, x, variance, layer.rank) };
  const mixed = mixStatistics(ops, { mean: state.mean, variance: state.variance }, batch, options.momentum);
  return { y: ops.batchNorm(x, gamma, beta, mixed.mean, mixed.variance, layer.epsilon), state: { ...mixed } };
}

export const bnEma: MethodDefinition<BnEmaOptions> = {
  name: 'bn-ema',
  summary: 'Running average of test-batch statistics, then normalize with it (two forwards per batch).',
  paper: 'MD-TTA norm_ema (Marsden & Döbler); PyTorch train-mode BatchNorm.',
  defaults: { momentum: 0.1, passes: 2 },
  optionSpecs: {
    momentum: { doc: 'weight of the new batch statistics, in (0, 1]', greaterThan: 0, max: 1 },
    passes: { doc: '2 (update forward + predict forward, MD-TTA) or 1 (single fused forward)', min: 1, max: 2, integer: true },
  },
  minBatchSize: {
    size: 2,
    reason: "'bn-ema' updates its running statistics from test-batch statistics, which one image does not give; use 'alpha-bn' for single images",
  },
  initLayerState: sourceRunningStats,
  passes: {
    update: {
      reads: ['mean', 'variance'],
      writes: ['mean', 'variance'],
      norm: (args) => trainModeBatchNorm(args, args.ops.scalar(args.options.momentum)),
    },
    predict: { reads: ['mean', 'variance'], norm: evalModeBatchNorm },
    fused: { reads: ['mean', 'variance'], writes: ['mean', 'variance'], norm: updateThenNormalize },
  },
  async step(ctx) {
    if (ctx.options.passes === 1) return ctx.run('fused');
    await ctx.run('update');
    return ctx.run('predict');
  },
};
