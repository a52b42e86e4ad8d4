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
 *   L = mean_{b in S2} exp(E0 - H_b) * H_b (weights detached) [+ fisherWeight * sum F (theta - theta0)^2];
 *   if S2 is not empty: Adam step on every BatchNorm gamma, beta;
 *   m <- 0.9 m + 0.1 mean_{S2} p_b (m = mean_{S1} p_b the first time).
 * Returns z (pre-update). Defaults follow MD-TTA's CIFAR-10-C config: Adam lr 1e-3, margin 0.4
 * (the paper's ImageNet value is 0.05), E0 = 0.4 ln K.
 */
import {
  adam,
  affinePredictPass,
  anchorPenalty,
  applyGradients,
  batchStatsNorm,
  argmaxCrossEntropyLoss,
  classCount,
  entropyThreshold,
  reliableEntropyLoss,
  softmaxRows,
  sourceAffine,
  type LayerSource,
  type MethodDefinition,
  type ModelInfo,
  type OptionSpec,
  type UpdateReport,
} from '@edgetta/core';

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

export interface EataOptions extends EtaOptions {
  /** beta_F, weight of the Fisher regularizer (1 on CIFAR-10-C in MD-TTA, 2000 on ImageNet). @defaultValue 1 */
  fisherWeight: number;
}

const AVERAGE = 'eata.average';
const ACTIVE = 'eata.active';

const optimizer = (o: EtaOptions) => adam({ lr: o.lr });

const etaSpecs: Record<keyof EtaOptions, OptionSpec> = {
  lr: { doc: 'Adam learning rate (> 0)', greaterThan: 0 },
  e0Factor: { doc: 'entropy threshold as a fraction of ln K (> 0)', greaterThan: 0 },
  margin: { doc: 'redundancy margin on |cosine| to the moving-average prediction, in (0, 1]', greaterThan: 0, max: 1 },
};

/**
 * The ETA / EATA definition. With `fisher`, the layer state carries the Fisher diagonal and its
 * anchors (computed by `calibrate` from clean source batches: CE to the model's own argmax labels,
 * squared gradients averaged over batches) and the loss adds the quadratic anchor penalty.
 */
export function sampleEfficientEntropy<O extends EtaOptions>(config: { name: string; summary: string; fisher: boolean; defaults: O; optionSpecs: Record<keyof O, OptionSpec> }): MethodDefinition<O> {
  const { fisher } = config;
  const fisherKeys = fisher ? ['fisher.gamma', 'fisher.beta', 'anchor.gamma', 'anchor.beta'] : [];
  const layerInit = (layer: LayerSource, o: O) => {
    const s: Record<string, Float32Array> = { ...sourceAffine(layer), ...optimizer(o).slots(['gamma', 'beta'], layer.channels) };
    if (fisher) {
      // Uncalibrated: zero Fisher (no penalty), anchors at the source.
      s['fisher.gamma'] = new Float32Array(layer.channels);
      s['fisher.beta'] = new Float32Array(layer.channels);
      s['anchor.gamma'] = layer.gamma.slice();
      s['anchor.beta'] = layer.beta.slice();
    }
    return s;
  };
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
        reads: ['gamma', 'beta', ...fisherKeys],
        grads: ['gamma', 'beta'],
        norm: batchStatsNorm,
        loss: {
          reads: [AVERAGE, ACTIVE],
          build: ({ ops, logits, options, state, layers }) => {
            const e0 = entropyThreshold(ops, logits, options.e0Factor);
            const r = reliableEntropyLoss(ops, logits, { e0, weighted: true, redundancy: { average: state[AVERAGE], active: state[ACTIVE], margin: options.margin } });
            let loss = r.loss;
            if (fisher) {
              const terms = layers.flatMap((l) => [
                { param: l.gamma, anchor: l.state['anchor.gamma'], weight: l.state['fisher.gamma'] },
                { param: l.beta, anchor: l.state['anchor.beta'], weight: l.state['fisher.beta'] },
              ]);
              loss = ops.add(loss, anchorPenalty(ops, terms, (options as unknown as EataOptions).fisherWeight));
            }
            return { loss, outputs: { mask: r.mask, count: r.count } };
          },
        },
      },
      ...(fisher
        ? {
            fisher: {
              reads: ['gamma', 'beta'],
              grads: ['gamma', 'beta'],
              norm: batchStatsNorm,
              loss: { build: ({ ops, logits }) => ({ loss: argmaxCrossEntropyLoss(ops, logits) }) },
            },
          }
        : {}),
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
    ...(fisher
      ? {
          /** Fisher diagonal from clean source batches: mean over batches of (d CE(own argmax) / d theta)^2; anchors = current theta. */
          async calibrate(ctx, batches) {
            const sums: Record<string, Float64Array> = {};
            for (const batch of batches) {
              const out = await ctx.run('fisher', { input: batch });
              for (const [key, g] of Object.entries(out.grads!)) {
                if (!g.every(Number.isFinite)) throw new Error(`${config.name}.calibrate: non-finite gradient in '${key}'; check the calibration batches`);
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
        }
      : {}),
  };
}

export const eta: MethodDefinition<EtaOptions> = sampleEfficientEntropy<EtaOptions>({
  name: 'eta',
  summary: 'Entropy minimization on reliable, non-redundant samples, weighted by confidence (EATA without the Fisher term).',
  fisher: false,
  defaults: { lr: 1e-3, e0Factor: 0.4, margin: 0.4 },
  optionSpecs: etaSpecs,
});

export const etaOptionSpecs = etaSpecs;
