/**
 * Sample-selective entropy minimization as a building block (the objective of Niu et al.,
 * "Efficient Test-Time Model Adaptation without Forgetting", ICML 2022; tta-spec 4.2), composed
 * with a list of further loss terms:
 *   - {@link sampleSelectiveEntropy}: the selective, confidence-weighted entropy over the samples
 *     that are reliable (H_b < E0 = e0Factor * ln K) and not redundant with the moving-average
 *     prediction m (|cos(p_b, m)| < margin), weights exp(E0 - H_b) detached, Adam on every
 *     BatchNorm gamma and beta, the step skipped when no sample is selected, and m updated from the
 *     selected samples; plus the sum of the given {@link LossTerm}s.
 *   - {@link fisherAnchor}: a term, the Fisher-weighted quadratic anchor to the source parameters,
 *     with its calibration on clean source batches.
 * `@edgetta/adapter-eta` is the selective entropy with no term, `@edgetta/adapter-eata` the same
 * with `[fisherAnchor]`; each method file states its update rule, citation and defaults.
 */
import { applyGradients, affinePredictPass, batchStatsNorm, softmaxRows, sourceAffine } from './gradient.js';
import { anchorPenalty, argmaxCrossEntropyLoss, entropyThreshold, reliableEntropyLoss } from './losses.js';
import { classCount, type Batch, type LayerSource, type LossArgs, type MethodDefinition, type ModelInfo, type OptionSpec, type PassSpec, type StepContext, type UpdateReport } from './method.js';
import { adam } from './optim.js';

/** Options of the selective entropy (a method documents its defaults). */
export interface SampleSelectionOptions {
  /** Adam learning rate. */
  lr: number;
  /** E0 = e0Factor * ln K: samples with a larger entropy are unreliable. */
  e0Factor: number;
  /** Redundancy margin on |cos(p_b, m)|: samples closer to the moving-average prediction m are dropped. */
  margin: number;
}

export const sampleSelectionOptionSpecs: { readonly [K in keyof SampleSelectionOptions]: OptionSpec } = {
  lr: { doc: 'Adam learning rate (> 0)', greaterThan: 0 },
  e0Factor: { doc: 'entropy threshold as a fraction of ln K (> 0)', greaterThan: 0 },
  margin: { doc: 'redundancy margin on |cosine| to the moving-average prediction, in (0, 1]', greaterThan: 0, max: 1 },
};

/**
 * A loss term added to the selective entropy, with what it needs: per-layer state (read by the
 * adapting pass, so the term can use it), extra passes and a calibration on clean source batches.
 */
export interface LossTerm<O> {
  /** Initial per-layer state of the term, from the source parameters. */
  layerState?(layer: LayerSource, options: O): Record<string, Float32Array>;
  /** Per-layer state names the adapting pass feeds to the loss (`args.layers[i].state`). */
  reads?: readonly string[];
  /** The term, a scalar added to the selective entropy. */
  build<T>(args: LossArgs<T, O>): T;
  /** Further passes (e.g. the one the calibration runs). */
  passes?: Record<string, PassSpec<O>>;
  /** State entries to set from clean source batches (kept across reset()); `method` names the method in errors. */
  calibrate?(ctx: StepContext<O>, batches: readonly Batch[], method: string): Promise<Record<string, Float32Array>>;
}

export interface SampleSelectiveEntropySpec<O extends SampleSelectionOptions> {
  name: string;
  summary: string;
  paper: string;
  defaults: O;
  optionSpecs: { readonly [K in keyof O]: OptionSpec };
  /** Loss terms added to the selective entropy, in order. @defaultValue [] */
  terms?: readonly LossTerm<O>[];
}

/** Method-level state: the moving-average prediction m [K] and whether it exists yet (named as EATA's, for snapshots). */
const AVERAGE = 'eata.average';
const ACTIVE = 'eata.active';
const PASSES = ['adapt', 'predict'];

const optimizer = (o: SampleSelectionOptions) => adam({ lr: o.lr });

/**
 * A method minimizing the sample-selective entropy plus `terms`. Per batch: pass 'adapt' (batch
 * statistics) gives z, the selection S2 and L = mean_{S2} exp(E0 - H_b) H_b + sum of the terms; if
 * S2 is empty the step is skipped, else Adam steps every gamma and beta; whenever S2 is not empty,
 * m <- 0.9 m + 0.1 mean_{S2} p_b (m = mean_{S1} p_b the first time, when S2 = S1). Answers with z
 * (pre-update).
 */
