/**
 * sar: sharpness-aware and reliable entropy minimization. Niu, Wu, Zhang, Wen, Chen, Zhao & Tan,
 * "Towards Stable Test-Time Adaptation in Dynamic Wild World", ICLR 2023 (mr-eggplant/SAR).
 * tta-spec 4.3.
 *
 * Update rule, per batch (E0 = e0Factor * ln K):
 *   1. z = f(x) (batch-statistics BatchNorm), S1 = {b : H_b < E0}, L1 = mean_{S1} H_b, g1 = dL1/dtheta;
 *   2. SAM ascent: theta' = theta + rho * g1 / ||g1||_2;
 *   3. z' = f(x; theta'), S2 = {b in S1 : H'_b < E0}, L2 = mean_{S2} H'_b, g2 = dL2/dtheta at theta';
 *   4. e <- 0.9 e + 0.1 L2 (e = L2 the first time);
 *   5. back to theta, SGD step (momentum 0.9) with g2;
 *   6. if e < resetThreshold (0.2): recover the model — parameters and optimizer back to the
 *      source, e forgotten (reported as the event 'reset').
 * Returns z from step 1. Two forward-backward runs per batch. An empty S1 or S2, or a non-finite
 * loss, skips the update (the parameters stay at theta).
 *
 * Trainable layers: SAR leaves the deepest stage out (ResNet-50 layer4, ViT blocks 9-11). By default
 * (`excludeDeepest: -1`) the BatchNorm layers at the smallest spatial resolution are excluded: on
 * the CIFAR ResNet-20 that is stage 3 (8x8 maps), the last 6 of its 19 BatchNorm layers; 13 train.
 * Set `excludeDeepest` to n >= 0 to exclude exactly the last n layers in graph order (0 trains all).
 * The excluded layers still normalize with batch statistics. Defaults follow MD-TTA's CIFAR config:
 * SGD lr 1e-3 with momentum 0.9, rho 0.05.
 */
import {
  affinePredictPass,
  applyGradients,
  batchStatsNorm,
  entropyThreshold,
  reinitialize,
  reliableEntropyLoss,
  sam as samStep,
  sgd,
  sourceAffine,
  type LayerSource,
  type MethodDefinition,
  type UpdateReport,
} from '@edgetta/core';

export interface SarOptions {
  /** SGD learning rate. @defaultValue 1e-3 */
  lr: number;
  /** SGD momentum. @defaultValue 0.9 */
  momentum: number;
  /** SAM neighbourhood radius rho. @defaultValue 0.05 */
  rho: number;
  /** E0 = e0Factor * ln K. @defaultValue 0.4 */
  e0Factor: number;
  /** Model recovery when the entropy moving average falls below this. @defaultValue 0.2 */
  resetThreshold: number;
  /** BatchNorm layers left out of adaptation, counted from the deepest; -1 = the deepest stage (smallest maps). @defaultValue -1 */
  excludeDeepest: number;
}

const EMA = 'sar.ema';
const optimizer = (o: SarOptions) => sgd({ lr: o.lr, momentum: o.momentum });
const layerInit = (layer: LayerSource, o: SarOptions) => ({ ...sourceAffine(layer), ...optimizer(o).slots(['gamma', 'beta'], layer.channels) });
/** [value, valid] */
const noEma = () => new Float32Array(2);

/** Indices of the layers SAR leaves out. */
export function excludedLayers(layers: readonly LayerSource[], excludeDeepest: number): Set<number> {
  if (excludeDeepest >= 0) return new Set(layers.slice(Math.max(0, layers.length - excludeDeepest)).map((l) => l.index));
  if (layers.some((l) => !l.inputDims)) return new Set();
  // Positions per sample and channel: H*W for NCHW BatchNorm inputs, also for channels-last LayerNorm inputs [N, H, W, C].
  const area = (l: LayerSource) => l.inputDims!.slice(1).reduce((a, b) => a * b, 1) / l.channels;
  const smallest = Math.min(...layers.map(area));
  // Only a proper deepest stage: when every layer has the same resolution, nothing is excluded.
  if (layers.every((l) => area(l) === smallest)) return new Set();
  return new Set(layers.filter((l) => area(l) === smallest).map((l) => l.index));
}

