import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { Rng } from '@edgetta/core';
import { AdaptiveSession } from '@edgetta/sdk';
import { tinyNet } from '@edgetta/testing';
import { priorAdjust, smoothedPrior } from '@edgetta/adapter-prior';

const { C0, CLASSES, relMax, tinyModel } = tinyNet;

describe('prior (ROID prior correction)', () => {
  it('matches a hand computation: pi = (0.625, 0.375), s = 0.8, pi~ = (1.425, 1.175) / 2.6', () => {
    const logits = Float32Array.of(0, 0, Math.log(3), 0);
    const pi = smoothedPrior(logits, 2, 2);
    expect(pi[0]).toBeCloseTo(1.425 / 2.6, 7);
    expect(pi[1]).toBeCloseTo(1.175 / 2.6, 7);
    const out = priorAdjust({ logits: { data: logits, dims: [2, 2] }, options: { scaleLogits: false } });
    expect(out[0] - out[1]).toBeCloseTo(Math.log(1.425 / 1.175), 6);
    // ROID's code form multiplies the logits.
    const code = priorAdjust({ logits: { data: logits, dims: [2, 2] }, options: { scaleLogits: true } });
    expect(code[2]).toBeCloseTo(Math.log(3) * (1.425 / 2.6), 6);
  });

  it('is a no-op on the class distribution when the batch prior is uniform', () => {
    // Three cyclic permutations of one answer: the mean of their softmax is uniform.
    const logits = Float32Array.of(2, 0, -1, -1, 2, 0, 0, -1, 2);
    const out = priorAdjust({ logits: { data: logits, dims: [3, 3] }, options: { scaleLogits: false } });
    for (let i = 0; i < 9; i++) expect(out[i] - logits[i]).toBeCloseTo(Math.log(1 / 3), 6);
  });

  it('tent+prior: answers are tent’s adjusted by the prior, and the adaptation is exactly tent’s', async () => {
    const SIZE = 4;
    const model = tinyModel(5, SIZE);
    const rng = new Rng(9);
    const x = new ort.Tensor('float32', Float32Array.from({ length: 8 * C0 * SIZE * SIZE }, () => rng.normal()), [8, C0, SIZE, SIZE]);
    const a = await AdaptiveSession.create(model.ir(), { method: 'tent', runtime: 'node' });
    const b = await AdaptiveSession.create(model.ir(), { method: 'tent+prior', runtime: 'node' });
    try {
      for (let step = 0; step < 3; step++) {
        const za = (await a.run({ x })).logits;
        const zb = (await b.run({ x })).logits;
        const want = priorAdjust({ logits: { data: za.data as Float32Array, dims: za.dims }, options: { scaleLogits: false } });
        expect(relMax(zb.data as Float32Array, want)).toBeLessThan(1e-6);
        const sa = a.snapshot().state;
        const sb = b.snapshot().state;
        for (const k of Object.keys(sa)) expect(sb[k], k).toEqual(sa[k]);
      }
      expect(b.stats.updates.applied).toBe(3);
      expect(CLASSES).toBe(5);
    } finally {
      await a.dispose();
      await b.dispose();
    }
  });
});
