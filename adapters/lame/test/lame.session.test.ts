import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { Rng } from '@edgetta/core';
import { AdaptiveSession } from '@edgetta/sdk';
import { tinyNet } from '@edgetta/testing';
import { lameAdjust, LAME_DEFAULTS } from '@edgetta/adapter-lame';

const { C0, C1, CLASSES, forward, relMax, tinyModel } = tinyNet;

/*
 * LAME through AdaptiveSession on onnxruntime-node. The stage's equations are pinned to PyTorch by
 * lame.torch.test.ts; here: the session taps the right features (the Gemm head's input, recomputed
 * in float64 by the tiny model's independent forward, whose head reproduces the logits), answers
 * with the stage applied to them, leaves the model unadapted, and refuses what it cannot serve.
 */

const SIZE = 4;
const PER = C0 * SIZE * SIZE;
const model = tinyModel(44, SIZE);

function batch(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n * PER }, () => 0.5 + 0.4 * rng.normal());
}

/** The float64 source forward, with the Gemm input (BN2's output) captured. */
function sourceForward(x: Float32Array, n: number): { logits: Float64Array; features: Float64Array } {
  let features = new Float64Array(0);
  const logits = forward(model, x, n, SIZE, (l, h, b, c, s) => {
    const p = model.bns[l];
    const y = new Float64Array(h.length);
    for (let i = 0; i < h.length; i++) {
      const j = Math.floor(i / s) % c;
      y[i] = (p.gamma[j] * (h[i] - p.mean[j])) / Math.sqrt(p.variance[j] + p.epsilon) + p.beta[j];
    }
    if (l === 2) features = y;
    return y;
  });
  return { logits, features };
}

describe('lame in AdaptiveSession', () => {
  it('answers with the LAME adjustment of the source logits over the head-input features, and never changes the model', async () => {
    const s = await AdaptiveSession.create(model.ir(), { method: 'lame', runtime: 'node' });
    try {
      for (const [n, seed] of [[12, 1], [7, 2], [12, 1]] as const) {
        const x = batch(n, seed);
        const ref = sourceForward(x, n);
        // The captured features are the head input: the head maps them to the logits.
        const head = Float64Array.from({ length: n * CLASSES }, (_, i) => {
          const [b, k] = [Math.floor(i / CLASSES), i % CLASSES];
          let z = model.fcB[k];
          for (let c = 0; c < C1; c++) z += model.fcW[k * C1 + c] * ref.features[b * C1 + c];
          return z;
        });
        expect(relMax(head, ref.logits)).toBeLessThan(1e-12);
        const want = lameAdjust({ logits: { data: Float32Array.from(ref.logits), dims: [n, CLASSES] }, features: { data: Float32Array.from(ref.features), dims: [n, C1] }, options: LAME_DEFAULTS });
        const got = (await s.run({ x: new ort.Tensor('float32', x, [n, C0, SIZE, SIZE]) })).logits;
        expect(got.dims).toEqual([n, CLASSES]);
        // Compare probabilities (log Y is -69 where Y underflowed).
        const prob = (z: ArrayLike<number>) => Float64Array.from(z, (v) => Math.exp(v));
        expect(relMax(prob(got.data as Float32Array), prob(want))).toBeLessThan(1e-4);
      }
      // Output-level only: no state at all, so the same batch gets the same answer (checked above: batch 1 twice).
      expect(Object.keys(s.snapshot().state)).toEqual([]);
    } finally {
      await s.dispose();
    }
  });

  it('one sample has no neighbours: the answer is the source model’s; a window gives LAME its batch', async () => {
    const s = await AdaptiveSession.create(model.ir(), { method: 'lame', runtime: 'node' });
    const w = await AdaptiveSession.create(model.ir(), { method: 'lame', runtime: 'node', window: 6 });
    try {
      const x = batch(6, 3);
      const one = x.subarray(0, PER);
      const got = await s.run({ x: new ort.Tensor('float32', one, [1, C0, SIZE, SIZE]) });
      expect(relMax(got.logits.data as Float32Array, sourceForward(one, 1).logits)).toBeLessThan(1e-5);
      // Fed one at a time through a window of 6, the sixth answer is the row of LAME over all six.
      let last: Float32Array | undefined;
      for (let i = 0; i < 6; i++) last = (await w.run({ x: new ort.Tensor('float32', x.slice(i * PER, (i + 1) * PER), [1, C0, SIZE, SIZE]) })).logits.data as Float32Array;
      const all = (await s.run({ x: new ort.Tensor('float32', x, [6, C0, SIZE, SIZE]) })).logits.data as Float32Array;
      expect(relMax(last!, all.subarray(5 * CLASSES))).toBeLessThan(1e-5);
    } finally {
      await s.dispose();
      await w.dispose();
    }
  });

  it('any method can end in +lame (norm+lame = LAME over the norm answers); options are validated', async () => {
    const s = await AdaptiveSession.create(model.ir(), { method: 'norm+lame', runtime: 'node', methodOptions: { k: 3 } });
    expect(s.method).toBe('norm+lame');
    expect(s.options).toMatchObject({ k: 3, maxSteps: 100, lambda: 1 });
    await s.dispose();
    await expect(AdaptiveSession.create(model.ir(), { method: 'lame', runtime: 'node', methodOptions: { k: 0 } })).rejects.toThrow(/methodOptions\.k: must be >= 1, got 0/);
    await expect(AdaptiveSession.create(model.ir(), { method: 'lame', runtime: 'node', methodOptions: { maxSteps: 2.5 } })).rejects.toThrow(/methodOptions\.maxSteps: expected an integer/);
    await expect(AdaptiveSession.create(model.ir(), { method: 'tent+nothing', runtime: 'node' })).rejects.toThrow(/unknown method 'tent\+nothing'.*stages: lame, prior/);
  });

  it('refuses a model without a linear head, naming what its first output comes from', async () => {
    const ir = model.ir();
    const g = ir.graph;
    g.nodes.pop(); // drop the Gemm head: the output is BN2's
    g.outputs = [{ name: 'bn2.y', elemType: 1, shape: ['N', C1] }];
    await expect(AdaptiveSession.create(ir, { method: 'lame', runtime: 'node' })).rejects.toThrow(
      /method 'lame' reads the classifier's penultimate features .* comes from a 'BatchNormalization' node/,
    );
  });
});
