/**
 * roid: certainty- and diversity-weighted soft likelihood ratio, weight ensembling and prior
 * correction. Marsden, Döbler & Yang, "Universal Test-time Adaptation through Weight Ensembling,
 * Diversity Weighting, and Prior Correction", WACV 2024 (mariodoebler/test-time-adaptation,
 * defaults of its CIFAR-10-C configuration; the augmentation-consistency term is left out, as its
 * second forward is what an edge device cannot spend).
 *
 * Per batch, with every BatchNorm normalizing by the batch statistics, logits z, p = softmax(z):
 *   w_div,i = 1 - cos(p_i, pbar);  w_div <- minmax(w_div);  mask_i = [w_div,i < mean(w_div)]
 *   w_cert,i = minmax(-H(p_i));     w_i = exp(w_div,i w_cert,i / T) (1 - mask_i)      (no gradient)
 *   SLR_i = -sum_c q_ic log(q_ic / (1 - q_ic) + 1e-5),  q = min(p, 0.99)
 *   L = (1/B) sum_i w_i SLR_i;  (gamma, beta) <- Adam(dL/d(gamma, beta)), lr 1e-3
 *   pbar <- m_p pbar + (1 - m_p) mean_i p_i                       (pbar starts uniform, m_p = 0.9)
 *   (gamma, beta) <- m_s (gamma, beta) + (1 - m_s) (gamma_0, beta_0)           (m_s = 0.99)
 * minmax(v) = (v - min v) / max(max v - min v, 1e-12) (the code divides by 0 on a constant batch).
 * The answer: z of the adapting forward, prior-corrected (the `prior` stage; ROID's code multiplies
 * the logits by the smoothed prior, `scaleLogits: true` here by default to reproduce it). The
 * method is composed in @edgetta/sdk's presets (adapters do not depend on each other).
 */
import { adam, batchStatsNorm, sampleEntropy, softmaxRows, sourceAffine, layerKey, type NormPolicy, type Objective, type Ops, type StepContext, type PassOutput, classCount } from '@edgetta/core';

export interface RoidObjectiveOptions {
  /** Adam learning rate. @defaultValue 1e-3 */
  lr: number;
  /** Adam beta1. @defaultValue 0.9 */
  beta1: number;
  /** Adam beta2. @defaultValue 0.999 */
  beta2: number;
  /** Temperature T of the sample weights. @defaultValue 1/3 */
  temperature: number;
  /** Momentum m_p of the class-probability average pbar. @defaultValue 0.9 */
  momentumProbs: number;
  /** Momentum m_s of the weight ensembling with the source parameters (1 = off). @defaultValue 0.99 */
  momentumSrc: number;
}

const PROBS = 'roid.probs';

/** (v - min v) / max(max v - min v, 1e-12) over a [N] vector. */
function minmax<T>(ops: Ops<T>, v: T): T {
  const lo = ops.sub(ops.scalar(0), ops.reduceMax(ops.sub(ops.scalar(0), v), [0], true));
  const hi = ops.reduceMax(v, [0], true);
  return ops.div(ops.sub(v, lo), ops.maximum(ops.sub(hi, lo), ops.scalar(1e-12)));
}

/** ROID's weighted soft-likelihood-ratio loss; `weights` and `selected` are returned for the step's report. */
export function roidLoss<T>(ops: Ops<T>, logits: T, probsEma: T, temperature: number): { loss: T; weights: T; selected: T } {
  const p = ops.softmax(logits, 1);
  const P = ops.stopGradient(p);
  const ema = ops.reshape(probsEma, [1, -1]);
  const l2 = (a: T) => ops.sqrt(ops.reduceSum(ops.mul(a, a), [1], false));
  const cos = ops.div(ops.reduceSum(ops.mul(P, ema), [1], false), ops.maximum(ops.mul(l2(P), l2(ema)), ops.scalar(1e-8)));
  const div = minmax(ops, ops.sub(ops.scalar(1), cos));
  const keep = ops.sub(ops.scalar(1), ops.less(div, ops.reduceMean(div, [0], true)));
  const cert = minmax(ops, ops.sub(ops.scalar(0), sampleEntropy(ops, ops.stopGradient(logits))));
  const weights = ops.stopGradient(ops.mul(ops.exp(ops.div(ops.mul(div, cert), ops.scalar(temperature))), keep));
  const q = ops.sub(ops.scalar(0), ops.maximum(ops.sub(ops.scalar(0), p), ops.scalar(-0.99)));
  const ratio = ops.add(ops.div(q, ops.sub(ops.scalar(1), q)), ops.scalar(1e-5));
  const slr = ops.sub(ops.scalar(0), ops.reduceSum(ops.mul(q, ops.log(ratio)), [1], false));
  const n = ops.count(slr, [0]);
  return { loss: ops.div(ops.reduceSum(ops.mul(weights, slr), [0], false), n), weights, selected: ops.reduceSum(keep, [0], false) };
}

