/**
 * unmix-tns: Un-Mixing Test-Time Normalization Statistics. Tomar, Vray, Thiran & Bozorgtabar,
 * "Un-Mixing Test-Time Normalization Statistics: Combatting Label Temporal Correlation", ICLR 2024.
 * tta-spec 3.7. Built for non-i.i.d., label-correlated streams; works at batch size 1.
 *
 * State per layer: K components, means M [K, C] and variances V [K, C], initialized as
 * M_k = mu_s + sqrt(alpha K / (K - 1)) sigma_s * eps_k (eps_k ~ N(0, I)), V_k = (1 - alpha) var_s.
 * Per batch and layer, with instance statistics mu_i[b], var_i[b] over (h, w):
 *   P_bk = softmax_k(cos(mu_i[b], M_k) / tau)                                 (no gradient)
 *   mu^_bk = (1 - P_bk) M_k + P_bk mu_i[b];  var^_bk = (1 - P_bk) V_k + P_bk var_i[b]
 *   mu_b = mean_k mu^_bk;  var_b = mean_k var^_bk + mean_k mu^_bk^2 - mu_b^2
 *   y_b = gamma (x_b - mu_b) / sqrt(var_b + eps) + beta
 *   M_k += m (1/B) sum_b P_bk (mu_i[b] - M_k);  V_k += m (1/B) sum_b P_bk (var_i[b] - V_k)
 * with m = 1 - (1 - m_bn)^(B / B_max). Rank-2 (BatchNorm1d) layers keep the source statistics.
 */
import { compose, Rng, type LayerSource, type NormArgs, type NormPolicy, type NormResult } from '@edgetta/core';

export interface UnmixTnsOptions {
  /** Statistic components per layer (16 for single/continual streams, 128 for mixed domains). @defaultValue 16 */
  K: number;
  /** Softmax temperature of the cosine assignment. @defaultValue 0.07 */
  tau: number;
  /** Spread of the initial components around the source statistics. @defaultValue 0.5 */
  alpha: number;
  /** The BatchNorm momentum m_bn the update momentum derives from. @defaultValue 0.1 */
  mBn: number;
  /** The batch size at which the update momentum equals m_bn (64 on CIFAR, 16 on ImageNet). @defaultValue 64 */
  bMax: number;
  /** Seed of the initial components. @defaultValue 0 */
  seed: number;
}

/** Initial components of one layer (tta-spec 3.7); K = 1 gives exactly the source statistics. */
export function initComponents(layer: Pick<LayerSource, 'mean' | 'variance' | 'index'>, o: UnmixTnsOptions): { M: Float32Array; V: Float32Array } {
  const c = layer.mean.length;
  const M = new Float32Array(o.K * c);
  const V = new Float32Array(o.K * c);
  const spread = o.K > 1 ? Math.sqrt((o.alpha * o.K) / (o.K - 1)) : 0;
  const rng = new Rng((o.seed * 7919 + layer.index) | 0);
  for (let k = 0; k < o.K; k++) {
    for (let j = 0; j < c; j++) {
      const noise = o.K > 1 ? rng.normal() : 0;
      M[k * c + j] = layer.mean[j] + spread * Math.sqrt(layer.variance[j]) * noise;
      V[k * c + j] = o.K > 1 ? (1 - o.alpha) * layer.variance[j] : layer.variance[j];
    }
  }
  return { M, V };
}

