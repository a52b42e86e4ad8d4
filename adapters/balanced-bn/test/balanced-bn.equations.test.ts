import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { Rng } from '@edgetta/core';
import { AdaptiveSession } from '@edgetta/sdk';
import { tinyNet } from '@edgetta/testing';

const { C0, CLASSES, forward, relMax, tinyModel } = tinyNet;

/*
 * Equation tests of balanced-bn (after TRIBE's Balanced BN, AAAI 2024): the real method run by
 * AdaptiveSession on onnxruntime-node against a float64 implementation written here from TRIBE's
 * batch update (update_statistics_2d_v5: per class, the squared deviations of the activations
 * from the old class mean, averaged over the spatial axes — not the method's instance
 * mean/variance decomposition). Pseudo-labels come from the reference's own logits. Per batch:
 * the returned logits and every layer's per-class M, V.
 * Tolerances (float32 graph vs float64): logits and M, V < 1e-4 relative (max norm).
 */

const SIZE = 5;
const S = SIZE * SIZE;
const PER = C0 * S;
const model = tinyModel(33, SIZE);

function batch(j: number, n: number): Float32Array {
  const rng = new Rng(500 + j);
  const x = new Float32Array(n * PER);
  // Runs of one "scene": a per-batch channel offset, so the classes the model sees are correlated.
  const off = [0.3 + 0.4 * Math.sin(j), 0.5, 0.6 - 0.3 * Math.cos(j)];
  for (let b = 0; b < n; b++) for (let c = 0; c < C0; c++) for (let i = 0; i < S; i++) x[b * PER + c * S + i] = off[c] + 0.3 * rng.normal();
  return x;
}

interface ClassStats {
  M: Float64Array; // [K, C]
  V: Float64Array;
}

/** TRIBE's global statistics of per-class M, V: mean of M; mean of V plus the unbiased variance of M. */
function globalStats(st: ClassStats, c: number): { mu: Float64Array; v: Float64Array } {
  const mu = new Float64Array(c);
  const v = new Float64Array(c);
  for (let j = 0; j < c; j++) {
    let m = 0;
    let vv = 0;
    for (let k = 0; k < CLASSES; k++) {
      m += st.M[k * c + j] / CLASSES;
      vv += st.V[k * c + j] / CLASSES;
    }
    let spread = 0;
    for (let k = 0; k < CLASSES; k++) spread += (st.M[k * c + j] - m) ** 2 / (CLASSES - 1);
    mu[j] = m;
    v[j] = vv + spread;
  }
  return { mu, v };
}

/**
 * TRIBE's V5 update from the activations h [n, c, s] and labels (-1: left out); with a prior count
 * n0 the weight is at least 1 / (n0 + seen_k + n_k) (seen_k: samples class k took before).
 */
function tribeUpdate(st: ClassStats, h: Float64Array, n: number, c: number, s: number, labels: number[], eta: number, n0 = 0, seen: number[] = []): ClassStats {
  const M = st.M.slice();
  const V = st.V.slice();
  for (let k = 0; k < CLASSES; k++) {
    const members = labels.flatMap((l, i) => (l === k ? [i] : []));
    if (members.length === 0) continue;
    let w = members.length > 1 / eta ? 1 / members.length : eta;
    if (n0 > 0) w = Math.max(w, 1 / (n0 + (seen[k] ?? 0) + members.length));
    for (let j = 0; j < c; j++) {
      let dsum = 0;
      let dsq = 0;
      for (const i of members) {
        let d1 = 0;
        let d2 = 0;
        for (let p = 0; p < s; p++) {
          const d = h[(i * c + j) * s + p] - st.M[k * c + j];
          d1 += d / s;
          d2 += (d * d) / s;
        }
        dsum += d1;
        dsq += d2;
      }
      const delta = w * dsum;
      M[k * c + j] = st.M[k * c + j] + delta;
      V[k * c + j] = st.V[k * c + j] + (w * (dsq - members.length * st.V[k * c + j]) - delta * delta);
    }
  }
  return { M, V };
}

function bnWith(h: Float64Array, n: number, c: number, s: number, mu: ArrayLike<number>, v: ArrayLike<number>, p: { gamma: Float32Array; beta: Float32Array; epsilon: number }): Float64Array {
  const y = new Float64Array(h.length);
  for (let b = 0; b < n; b++) for (let j = 0; j < c; j++) for (let q = 0; q < s; q++) {
    const i = (b * c + j) * s + q;
    y[i] = (p.gamma[j] * (h[i] - mu[j])) / Math.sqrt(v[j] + p.epsilon) + p.beta[j];
  }
  return y;
}

