/**
 * UnMix-TNS in float64 typed arrays, written from /work/shared/docs/tta-spec.md section 3.7
 * (and the Notation paragraph's BN definition), NOT from adapters/unmix-tns/src. It imports
 * nothing from the method and uses no edgetta ops: plain loops over Float64Array.
 *
 * Spec 3.7, per batch and per BatchNorm2d layer, x in R^{B x C x H x W}:
 *   1. mu_i[b], var_i[b]: per-instance mean and biased variance over (h, w).
 *   2. P_bk = softmax_k( cos(mu_i[b], M_k) / tau ), cosine over the C-vector.
 *   3. muHat_bk = (1 - P_bk) M_k + P_bk mu_i[b];  varHat_bk = (1 - P_bk) V_k + P_bk var_i[b].
 *   4. mu_b = mean_k muHat_bk;  var_b = mean_k varHat_bk + mean_k muHat_bk^2 - mu_b^2.
 *   5. y_b = gamma (x_b - mu_b) / sqrt(var_b + eps) + beta.
 *   6. M_k <- M_k + m (1/B) sum_b P_bk (mu_i[b] - M_k);  V_k <- V_k + m (1/B) sum_b P_bk (var_i[b] - V_k)
 *      (old M, V in the differences).
 *   7. m = 1 - (1 - m_bn)^(B / B_max).
 * BatchNorm1d (rank-2) layers: plain source-statistics normalization, no components.
 * Initialization (spec 3.7): V_k = (1 - alpha) var_s for K > 1, M = mu_s and V = var_s for K = 1;
 * the random part of M_k (eps_k ~ N(0, I)) cannot be reproduced independently, so the tests take
 * the method's initial M from the session and check only its deterministic parts.
 */

export interface UnmixComponents {
  /** [K, C] row-major. */
  M: Float64Array;
  /** [K, C] row-major. */
  V: Float64Array;
}

export interface UnmixLayerResult {
  y: Float64Array;
  /** The updated components (step 6). */
  next: UnmixComponents;
  /** Assignments [B, K] (step 2). */
  P: Float64Array;
}

/** Step 7: the update momentum for a batch of B samples. */
export function unmixMomentum(mBn: number, B: number, bMax: number): number {
  return 1 - Math.pow(1 - mBn, B / bMax);
}

/** Spec 3.7 initialization, deterministic part: the variances V_k. */
export function initialVariances(sourceVar: ArrayLike<number>, K: number, alpha: number): Float64Array {
  const C = sourceVar.length;
  const V = new Float64Array(K * C);
  for (let k = 0; k < K; k++) for (let c = 0; c < C; c++) V[k * C + c] = K === 1 ? sourceVar[c] : (1 - alpha) * sourceVar[c];
  return V;
}

/**
 * One UnMix-TNS BatchNorm2d layer on x [B, C, S] (S = H * W spatial positions), steps 1-6, with
 * the given momentum m (step 7 is `unmixMomentum`).
 */
export function unmixLayer(
  x: Float64Array,
  B: number,
  C: number,
  S: number,
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  eps: number,
  comp: UnmixComponents,
  K: number,
  tau: number,
  m: number,
): UnmixLayerResult {
  const { M, V } = comp;
  // 1. Instance statistics (biased).
  const mu = new Float64Array(B * C);
  const va = new Float64Array(B * C);
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      const o = (b * C + c) * S;
      let s = 0;
      for (let i = 0; i < S; i++) s += x[o + i];
      const mean = s / S;
      let q = 0;
      for (let i = 0; i < S; i++) q += (x[o + i] - mean) ** 2;
      mu[b * C + c] = mean;
      va[b * C + c] = q / S;
    }
  }
  // 2. Assignments: softmax over k of cosine / tau.
  const P = new Float64Array(B * K);
  for (let b = 0; b < B; b++) {
    let nu = 0;
    for (let c = 0; c < C; c++) nu += mu[b * C + c] ** 2;
    const logits = new Float64Array(K);
    for (let k = 0; k < K; k++) {
      let dot = 0;
      let nm = 0;
      for (let c = 0; c < C; c++) {
        dot += mu[b * C + c] * M[k * C + c];
        nm += M[k * C + c] ** 2;
      }
      logits[k] = dot / Math.sqrt(nu * nm) / tau;
    }
    const top = Math.max(...logits);
    let z = 0;
    for (let k = 0; k < K; k++) z += Math.exp(logits[k] - top);
    for (let k = 0; k < K; k++) P[b * K + k] = Math.exp(logits[k] - top) / z;
  }
  // 3-5. Per-component mixing, law of total variance with uniform 1/K weights, normalization.
  const y = new Float64Array(B * C * S);
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      let sumMu = 0;
      let sumVar = 0;
      let sumMu2 = 0;
      for (let k = 0; k < K; k++) {
        const p = P[b * K + k];
        const muHat = (1 - p) * M[k * C + c] + p * mu[b * C + c];
        const varHat = (1 - p) * V[k * C + c] + p * va[b * C + c];
        sumMu += muHat;
        sumVar += varHat;
        sumMu2 += muHat * muHat;
      }
      const muB = sumMu / K;
      const varB = sumVar / K + sumMu2 / K - muB * muB;
      const o = (b * C + c) * S;
      for (let i = 0; i < S; i++) y[o + i] = (gamma[c] * (x[o + i] - muB)) / Math.sqrt(varB + eps) + beta[c];
    }
  }
  // 6. Component update from the old M, V.
  const M2 = new Float64Array(K * C);
  const V2 = new Float64Array(K * C);
  for (let k = 0; k < K; k++) {
    for (let c = 0; c < C; c++) {
      let dM = 0;
      let dV = 0;
      for (let b = 0; b < B; b++) {
        dM += P[b * K + k] * (mu[b * C + c] - M[k * C + c]);
        dV += P[b * K + k] * (va[b * C + c] - V[k * C + c]);
      }
      M2[k * C + c] = M[k * C + c] + (m * dM) / B;
      V2[k * C + c] = V[k * C + c] + (m * dV) / B;
    }
  }
  return { y, next: { M: M2, V: V2 }, P };
}

/** A BatchNorm1d layer under UnMix-TNS: source statistics, x [B, C]. */
export function sourceBatchNorm1d(x: Float64Array, B: number, C: number, gamma: ArrayLike<number>, beta: ArrayLike<number>, mean: ArrayLike<number>, variance: ArrayLike<number>, eps: number): Float64Array {
  const y = new Float64Array(B * C);
  for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) y[b * C + c] = (gamma[c] * (x[b * C + c] - mean[c])) / Math.sqrt(variance[c] + eps) + beta[c];
  return y;
}
