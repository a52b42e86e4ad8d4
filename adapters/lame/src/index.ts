/**
 * lame: Laplacian Adjusted Maximum-likelihood Estimation. Boudiaf, Mueller, Ben Ayed & Bertinetto,
 * "Parameter-free Online Test-time Adaptation", CVPR 2022; defaults of the MD-TTA benchmark
 * (Marsden et al.; affinity rbf, k = 5, 100 iterations). Output-level: the model is never changed
 * and there is no backward, so it cannot collapse; it uses the batch's label structure, which is
 * what helps on label-correlated streams (a camera on one scene) and hurts on i.i.d. ones.
 *
 * Per batch, with the model's probabilities p [N, K] and its penultimate features L2-normalized,
 * f_i = z_i / max(|z_i|, 1e-12):
 *   d_ij = |f_i - f_j|;  affinity W (rbf): sigma = mean_i (k-th smallest d_i., the row's own 0
 *   counted), W_ij = exp(-d_ij^2 / (2 sigma^2));  (knn: W_ij = 1 for the k nearest j != i, else 0;
 *   symmetric: W = (W + W^T) / 2)
 *   a = -log(p + 1e-10);  Y = softmax(-a);  repeat at most `maxSteps` times:
 *     Y = softmax(-a + lambda W Y);  E = sum(a Y - lambda (W Y) Y + Y log Y)
 *   until |E - E_prev| <= 1e-8 |E_prev| (from the third iteration on).
 * The answer is Y (returned as the logits log Y). One sample has no neighbours: the answer is the
 * model's. When every feature of the batch is the same point (sigma = 0), W_ij = [d_ij = 0].
 * `maxDiversity` (edgetta's gate, off by default): the batch's effective share of classes,
 * D = exp(H(mean_i p_i)) / K, is near 1 on an i.i.d. batch and low on a label-correlated one;
 * batches with D above the gate are answered unadjusted (LAME's cost on i.i.d. streams).
 */
import { softmaxRows, type OutputStage, type StageInput } from '@edgetta/core';

export interface LameOptions {
  /** Neighbours of the affinity (rbf: the k-th distance sets sigma; knn: the k nearest get weight 1). @defaultValue 5 */
  k: number;
  /** The kNN affinity instead of the rbf kernel. @defaultValue false */
  knnAffinity: boolean;
  /** Use (W + W^T) / 2 (MD-TTA's FORCE_SYMMETRY). @defaultValue false */
  symmetric: boolean;
  /** Weight of the Laplacian term (the paper's bound lambda). @defaultValue 1 */
  lambda: number;
  /** Fixed-point iterations at most. @defaultValue 100 */
  maxSteps: number;
  /** Adjust only batches whose effective class share exp(H(mean p)) / K is at most this (1 = every batch). @defaultValue 1 */
  maxDiversity: number;
}

export const LAME_DEFAULTS: LameOptions = { k: 5, knnAffinity: false, symmetric: false, lambda: 1, maxSteps: 100, maxDiversity: 1 };

/** The effective share of classes of a batch of probabilities [N, K]: exp(H(mean_i p_i)) / K, in [1/K, 1]. */
export function classDiversity(p: Float64Array, n: number, k: number): number {
  let h = 0;
  for (let c = 0; c < k; c++) {
    let m = 0;
    for (let i = 0; i < n; i++) m += p[i * k + c] / n;
    if (m > 0) h -= m * Math.log(m);
  }
  return Math.exp(h) / k;
}

