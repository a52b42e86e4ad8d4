/**
 * UnMix-TNS against its equations (tta-spec 3.7), not against our own interpreter: a float64
 * implementation written here from the spec, on a model whose only BatchNormalization reads the
 * image itself, so the BN input is known exactly. The real method runs through AdaptiveSession on
 * onnxruntime-node; its answers and its component state after every batch are compared.
 * The initial components are taken from the session (their initialization is tested in
 * unmix-tns.test.ts).
 */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { bnOnInputModel, randomInput } from '@edgetta/testing';
import { AdaptiveSession } from '@edgetta/sdk';

const C = 4;
const H = 3;
const W = 5;
const EPS = 1e-3;

function bnOnInput(): { bytes: Uint8Array; gamma: Float64Array; beta: Float64Array } {
  const m = bnOnInputModel(C, H, W, EPS);
  return { bytes: m.bytes, gamma: Float64Array.from(m.gamma), beta: Float64Array.from(m.beta) };
}

/** One UnMix-TNS step in float64, from tta-spec 3.7 steps 1-7. Returns y and the new M, V. */
function unmixStep(x: Float32Array, n: number, M: Float64Array, V: Float64Array, K: number, o: { tau: number; mBn: number; bMax: number }, gamma: Float64Array, beta: Float64Array) {
  const hw = H * W;
  const muI = new Float64Array(n * C);
  const varI = new Float64Array(n * C);
  for (let b = 0; b < n; b++) {
    for (let c = 0; c < C; c++) {
      let s = 0;
      for (let i = 0; i < hw; i++) s += x[(b * C + c) * hw + i];
      const mu = s / hw;
      let q = 0;
      for (let i = 0; i < hw; i++) q += (x[(b * C + c) * hw + i] - mu) ** 2;
      muI[b * C + c] = mu;
      varI[b * C + c] = q / hw; // biased
    }
  }
  const norm = (v: ArrayLike<number>, off: number) => Math.sqrt(Array.from({ length: C }, (_, c) => v[off + c] ** 2).reduce((a, q) => a + q, 0));
  const P = new Float64Array(n * K);
  for (let b = 0; b < n; b++) {
    const cos = Array.from({ length: K }, (_, k) => {
      let dot = 0;
      for (let c = 0; c < C; c++) dot += muI[b * C + c] * M[k * C + c];
      return dot / (norm(muI, b * C) * norm(M, k * C));
    });
    const mx = Math.max(...cos.map((v) => v / o.tau));
    const e = cos.map((v) => Math.exp(v / o.tau - mx));
    const sum = e.reduce((a, v) => a + v, 0);
    for (let k = 0; k < K; k++) P[b * K + k] = e[k] / sum;
  }
  const y = new Float64Array(n * C * hw);
  for (let b = 0; b < n; b++) {
    for (let c = 0; c < C; c++) {
      let muB = 0;
      let varMix = 0;
      let sq = 0;
      for (let k = 0; k < K; k++) {
        const p = P[b * K + k];
        const mh = (1 - p) * M[k * C + c] + p * muI[b * C + c];
        const vh = (1 - p) * V[k * C + c] + p * varI[b * C + c];
        muB += mh / K;
        varMix += vh / K;
        sq += (mh * mh) / K;
      }
      const varB = varMix + sq - muB * muB;
      for (let i = 0; i < hw; i++) y[(b * C + c) * hw + i] = (gamma[c] * (x[(b * C + c) * hw + i] - muB)) / Math.sqrt(varB + EPS) + beta[c];
    }
  }
  const m = 1 - Math.pow(1 - o.mBn, n / o.bMax);
  const M2 = Float64Array.from(M);
  const V2 = Float64Array.from(V);
  for (let k = 0; k < K; k++) {
    for (let c = 0; c < C; c++) {
      let dm = 0;
      let dv = 0;
      for (let b = 0; b < n; b++) {
        dm += P[b * K + k] * (muI[b * C + c] - M[k * C + c]);
        dv += P[b * K + k] * (varI[b * C + c] - V[k * C + c]);
      }
      M2[k * C + c] += (m * dm) / n;
      V2[k * C + c] += (m * dv) / n;
    }
  }
  return { y, M: M2, V: V2 };
}

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

describe('unmix-tns follows tta-spec 3.7 (float64 reference written from the equations)', () => {
  for (const K of [1, 4, 16]) {
    it(`K = ${K}: answers and component updates over batches of 8, 1, 3, 64`, async () => {
      const { bytes, gamma, beta } = bnOnInput();
      const opts = { K, tau: 0.07, mBn: 0.1, bMax: 64 };
      const session = await AdaptiveSession.create(bytes, { method: 'unmix-tns', methodOptions: { K }, runtime: 'node' });
      const state0 = session.snapshot().state;
      let M = Float64Array.from(state0['layer.0.M']);
      let V = Float64Array.from(state0['layer.0.V']);
      expect(M.length).toBe(K * C);
      let seed = 10 * K;
      for (const n of [8, 1, 3, 64]) {
        // Images whose channel means differ per sample, so the assignments are not uniform.
        const x = randomInput(seed++, [n, C, H, W]).map((v, i) => v * 0.6 + 0.4 * Math.sin(i / (H * W) + seed));
        const out = await session.run({ x: new ort.Tensor('float32', x, [n, C, H, W]) });
        const ref = unmixStep(x, n, M, V, K, opts, gamma, beta);
        expect(relErr(out.y.data as Float32Array, ref.y), `y, batch ${n}`).toBeLessThan(1e-5);
        const state = session.snapshot().state;
        expect(relErr(state['layer.0.M'], ref.M), `M, batch ${n}`).toBeLessThan(1e-5);
        expect(relErr(state['layer.0.V'], ref.V), `V, batch ${n}`).toBeLessThan(1e-5);
        M = Float64Array.from(state['layer.0.M']);
        V = Float64Array.from(state['layer.0.V']);
      }
      await session.dispose();
    });
  }
});