const optimizer = (o: RoidObjectiveOptions) => adam({ lr: o.lr, betas: [o.beta1, o.beta2], weightDecay: 0 });

/** pbar update from the adapting forward's logits, and weight ensembling of every layer's affine with the source. */
export function roidAfter(ctx: StepContext<RoidObjectiveOptions>, out: PassOutput): void {
  const [n, k] = out.logits.dims;
  const p = softmaxRows(out.logits.data, n, k);
  const ema = ctx.state.write(PROBS);
  const m = ctx.options.momentumProbs;
  for (let c = 0; c < k; c++) {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += p[i * k + c] / n;
    ema[c] = m * ema[c] + (1 - m) * mean;
  }
  const ms = ctx.options.momentumSrc;
  if (ms === 1) return;
  for (const layer of ctx.layers) {
    const src = sourceAffine(layer);
    for (const role of ['gamma', 'beta'] as const) {
      const key = layerKey(layer.index, role);
      if (!ctx.state.has(key)) continue;
      const v = ctx.state.get(key);
      ctx.state.set(key, Float32Array.from(v, (x, i) => ms * x + (1 - ms) * src[role][i]));
    }
  }
}

export const roidObjective: Objective<RoidObjectiveOptions> = {
  name: "ROID's weighted soft likelihood ratio",
  paper: 'Marsden et al., Universal Test-time Adaptation through Weight Ensembling, Diversity Weighting, and Prior Correction (ROID), WACV 2024',
  defaults: { lr: 1e-3, beta1: 0.9, beta2: 0.999, temperature: 1 / 3, momentumProbs: 0.9, momentumSrc: 0.99 },
  optionSpecs: {
    lr: { doc: 'Adam learning rate (> 0)', greaterThan: 0 },
    beta1: { doc: 'Adam beta1, in [0, 1)', min: 0, max: 0.999999 },
    beta2: { doc: 'Adam beta2, in [0, 1)', min: 0, max: 0.999999 },
    temperature: { doc: 'temperature of the sample weights (> 0)', greaterThan: 0 },
    momentumProbs: { doc: 'momentum of the class-probability average, in [0, 1]', min: 0, max: 1 },
    momentumSrc: { doc: 'momentum of the weight ensembling with the source, in [0, 1] (1 = off)', min: 0, max: 1 },
  },
  loss: {
    reads: [PROBS],
    build({ ops, logits, options, state }) {
      const r = roidLoss(ops, logits, state[PROBS], options.temperature);
      return { loss: r.loss, outputs: { selected: r.selected } };
    },
  },
  optimizer,
  initState(_o, model) {
    const k = classCount(model);
    if (!k) throw new Error('roid: needs a classifier whose first output declares its class count, [N, K]');
    return { [PROBS]: new Float32Array(k).fill(1 / k) };
  },
  after: roidAfter,
};

/** Batch statistics in every BatchNorm layer (ROID turns running statistics off). */
export const batchStats: NormPolicy<object> = {
  name: 'batch statistics',
  summary: 'Test-batch statistics in every BatchNorm layer.',
  paper: 'Schneider et al., NeurIPS 2020',
  defaults: {},
  optionSpecs: {},
  norm: batchStatsNorm,
  appliesTo: { sites: ['batch-norm', 'layer-norm', 'group-norm'], outputs: ['classifier'] },
  minBatchSize: { size: 2, reason: "'roid' normalizes with test-batch statistics and weights samples within the batch; use 'balanced-bn+roid' or 'alpha-bn' for single images" },
};