/** The per-layer UnMix-TNS normalization and component update (`hyper.momentum` = m). */
export function unmixNorm<T>(args: NormArgs<T, UnmixTnsOptions>): NormResult<T> {
  const { ops, x, gamma, beta, layer, state, hyper, options, source } = args;
  if (layer.rank === 2) {
    return { y: ops.batchNorm(x, gamma, beta, source.mean, source.variance, layer.epsilon), state: { M: state.M, V: state.V } };
  }
  const spatial = Array.from({ length: layer.rank - 2 }, (_, i) => i + 2);
  const { mean: mu, variance: v } = ops.moments(x, spatial); // [B, C]
  const M = state.M; // [K, C]
  const V = state.V;
  const unit = (a: T) => ops.div(a, ops.sqrt(ops.add(ops.reduceSum(ops.mul(a, a), [1], true), ops.scalar(1e-12))));
  const cos = ops.matmul(unit(ops.stopGradient(mu)), ops.transpose(unit(M), [1, 0])); // [B, K]
  const P = ops.stopGradient(ops.softmax(ops.div(cos, ops.scalar(options.tau)), 1));
  const P3 = ops.unsqueeze(P, [2]); // [B, K, 1]
  const notP3 = ops.sub(ops.scalar(1), P3);
  const muHat = ops.add(ops.mul(notP3, ops.unsqueeze(M, [0])), ops.mul(P3, ops.unsqueeze(mu, [1]))); // [B, K, C]
  const varHat = ops.add(ops.mul(notP3, ops.unsqueeze(V, [0])), ops.mul(P3, ops.unsqueeze(v, [1])));
  const muB = ops.reduceMean(muHat, [1], false); // [B, C]
  const varB = ops.sub(ops.add(ops.reduceMean(varHat, [1], false), ops.reduceMean(ops.mul(muHat, muHat), [1], false)), ops.mul(muB, muB));
  const scale = ops.div(gamma, ops.sqrt(ops.add(varB, ops.scalar(layer.epsilon)))); // [B, C]
  const shift = ops.sub(beta, ops.mul(muB, scale));
  const y = ops.scaleShift(x, scale, shift);
  // Component update from the old M, V, without gradients.
  const n = ops.count(mu, [0]);
  const Pt = ops.transpose(P, [1, 0]); // [K, B]
  const weight = ops.div(ops.reduceSum(Pt, [1], true), n); // [K, 1] = mean_b P_bk
  const m = hyper.momentum;
  const step = (stat: T, comp: T) => ops.mul(m, ops.sub(ops.div(ops.matmul(Pt, ops.stopGradient(stat)), n), ops.mul(weight, comp)));
  return { y, state: { M: ops.add(M, step(mu, M)), V: ops.add(V, step(v, V)) } };
}

/** UnMix-TNS as a normalization policy, so it can be combined with an objective (`unmix-tns+tent`). */
export const unmixTnsPolicy: NormPolicy<UnmixTnsOptions> = {
  name: 'unmix-tns',
  summary: 'K statistic components per layer, mixed per instance by cosine assignment (label-correlated streams, batch size 1).',
  paper: 'Tomar et al., Un-Mixing Test-Time Normalization Statistics, ICLR 2024.',
  defaults: { K: 16, tau: 0.07, alpha: 0.5, mBn: 0.1, bMax: 64, seed: 0 },
  optionSpecs: {
    K: { doc: 'components per layer (>= 1)', min: 1, integer: true },
    tau: { doc: 'softmax temperature (> 0)', greaterThan: 0 },
    alpha: { doc: 'initial spread, in [0, 1)', min: 0, max: 0.999 },
    mBn: { doc: 'BatchNorm momentum the update derives from, in (0, 1]', greaterThan: 0, max: 1 },
    bMax: { doc: 'batch size at which the update momentum equals mBn (>= 1)', min: 1 },
    seed: { doc: 'seed of the initial components', integer: true },
  },
  reads: ['M', 'V'],
  writes: ['M', 'V'],
  hyper: ['momentum'],
  norm: unmixNorm,
  initLayerState: (layer, o) => initComponents(layer, o),
  layerStateDims: (layer, o) => ({ M: [o.K, layer.channels], V: [o.K, layer.channels] }),
  hyperValues: (ctx) => ({ momentum: 1 - Math.pow(1 - ctx.options.mBn, ctx.batch.dims[0] / ctx.options.bMax) }),
  // The output is normalized with the components before their update, so any momentum answers the
  // same; 0 says no update (the host discards infer's state writes anyway).
  inferHyperValues: () => ({ momentum: 0 }),
};

export const unmixTns = compose({ name: 'unmix-tns', norm: unmixTnsPolicy });