export function sampleSelectiveEntropy<O extends SampleSelectionOptions>(spec: SampleSelectiveEntropySpec<O>): MethodDefinition<O> {
  const terms = spec.terms ?? [];
  const extraPasses: Record<string, PassSpec<O>> = {};
  for (const t of terms) {
    for (const [k, p] of Object.entries(t.passes ?? {})) {
      if (PASSES.includes(k) || k in extraPasses) throw new Error(`sampleSelectiveEntropy('${spec.name}'): two parts define the pass '${k}'`);
      extraPasses[k] = p;
    }
  }
  const calibrating = terms.filter((t) => t.calibrate);
  return {
    name: spec.name,
    summary: spec.summary,
    paper: spec.paper,
    defaults: spec.defaults,
    optionSpecs: spec.optionSpecs,
    // Sample selection, redundancy and the Fisher anchor are per sample: one distribution each.
    appliesTo: { sites: ['batch-norm', 'layer-norm', 'group-norm'], outputs: ['classifier'] },
    minBatchSize: {
      size: 2,
      reason: `'${spec.name}' normalizes with test-batch statistics, which one image does not give; use 'alpha-bn' for single images`,
    },
    initLayerState: (layer: LayerSource, o: O) =>
      Object.assign({ ...sourceAffine(layer), ...optimizer(o).slots(['gamma', 'beta'], layer.channels) }, ...terms.map((t) => t.layerState?.(layer, o) ?? {})),
    initState(o: O, model?: ModelInfo) {
      const k = classCount(model);
      if (k === undefined) throw new Error(`${spec.name}: the model's first output needs a declared class dimension (its last dim) for the moving-average prediction`);
      return { ...optimizer(o).init(), [AVERAGE]: new Float32Array(k), [ACTIVE]: new Float32Array(1) };
    },
    passes: {
      adapt: {
        reads: ['gamma', 'beta', ...terms.flatMap((t) => t.reads ?? [])],
        grads: ['gamma', 'beta'],
        norm: batchStatsNorm,
        loss: {
          reads: [AVERAGE, ACTIVE],
          build: (args) => {
            const { ops, logits, options, state } = args;
            const e0 = entropyThreshold(ops, logits, options.e0Factor);
            const r = reliableEntropyLoss(ops, logits, { e0, weighted: true, redundancy: { average: state[AVERAGE], active: state[ACTIVE], margin: options.margin } });
            let loss = r.loss;
            for (const t of terms) loss = ops.add(loss, t.build(args));
            return { loss, outputs: { mask: r.mask, count: r.count } };
          },
        },
      },
      ...extraPasses,
      predict: affinePredictPass(),
    },
    async step(ctx) {
      const out = await ctx.run('adapt');
      const mask = out.extras!.mask.data;
      const count = out.extras!.count.data[0];
      let update: UpdateReport;
      if (!(count > 0)) update = { applied: false, skipped: 'no reliable, non-redundant sample in the batch', loss: out.loss, samples: 0 };
      else update = { ...applyGradients(ctx.state, optimizer(ctx.options), out), samples: count };
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
    ...(calibrating.length
      ? {
          async calibrate(ctx: StepContext<O>, batches: readonly Batch[]) {
            const entries: Record<string, Float32Array> = {};
            for (const t of calibrating) Object.assign(entries, await t.calibrate!(ctx, batches, spec.name));
            return entries;
          },
        }
      : {}),
  };
}

export interface FisherAnchorOptions {
  /** beta_F, the weight of the Fisher anchor (a method documents its default). */
  fisherWeight: number;
}

export const fisherAnchorOptionSpecs: { readonly [K in keyof FisherAnchorOptions]: OptionSpec } = {
  fisherWeight: { doc: 'weight beta_F of the Fisher regularizer (>= 0)', min: 0 },
};

/**
 * The Fisher anchor, fisherWeight * sum_j F_j (theta_j - theta0_j)^2 over every layer's gamma and
 * beta. Layer state `fisher.gamma`/`fisher.beta` (F, zero until calibrated: no penalty) and
 * `anchor.gamma`/`anchor.beta` (theta0, the source until calibrated). `calibrate` runs its pass
 * 'fisher' (batch statistics, CE to the model's own argmax labels) on each clean source batch and
 * sets F = mean over the batches of the squared gradients, theta0 = the current parameters.
 */
export const fisherAnchor: LossTerm<FisherAnchorOptions> = {
  layerState: (layer) => ({
    'fisher.gamma': new Float32Array(layer.channels),
    'fisher.beta': new Float32Array(layer.channels),
    'anchor.gamma': layer.gamma.slice(),
    'anchor.beta': layer.beta.slice(),
  }),
  reads: ['fisher.gamma', 'fisher.beta', 'anchor.gamma', 'anchor.beta'],
  build({ ops, layers, options }) {
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
  async calibrate(ctx, batches, method) {
    const sums: Record<string, Float64Array> = {};
    for (const batch of batches) {
      const out = await ctx.run('fisher', { input: batch });
      for (const [key, g] of Object.entries(out.grads!)) {
        if (!g.every(Number.isFinite)) throw new Error(`${method}.calibrate: non-finite gradient in '${key}'; check the calibration batches`);
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
