/**
 * DUA against its update rule (tta-spec 3.6), not against our own interpreter: running statistics
 * computed here in float64 from the augmented views, on a model whose only BatchNormalization
 * reads the image, so the statistics are those of the views themselves. The views come from the
 * method's own `augmentCopies` with the method's per-image seed (the augmentation is tested in
 * dua.test.ts); the momentum schedule, the statistics, the update and the eval-mode answer are
 * computed independently.
 */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { Rng } from '@edgetta/core';
import { bnOnInputModel, randomInput } from '@edgetta/testing';
import { AdaptiveSession } from '@edgetta/sdk';
import { augmentCopies } from '../src/augment.js';

const [C, H, W] = [3, 8, 8];
const EPS = 1e-3;

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

describe('dua follows tta-spec 3.6 (float64 running statistics from the views)', () => {
  it('momentum m_t = m0 omega^t + mMin per image, unbiased variance, eval-mode answer; frozen after maxUpdates', async () => {
    const model = bnOnInputModel(C, H, W, EPS);
    const o = { m0: 0.1, omega: 0.94, mMin: 0.005, copies: 6, maxUpdates: 5, seed: 3 };
    const session = await AdaptiveSession.create(model.bytes, { method: 'dua', methodOptions: o, runtime: 'node' });
    const mean = Float64Array.from(model.mean);
    const variance = Float64Array.from(model.variance);
    const per = C * H * W;
    let t = 0;
    for (const [seed, n] of [[1, 2], [2, 1], [3, 4]]) {
      const x = randomInput(seed, [n, C, H, W]);
      for (let i = 0; i < n && t < o.maxUpdates; i++) {
        t += 1;
        const views = augmentCopies(x.slice(i * per, (i + 1) * per), C, H, W, o.copies, new Rng((o.seed * 1_000_003 + t) | 0));
        const m = o.m0 * Math.pow(o.omega, t) + o.mMin;
        const count = o.copies * H * W;
        for (let c = 0; c < C; c++) {
          let s = 0;
          for (let v = 0; v < o.copies; v++) for (let p = 0; p < H * W; p++) s += views[(v * C + c) * H * W + p];
          const mu = s / count;
          let q = 0;
          for (let v = 0; v < o.copies; v++) for (let p = 0; p < H * W; p++) q += (views[(v * C + c) * H * W + p] - mu) ** 2;
          mean[c] = (1 - m) * mean[c] + m * mu;
          variance[c] = (1 - m) * variance[c] + (m * q) / (count - 1);
        }
      }
      const out = await session.run({ x: new ort.Tensor('float32', x, [n, C, H, W]) });
      const y = Float64Array.from(x, (v, j) => {
        const c = Math.floor(j / (H * W)) % C;
        return (model.gamma[c] * (v - mean[c])) / Math.sqrt(variance[c] + EPS) + model.beta[c];
      });
      const state = session.snapshot().state;
      expect(relErr(state['layer.0.mean'], mean), `mean after ${t} updates`).toBeLessThan(1e-5);
      expect(relErr(state['layer.0.variance'], variance), `variance after ${t} updates`).toBeLessThan(1e-5);
      expect(relErr(out.y.data as Float32Array, y), `answer after ${t} updates`).toBeLessThan(1e-5);
    }
    expect(t).toBe(o.maxUpdates);
    await session.dispose();
  });
});