/** The affinity [N, N] of L2-normalized features (row-major, float64) and the rbf sigma. */
export function lameAffinity(features: Float32Array, n: number, d: number, o: Pick<LameOptions, 'k' | 'knnAffinity' | 'symmetric'>): { W: Float64Array; sigma: number } {
  const f = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += features[i * d + j] ** 2;
    const norm = Math.max(Math.sqrt(s), 1e-12);
    for (let j = 0; j < d; j++) f[i * d + j] = features[i * d + j] / norm;
  }
  const dist = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      let s = 0;
      for (let c = 0; c < d; c++) s += (f[i * d + c] - f[j * d + c]) ** 2;
      dist[i * n + j] = dist[j * n + i] = Math.sqrt(s);
    }
  }
  const W = new Float64Array(n * n);
  let sigma = 0;
  const row = (i: number) => Array.from(dist.subarray(i * n, (i + 1) * n), (v, j) => ({ v, j })).sort((a, b) => a.v - b.v || a.j - b.j);
  if (o.knnAffinity) {
    // The k nearest other points (the row's own distance, first in the sorted row, is skipped).
    for (let i = 0; i < n; i++) {
      const sorted = row(i).filter((e) => e.j !== i);
      for (const e of sorted.slice(0, Math.min(o.k, n - 1))) W[i * n + e.j] = 1;
    }
  } else {
    const m = Math.min(o.k, n);
    for (let i = 0; i < n; i++) sigma += row(i)[m - 1].v;
    sigma /= n;
    for (let i = 0; i < n * n; i++) W[i] = sigma > 0 ? Math.exp(-(dist[i] ** 2) / (2 * sigma * sigma)) : dist[i] === 0 ? 1 : 0;
  }
  if (o.symmetric) {
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) W[i * n + j] = W[j * n + i] = (W[i * n + j] + W[j * n + i]) / 2;
  }
  return { W, sigma };
}

/** LAME's fixed point from probabilities p [N, K] and the affinity: the adjusted Y [N, K] and the iterations run. */
export function lameSolve(p: Float64Array, W: Float64Array, n: number, k: number, lambda: number, maxSteps: number): { Y: Float64Array; iterations: number } {
  const a = p.map((v) => -Math.log(v + 1e-10));
  const Y = softmaxRows(a.map((v) => -v), n, k);
  const pair = new Float64Array(n * k);
  const z = new Float64Array(n * k);
  let old = Infinity;
  let it = 0;
  while (it < maxSteps) {
    pair.fill(0);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const w = lambda * W[i * n + j];
        if (w === 0) continue;
        for (let c = 0; c < k; c++) pair[i * k + c] += w * Y[j * k + c];
      }
    }
    for (let i = 0; i < n * k; i++) z[i] = -a[i] + pair[i];
    Y.set(softmaxRows(z, n, k));
    let E = 0;
    for (let i = 0; i < n * k; i++) E += a[i] * Y[i] - pair[i] * Y[i] + Y[i] * Math.log(Math.max(Y[i], 1e-20));
    const done = it > 1 && Math.abs(E - old) <= 1e-8 * Math.abs(old);
    it++;
    if (done) break;
    old = E;
  }
  return { Y, iterations: it };
}

/** The LAME adjustment of one batch: logits log Y (unchanged for a single sample). */
export function lameAdjust({ logits, features, options }: StageInput<LameOptions>): Float32Array {
  const [n, k] = logits.dims;
  if (n < 2) return logits.data.slice();
  const p = softmaxRows(logits.data, n, k);
  if (options.maxDiversity < 1 && classDiversity(p, n, k) > options.maxDiversity) return logits.data.slice();
  const d = features!.dims[1];
  const { W } = lameAffinity(features!.data, n, d, options);
  const { Y } = lameSolve(p, W, n, k, options.lambda, options.maxSteps);
  // log Y as logits; an underflowed probability stays finite (argmax and softmax are unchanged).
  return Float32Array.from(Y, (y) => Math.log(Math.max(y, 1e-30)));
}

/** LAME as an output stage: `tent+lame`, or `compose({ norm, output: lameStage })`. */
export const lameStage: OutputStage<LameOptions> = {
  name: 'lame',
  summary: 'Laplacian adjustment of the answers over a kNN/rbf affinity of the penultimate features (label-correlated streams).',
  paper: 'Boudiaf et al., Parameter-free Online Test-time Adaptation (LAME), CVPR 2022',
  defaults: LAME_DEFAULTS,
  optionSpecs: {
    k: { doc: 'neighbours of the affinity (integer >= 1)', min: 1, integer: true },
    knnAffinity: { doc: 'kNN affinity instead of the rbf kernel', type: 'boolean' },
    symmetric: { doc: 'symmetrize the affinity, (W + W^T) / 2', type: 'boolean' },
    lambda: { doc: 'weight of the Laplacian term (> 0)', greaterThan: 0 },
    maxSteps: { doc: 'fixed-point iterations at most (integer >= 1)', min: 1, integer: true },
    maxDiversity: { doc: 'adjust only batches whose effective class share is at most this, in (0, 1]', greaterThan: 0, max: 1 },
  },
  features: true,
  adjust: lameAdjust,
};