export const sar: MethodDefinition<SarOptions> = {
  name: 'sar',
  summary: 'Reliable entropy with a sharpness-aware (SAM) update and model recovery; deepest stage frozen.',
  paper: 'Niu et al., Towards Stable Test-Time Adaptation in Dynamic Wild World, ICLR 2023.',
  defaults: { lr: 1e-3, momentum: 0.9, rho: 0.05, e0Factor: 0.4, resetThreshold: 0.2, excludeDeepest: -1 },
  optionSpecs: {
    lr: { doc: 'SGD learning rate (> 0)', greaterThan: 0 },
    momentum: { doc: 'SGD momentum, in [0, 1)', min: 0, max: 0.999999 },
    rho: { doc: 'SAM radius (>= 0)', min: 0 },
    e0Factor: { doc: 'entropy threshold as a fraction of ln K (> 0)', greaterThan: 0 },
    resetThreshold: { doc: 'recover the model when the entropy moving average falls below this (>= 0)', min: 0 },
    excludeDeepest: { doc: 'BatchNorm layers left out, counted from the deepest (-1 = the deepest stage)', min: -1, integer: true },
  },
  // SAR was designed for GroupNorm/LayerNorm models: their sites keep per-sample statistics.
  appliesTo: { sites: ['batch-norm', 'layer-norm', 'group-norm'], outputs: ['classifier'] },
  minBatchSize: {
    size: 2,
    reason: "'sar' normalizes its BatchNorm layers with test-batch statistics, which one image does not give; use 'alpha-bn' for single images",
  },
  initLayerState(layer, o) {
    return layerInit(layer, o);
  },
  initState: (o) => ({ ...optimizer(o).init(), [EMA]: noEma() }),
  passes: {
    adapt: {
      reads: ['gamma', 'beta'],
      grads: ['gamma', 'beta'],
      trainable: (layer, o, layers) => !excludedLayers(layers, o.excludeDeepest).has(layer.index),
      norm: batchStatsNorm,
      loss: {
        build: ({ ops, logits, options }) => {
          const r = reliableEntropyLoss(ops, logits, { e0: entropyThreshold(ops, logits, options.e0Factor) });
          return { loss: r.loss, outputs: { mask: r.mask, count: r.count } };
        },
      },
    },
    sharp: {
      reads: ['gamma', 'beta'],
      grads: ['gamma', 'beta'],
      trainable: (layer, o, layers) => !excludedLayers(layers, o.excludeDeepest).has(layer.index),
      norm: batchStatsNorm,
      loss: {
        inputs: ['mask'],
        inputDims: { mask: ['batch'] },
        build: ({ ops, logits, options, inputs }) => {
          const r = reliableEntropyLoss(ops, logits, { e0: entropyThreshold(ops, logits, options.e0Factor), mask: inputs.mask });
          return { loss: r.loss, outputs: { count: r.count } };
        },
      },
    },
    predict: affinePredictPass(),
  },
  async step(ctx) {
    const o = ctx.options;
    const first = await ctx.run('adapt');
    const count1 = first.extras!.count.data[0];
    const skip = (skipped: string, loss = first.loss): UpdateReport => ({ applied: false, skipped, loss, samples: count1 });
    if (!Number.isFinite(first.loss!)) return { ...first, update: skip(`non-finite loss (${first.loss})`) };
    if (!(count1 > 0)) return { ...first, update: skip('no reliable sample in the batch') };
    const ascent = samStep.ascend(ctx.state, first.grads!, o.rho);
    if (!ascent.applied) return { ...first, update: skip(ascent.skipped!) };
    const second = await ctx.run('sharp', { inputs: { mask: first.extras!.mask } });
    const count2 = second.extras!.count.data[0];
    const restore = () => {
      for (const [k, v] of Object.entries(ascent.saved)) ctx.state.set(k, v.slice());
    };
    if (!(count2 > 0) || !Number.isFinite(second.loss!)) {
      restore();
      return { ...first, update: skip(count2 > 0 ? `non-finite loss at the perturbed point (${second.loss})` : 'no reliable sample at the perturbed point', second.loss) };
    }
    const ema = ctx.state.get(EMA);
    const e = ema[1] > 0 ? 0.9 * ema[0] + 0.1 * second.loss! : second.loss!;
    restore();
    const update: UpdateReport = { ...applyGradients(ctx.state, optimizer(o), second), samples: count2 };
    ctx.state.set(EMA, Float32Array.of(e, 1));
    if (e < o.resetThreshold) {
      reinitialize(ctx, (l) => layerInit(l, o), { ...optimizer(o).init(), [EMA]: noEma() });
      update.events = ['reset'];
    }
    return { ...first, update };
  },
};

