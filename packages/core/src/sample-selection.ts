/**
 * Sample-selective entropy minimization, the objective of ETA and EATA (Niu, Wu, Zhang, Chen,
 * Zheng, Zhao & Tan, "Efficient Test-Time Model Adaptation without Forgetting", ICML 2022;
 * tta-spec 4.2), as a building block: `@edgetta/adapter-eta` is {@link sampleEfficientEntropy}
 * alone, `@edgetta/adapter-eata` the same composed with {@link fisherAnchor}. The update rules are
 * stated in those two method files.
 */
import { argmaxCrossEntropyLoss, entropyThreshold, reliableEntropyLoss, anchorPenalty } from './losses.js';
import { affinePredictPass, applyGradients, batchStatsNorm, softmaxRows, sourceAffine } from './gradient.js';
import { classCount, type LayerSource, type LossArgs, type MethodDefinition, type ModelInfo, type OptionSpec, type PassSpec, type UpdateReport } from './method.js';
import type { Ops } from './ops.js';
import { adam } from './optim.js';

export interface EtaOptions {
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


const AVERAGE = 'eata.average';
const ACTIVE = 'eata.active';

const optimizer = (o: EtaOptions) => adam({ lr: o.lr });

export const etaOptionSpecs: Record<keyof EtaOptions, OptionSpec> = {
  lr: { doc: 'Adam learning rate (> 0)', greaterThan: 0 },
  e0Factor: { doc: 'entropy threshold as a fraction of ln K (> 0)', greaterThan: 0 },
  margin: { doc: 'redundancy margin on |cosine| to the moving-average prediction, in (0, 1]', greaterThan: 0, max: 1 },
};

/**
 * A part added to the selective entropy: extra per-layer state, a loss term over the layers'
 * affine parameters, extra passes and a calibration (EATA's Fisher anchor is one).
 */
export interface AnchorPart<O extends object> {
  /** Per-layer state of the part, from the source parameters. */
  layerState(layer: LayerSource): Record<string, Float32Array>;
  /** The names of that state, read by the adapting pass. */
  reads: readonly string[];
  /** Loss term added to the selective entropy. */
  term<T>(ops: Ops<T>, layers: LossArgs<T, O>['layers'], options: O): T;
  passes?: Record<string, PassSpec<O>>;
  calibrate?: MethodDefinition<O>['calibrate'];
}

/**
 * ETA's method (reliable, non-redundant, confidence-weighted entropy; Adam on every BatchNorm
 * gamma and beta), optionally composed with an {@link AnchorPart} (EATA = ETA + {@link fisherAnchor}).
 */
export function sampleEfficientEntropy<O extends EtaOptions>(config: { name: string; summary: string; defaults: O; optionSpecs: Record<keyof O, OptionSpec>; anchor?: AnchorPart<O> }): MethodDefinition<O> {
  const { anchor } = config;
  const anchorKeys = anchor?.reads ?? [];
  const layerInit = (layer: LayerSource, o: O) => ({ ...sourceAffine(layer), ...optimizer(o).slots(['gamma', 'beta'], layer.channels), ...(anchor?.layerState(layer) ?? {}) });
  return {
    name: config.name,
    summary: config.summary,
    paper: 'Niu et al., Efficient Test-Time Model Adaptation without Forgetting, ICML 2022.',
    defaults: config.defaults,
    optionSpecs: config.optionSpecs,
    minBatchSize: {
      size: 2,
      reason: `'${config.name}' normalizes with test-batch statistics, which one image does not give; use 'alpha-bn' for single images`,
    },
    initLayerState: layerInit,
    initState(o: O, model?: ModelInfo) {
      const k = classCount(model);
      if (k === undefined) throw new Error(`${config.name}: the model's first output needs a declared class dimension (its last dim) for the moving-average prediction`);
      return { ...optimizer(o).init(), [AVERAGE]: new Float32Array(k), [ACTIVE]: new Float32Array(1) };
    },
    passes: {
      adapt: {
        reads: ['gamma', 'beta', ...anchorKeys],
        grads: ['gamma', 'beta'],
        norm: batchStatsNorm,
        loss: {
          reads: [AVERAGE, ACTIVE],
          build: ({ ops, logits, options, state, layers }) => {
            const e0 = entropyThreshold(ops, logits, options.e0Factor);
            const r = reliableEntropyLoss(ops, logits, { e0, weighted: true, redundancy: { average: state[AVERAGE], active: state[ACTIVE], margin: options.margin } });
            const loss = anchor ? ops.add(r.loss, anchor.term(ops, layers, options)) : r.loss;
            return { loss, outputs: { mask: r.mask, count: r.count } };
          },
        },
      },
      ...(anchor?.passes ?? {}),
      predict: affinePredictPass(),
    },
    async step(ctx) {
      const o = ctx.options;
      const out = await ctx.run('adapt');
      const mask = out.extras!.mask.data;
      const count = out.extras!.count.data[0];
      let update: UpdateReport;
      if (!(count > 0)) update = { applied: false, skipped: 'no reliable, non-redundant sample in the batch', loss: out.loss, samples: 0 };
      else update = { ...applyGradients(ctx.state, optimizer(o), out), samples: count };
      // The moving-average prediction follows the selected samples whether or not the step applied.
      if (count > 0) {
        const [n, k] = out.logits.dims;
        const p = softmaxRows(out.logits.data, n, k);
        const mean = new Float64Array(k);
        for (let b = 0; b < n; b++) if (mask[b] > 0) for (let j = 0; j < k; j++) mean[j] += p[b * k + j] / count;
        const active = ctx.state.get(ACTIVE)[0] > 0;
        const prev = ctx.state.get(AVERAGE);
        const next = Float32Array.from(mean, (v, j) => (active ? 0.9 * prev[j] + 0.1 * v : v));
        if (next.every(Number.isFinite)) {
          ctx.state.set(AVERAGE, next);
          ctx.state.set(ACTIVE, Float32Array.of(1));
        }
      }
      return { ...out, update };
    },
    ...(anchor?.calibrate ? { calibrate: anchor.calibrate } : {}),
  };
}


export interface FisherAnchorOptions {
  /** beta_F, weight of the Fisher regularizer (1 on CIFAR-10-C in MD-TTA, 2000 on ImageNet). @defaultValue 1 */
  fisherWeight: number;
}

/**
 * EATA's anti-forgetting term: fisherWeight * sum_j F_j (theta_j - theta0_j)^2 over every layer's
 * gamma and beta, with F the diagonal Fisher information on clean source batches, computed by
 * `calibrate` as the mean over batches of (d CE(z, argmax z) / d theta)^2, and theta0 the parameters
 * it was computed at. Uncalibrated, F = 0 (no penalty) and the anchors sit at the source.
 */
export const fisherAnchor: AnchorPart<EtaOptions & FisherAnchorOptions> = {
  layerState: (layer) => ({
    'fisher.gamma': new Float32Array(layer.channels),
    'fisher.beta': new Float32Array(layer.channels),
    'anchor.gamma': layer.gamma.slice(),
    'anchor.beta': layer.beta.slice(),
  }),
  reads: ['fisher.gamma', 'fisher.beta', 'anchor.gamma', 'anchor.beta'],
  term(ops, layers, options) {
    const terms = layers.flatMap((l) => [
      { param: l.gamma, anchor: l.state['anchor.gamma'], weight: l.state['fisher.gamma'] },
      { param: l.beta, anchor: l.state['anchor.beta'], weight: l.state['fisher.beta'] },
    ]);
    return anchorPenalty(ops, terms, options.fisherWeight);
  },
  passes: {
    fisher: {
      reads: ['gamma', 'beta'],
      grads: ['gamma', 'beta'],
      norm: batchStatsNorm,
      loss: { build: ({ ops, logits }) => ({ loss: argmaxCrossEntropyLoss(ops, logits) }) },
    },
  },
  /** Fisher diagonal from clean source batches; anchors = the current parameters. */
  async calibrate(ctx, batches) {
            const sums: Record<string, Float64Array> = {};
            for (const batch of batches) {
              const out = await ctx.run('fisher', { input: batch });
              for (const [key, g] of Object.entries(out.grads!)) {
                if (!g.every(Number.isFinite)) throw new Error(`eata.calibrate: non-finite gradient in '${key}'; check the calibration batches`);
                const s = (sums[key] ??= new Float64Array(g.length));
                for (let i = 0; i < g.length; i++) s[i] += g[i] * g[i];
              }
            }
            const entries: Record<string, Float32Array> = {};
            for (const [key, s] of Object.entries(sums)) {
              const [, idx, name] = key.split('.');
              entries[`layer.${idx}.fisher.${name}`] = Float32Array.from(s, (v) => v / batches.length);
              entries[`layer.${idx}.anchor.${name}`] = ctx.state.get(key).slice();
            }
            return entries;
  },
};
