import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdaptiveSession } from '@edgetta/sdk';
import { goldenInput, resnetPath } from '@edgetta/testing';

/*
 * ETA on ResNet-20 (golden noisy input, batches of 64): the loss, the sample filters and the
 * moving-average prediction follow the update rule (tta-spec 4.2), recomputed on the host in
 * float64 from the returned (pre-update) logits. Tolerance 1e-5 relative on the loss; counts exact.
 */
const input = goldenInput(256);
const batch = (b: number) => new ort.Tensor('float32', input.slice(b * 64 * 3072, (b + 1) * 64 * 3072), [64, 3, 32, 32]);
const K = 10;
const E0 = 0.4 * Math.log(K);

function rows(logits: Float32Array) {
  const out: { p: number[]; h: number }[] = [];
  for (let r = 0; r < logits.length / K; r++) {
    const z = Array.from(logits.subarray(r * K, (r + 1) * K));
    const max = Math.max(...z);
    const e = z.map((v) => Math.exp(v - max));
    const sum = e.reduce((a, b) => a + b, 0);
    const p = e.map((v) => v / sum);
    out.push({ p, h: -p.reduce((a, q) => a + (q > 0 ? q * Math.log(q) : 0), 0) });
  }
  return out;
}

const cosine = (a: number[], b: ArrayLike<number>) => {
  let d = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    d += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return d / Math.max(Math.sqrt(na) * Math.sqrt(nb), 1e-8);
};

describe('eta on ResNet-20', () => {
  let s: AdaptiveSession;
  beforeAll(async () => {
    s = await AdaptiveSession.create(resnetPath, { method: 'eta', runtime: 'node' });
  });
  afterAll(() => s.dispose());

  it('reliable, non-redundant, weighted entropy and the moving-average prediction, over 3 batches', async () => {
    let average: Float32Array | null = null;
    for (let b = 0; b < 3; b++) {
      const out = await s.run({ input: batch(b) });
      const r = rows(out.logits.data as Float32Array);
      const selected = r.filter(({ p, h }) => h < E0 && (average === null || Math.abs(cosine(p, average)) < 0.4));
      const loss = selected.reduce((a, { h }) => a + Math.exp(E0 - h) * h, 0) / selected.length;
      const u = s.stats.lastUpdate!;
      console.log(`eta batch ${b}: ${r.filter((x) => x.h < E0).length} reliable, ${selected.length} selected, loss ${u.loss!.toFixed(6)} (host ${loss.toFixed(6)})`);
      expect(u.applied).toBe(true);
      expect(u.samples).toBe(selected.length);
      expect(Math.abs(u.loss! - loss)).toBeLessThan(1e-5 * loss);
      const mean = Array.from({ length: K }, (_, j) => selected.reduce((a, { p }) => a + p[j], 0) / selected.length);
      const expected = average === null ? mean : mean.map((v, j) => 0.9 * average![j] + 0.1 * v);
      average = s.snapshot().state['eata.average'];
      for (let j = 0; j < K; j++) expect(Math.abs(average[j] - expected[j])).toBeLessThan(1e-6);
    }
    expect(s.snapshot().state['eata.active'][0]).toBe(1);
  });

  it('a batch with no selected sample skips the update and leaves the parameters and optimizer unchanged', async () => {
    const strict = await AdaptiveSession.create(resnetPath, { method: 'eta', runtime: 'node', methodOptions: { e0Factor: 1e-6 } });
    const before = strict.snapshot().state;
    // A blank batch: every sample has the same, non-zero entropy, above the tiny threshold.
    await strict.run({ input: new ort.Tensor('float32', new Float32Array(64 * 3072).fill(0.5), [64, 3, 32, 32]) });
    expect(strict.stats.lastUpdate).toMatchObject({ applied: false, samples: 0, skipped: expect.stringMatching(/no reliable, non-redundant sample/) });
    const after = strict.snapshot().state;
    for (const k of Object.keys(before)) expect(after[k], k).toEqual(before[k]);
    await strict.dispose();
  });

  it('takes no calibration data', async () => {
    await expect(s.calibrate([{ input: batch(0) }])).rejects.toThrow(/method 'eta' takes no calibration data/);
  });
});
