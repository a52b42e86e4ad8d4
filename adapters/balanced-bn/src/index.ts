/**
 * balanced-bn: class-balanced normalization statistics, after TRIBE's Balanced BN. Su, Xu & Jia,
 * "Towards Real-World Test-Time Adaptation: Tri-Net Self-Training with Balanced Normalization",
 * AAAI 2024. Statistics that a stream sending long runs of one class does not bias, updated per
 * sample, so it works at batch size 1 and under any objective (`compose`).
 *
 * State per layer: per-class means M [K, C] and variances V [K, C], initialized to the source
 * statistics (so the first batch is answered exactly as the source model answers it), and the
 * global statistics below, recomputed from them on the host after every update.
 * Forward, per layer: y = gamma (x - mu) / sqrt(var + eps) + beta with the balanced mixture
 *   mu = mean_k M_k,  var = mean_k V_k + sum_k (M_k - mu)^2 / (K - 1)      (TRIBE's global statistics)
 * Update after the forward (host side), from each sample's instance mean m_i and biased variance
 * v_i over the spatial axes and its pseudo-label c_i (argmax of the answer, stage-adjusted when the
 * method has an output stage; samples whose top probability is below `confidence` are left out).
 * Per class c with n_c such samples, w = 1 / n_c if n_c > 1 / eta, else eta (TRIBE's V5 rule);
 * with `priorCount` n0 > 0 the weight starts higher, w = max(w, 1 / (n0 + N_c + n_c)) with N_c the
 * samples class c has taken since the last reset (the source counts as n0 samples, then the
 * average runs over what came since, until it slows to eta; edgetta's addition for fast starts):
 *   delta_c = w sum_{i: c_i = c} (m_i - M_c)
 *   V_c += w sum_{i: c_i = c} (v_i + (m_i - M_c)^2 - V_c) - delta_c^2;  M_c += delta_c
 * One forward per batch: the batch is normalized with the statistics before its own update (TRIBE
 * normalizes after it, with pseudo-labels from a second forward; edgetta spends one forward).
 * Rank-2 layers (BatchNorm1d) keep the source statistics.
 */
import { compose, type LayerSource, type NormArgs, type NormPolicy, type NormResult, type StepContext, type PassOutput, type ModelInfo, classCount, layerKey } from '@edgetta/core';

export interface BalancedBnOptions {
  /** Per-sample update weight eta of a class's statistics (TRIBE's ETA). @defaultValue 0.005 */
  eta: number;
  /** Samples whose top answered probability is below this do not update (0 = every sample, as TRIBE). @defaultValue 0 */
  confidence: number;
  /** Weight of the source statistics as a number of samples per class; 0 = TRIBE's fixed eta from the start. @defaultValue 0 */
  priorCount: number;
}

const COUNT = 'balanced.count';

/** TRIBE's global statistics of per-class M, V [K, C]: the mean of M, and the mean of V plus the unbiased variance of M. */
export function globalStatistics(M: Float32Array, V: Float32Array, K: number, C: number): { mean: Float32Array; variance: Float32Array } {
  const mean = new Float32Array(C);
  const variance = new Float32Array(C);
  for (let j = 0; j < C; j++) {
    let m = 0;
    let v = 0;
    for (let k = 0; k < K; k++) {
      m += M[k * C + j];
      v += V[k * C + j];
    }
    m /= K;
    let spread = 0;
    for (let k = 0; k < K; k++) spread += (M[k * C + j] - m) ** 2;
    mean[j] = m;
    variance[j] = v / K + (K > 1 ? spread / (K - 1) : 0);
  }
  return { mean, variance };
}

/**
 * The forward of one layer: BN with the balanced global statistics (kept next to M, V and
 * recomputed on the host after each update, so the graph spends no op on them), plus the
 * instance statistics the update needs.
 */
export function balancedNorm<T>(args: NormArgs<T, BalancedBnOptions>): NormResult<T> {
  const { ops, x, gamma, beta, layer, state, source } = args;
  if (layer.rank === 2) return { y: ops.batchNorm(x, gamma, beta, source.mean, source.variance, layer.epsilon), outputs: { m: x, v: ops.mul(x, ops.scalar(0)) } };
  const y = ops.batchNorm(x, gamma, beta, state.mean, state.variance, layer.epsilon);
  const spatial = Array.from({ length: layer.rank - 2 }, (_, i) => i + 2);
  const inst = ops.moments(ops.stopGradient(x), spatial); // [N, C]
  return { y, outputs: { m: inst.mean, v: inst.variance } };
}