const configs: { label: string; options: Record<string, number>; eta: number; confidence: number; priorCount?: number }[] = [
  { label: 'defaults (eta 0.005, every sample)', options: {}, eta: 0.005, confidence: 0 },
  { label: 'eta 0.3 (w = 1/n_c for classes with more than 3 samples), confidence 0.3', options: { eta: 0.3, confidence: 0.3 }, eta: 0.3, confidence: 0.3 },
  { label: 'eta 0.01, priorCount 3 (the source weighs as 3 samples per class, then a running average)', options: { eta: 0.01, priorCount: 3 }, eta: 0.01, confidence: 0, priorCount: 3 },
];
const sizes = [8, 1, 6, 12, 3];

describe('balanced-bn equations (TRIBE Balanced BN): AdaptiveSession on onnxruntime-node vs a float64 implementation of the batch update', () => {
  for (const cfg of configs) {
    it(`${cfg.label}: logits and per-class M, V of every layer over ${sizes.length} batches (sizes ${sizes.join(', ')})`, async () => {
      const s = await AdaptiveSession.create(model.ir(), { method: 'balanced-bn', runtime: 'node', methodOptions: cfg.options });
      try {
        const stats: ClassStats[] = [0, 1].map((l) => {
          const p = model.bns[l];
          const c = p.gamma.length;
          const M = new Float64Array(CLASSES * c);
          const V = new Float64Array(CLASSES * c);
          for (let k = 0; k < CLASSES; k++) for (let j = 0; j < c; j++) {
            M[k * c + j] = p.mean[j];
            V[k * c + j] = p.variance[j];
          }
          return { M, V };
        });
        let worst = 0;
        let moved = 0;
        const seen: number[] = [];
        for (let j = 0; j < sizes.length; j++) {
          const n = sizes[j];
          const x = batch(j, n);
          const acts: { h: Float64Array; c: number; s: number }[] = [];
          const want = forward(model, x, n, SIZE, (l, h, b, c, sp) => {
            const p = model.bns[l];
            if (l === 2) return bnWith(h, b, c, sp, p.mean, p.variance, p);
            acts[l] = { h, c, s: sp };
            const g = globalStats(stats[l], c);
            return bnWith(h, b, c, sp, g.mu, g.v, p);
          });
          const labels = Array.from({ length: n }, (_, i) => {
            const row = Array.from(want.subarray(i * CLASSES, (i + 1) * CLASSES));
            const top = Math.max(...row);
            const prob = 1 / row.reduce((a, z) => a + Math.exp(z - top), 0);
            return prob < cfg.confidence ? -1 : row.indexOf(top);
          });
          for (let l = 0; l < 2; l++) stats[l] = tribeUpdate(stats[l], acts[l].h, n, acts[l].c, acts[l].s, labels, cfg.eta, cfg.priorCount ?? 0, seen);
          for (const l of labels) if (l >= 0) seen[l] = (seen[l] ?? 0) + 1;
          const out = await s.run({ x: new ort.Tensor('float32', x, [n, C0, SIZE, SIZE]) });
          const e = relMax(out.logits.data as Float32Array, want);
          expect(e, `batch ${j}: logits`).toBeLessThan(1e-4);
          worst = Math.max(worst, e);
          const state = s.snapshot().state;
          for (let l = 0; l < 2; l++) {
            for (const key of ['M', 'V'] as const) {
              const got = state[`layer.${l}.${key}`];
              const err = relMax(got, stats[l][key]);
              expect(err, `batch ${j}: layer ${l} ${key}`).toBeLessThan(1e-4);
              worst = Math.max(worst, err);
            }
          }
          moved = Math.max(moved, relMax(state['layer.1.M'], Float64Array.from(stats[1].M, (_, i) => model.bns[1].mean[i % model.bns[1].mean.length])));
        }
        // The statistics did move (the test would not see a method that never updates otherwise).
        expect(moved).toBeGreaterThan(cfg.eta > 0.1 ? 1e-2 : 1e-4);
        console.log(`balanced-bn ${cfg.label}: worst rel. error ${worst.toExponential(2)}; M moved ${moved.toExponential(2)} from the source`);
      } finally {
        await s.dispose();
      }
    });
  }

  it('starts as the source model, and infer() answers without updating', async () => {
    const s = await AdaptiveSession.create(model.ir(), { method: 'balanced-bn', runtime: 'node' });
    const src = await AdaptiveSession.create(model.ir(), { method: 'source', runtime: 'node' });
    try {
      const x = new ort.Tensor('float32', batch(7, 4), [4, C0, SIZE, SIZE]);
      const before = s.snapshot().state;
      const a = await s.infer({ x });
      for (const [k, v] of Object.entries(s.snapshot().state)) expect(v, k).toEqual(before[k]);
      const b = await src.run({ x });
      expect(relMax(a.logits.data as Float32Array, b.logits.data as Float32Array)).toBeLessThan(1e-5);
    } finally {
      await s.dispose();
      await src.dispose();
    }
  });
});
