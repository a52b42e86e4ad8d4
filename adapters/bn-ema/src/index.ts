/**
 * bn-ema: running averages of test-batch statistics (MD-TTA `norm_ema`, tta-spec 3.5), after
 * PyTorch's train-mode BatchNorm (Ioffe & Szegedy, ICML 2015) applied at test time.
 *
 * Update rule, per batch: (a) a forward in train mode normalizes every layer with its batch
 * statistics and updates mean <- (1 - m) mean + m mu_B, var <- (1 - m) var + m var_B_unbiased
 * (its output is discarded); (b) a forward in eval mode normalizes with the updated running
 * statistics, and its logits are returned. Two forwards per batch, by definition.
 */
import { evalModeBatchNorm, sourceRunningStats, trainModeBatchNorm, type MethodDefinition } from '@edgetta/core';

export interface BnEmaOptions {
  /**
   * Weight of the new batch in the running average (PyTorch's BatchNorm momentum).
   * @defaultValue 0.1
   */
  momentum: number;
}

export const bnEma: MethodDefinition<BnEmaOptions> = {
  name: 'bn-ema',
  summary: 'Running average of test-batch statistics, then normalize with it (two forwards per batch).',
  paper: 'MD-TTA norm_ema (Marsden & Döbler); PyTorch train-mode BatchNorm.',
  defaults: { momentum: 0.1 },
  optionSpecs: { momentum: { doc: 'weight of the new batch statistics, in (0, 1]', greaterThan: 0, max: 1 } },
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
  },
  async step(ctx) {
    await ctx.run('update');
    return ctx.run('predict');
  },
};