/** Applies the per-class update of every layer from one forward's instance statistics and answered logits. */
export function balancedUpdate(ctx: StepContext<BalancedBnOptions>, out: PassOutput): void {
  const { data: z, dims } = out.logits;
  const [n, K] = dims;
  // Pseudo-labels and their top probabilities from the answered logits.
  const label = new Int32Array(n).fill(-1);
  const counts = new Float64Array(K);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < K; c++) if (z[i * K + c] > z[i * K + best]) best = c;
    let s = 0;
    for (let c = 0; c < K; c++) s += Math.exp(z[i * K + c] - z[i * K + best]);
    if (1 / s < ctx.options.confidence) continue;
    label[i] = best;
    counts[best]++;
  }
  const { eta, priorCount } = ctx.options;
  const seen = ctx.state.write(COUNT);
  const w = Float64Array.from(counts, (c, k) => Math.max(c > 1 / eta ? 1 / c : eta, priorCount > 0 ? 1 / (priorCount + seen[k] + c) : 0));
  for (let k = 0; k < K; k++) seen[k] += counts[k];
  for (const layer of ctx.layers) {
    if (layer.rank === 2) continue;
    const m = out.layerOutputs?.[layerKey(layer.index, 'm')];
    const v = out.layerOutputs?.[layerKey(layer.index, 'v')];
    if (!m || !v) throw new Error(`balanced-bn: the forward returned no instance statistics for layer ${layer.index}`);
    const C = layer.channels;
    const M = ctx.state.write(layerKey(layer.index, 'M'));
    const V = ctx.state.write(layerKey(layer.index, 'V'));
    if (M.length !== K * C) throw new Error(`balanced-bn: the state holds ${M.length / C} classes and the answer has ${K}`);
    const delta = new Float64Array(K * C);
    const sq = new Float64Array(K * C);
    for (let i = 0; i < n; i++) {
      const c = label[i];
      if (c < 0) continue;
      for (let j = 0; j < C; j++) {
        const d = m.data[i * C + j] - M[c * C + j];
        delta[c * C + j] += d;
        sq[c * C + j] += v.data[i * C + j] + d * d - V[c * C + j];
      }
    }
    for (let c = 0; c < K; c++) {
      if (!counts[c]) continue;
      for (let j = 0; j < C; j++) {
        const dl = w[c] * delta[c * C + j];
        V[c * C + j] = Math.max(V[c * C + j] + w[c] * sq[c * C + j] - dl * dl, 0);
        M[c * C + j] += dl;
      }
    }
    const g = globalStatistics(M, V, K, C);
    ctx.state.set(layerKey(layer.index, 'mean'), g.mean);
    ctx.state.set(layerKey(layer.index, 'variance'), g.variance);
  }
}

function classesOf(model: Parameters<typeof classCount>[0]): number {
  const k = classCount(model);
  if (!k) throw new Error("balanced-bn: keeps statistics per class and needs a classifier whose first output declares its class count, [N, K]");
  return k;
}

export const balancedBnPolicy: NormPolicy<BalancedBnOptions> = {
  name: 'balanced-bn',
  summary: 'Per-class BN statistics keyed by pseudo-label, mixed class-balanced (label-correlated streams, batch size 1).',
  paper: 'Su et al., Towards Real-World Test-Time Adaptation: Tri-Net Self-Training with Balanced Normalization (TRIBE), AAAI 2024.',
  defaults: { eta: 0.005, confidence: 0, priorCount: 0 },
  optionSpecs: {
    eta: { doc: "per-sample update weight, in (0, 1]", greaterThan: 0, max: 1 },
    confidence: { doc: 'smallest top probability of a sample that updates, in [0, 1)', min: 0, max: 0.999 },
    priorCount: { doc: 'weight of the source statistics in samples per class (>= 0; 0 = fixed eta)', min: 0 },
  },
  initState: (_o, model) => ({ [COUNT]: new Float32Array(classesOf(model)) }),
  appliesTo: { sites: ['batch-norm'], outputs: ['classifier'] },
  reads: ['mean', 'variance'],
  outputs: ['m', 'v'],
  norm: balancedNorm,
  update: balancedUpdate,
  initLayerState(layer: LayerSource, _o: BalancedBnOptions, model?: ModelInfo) {
    const K = classesOf(model);
    const M = new Float32Array(K * layer.channels);
    const V = new Float32Array(K * layer.channels);
    for (let c = 0; c < K; c++) {
      M.set(layer.mean, c * layer.channels);
      V.set(layer.variance, c * layer.channels);
    }
    return { M, V, mean: layer.mean.slice(), variance: layer.variance.slice() };
  },
  layerStateDims: (layer: LayerSource, _o: BalancedBnOptions, model?: ModelInfo) => ({ M: [classesOf(model), layer.channels], V: [classesOf(model), layer.channels] }),
};

export const balancedBn = compose({ name: 'balanced-bn', norm: balancedBnPolicy });
