import fs from 'node:fs';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goldenDir, goldenInput, readNpyFile, resnetPath } from '@edgetta/testing';
import { AdaptiveSession } from '@edgetta/sdk';

const input = goldenInput(256);
const labels = readNpyFile(`${goldenDir}labels.npy`).data as Uint8Array;
const meta = JSON.parse(fs.readFileSync(`${goldenDir}meta.json`, 'utf8')) as Record<string, number>;

function batch(b: number): ort.Tensor {
  return new ort.Tensor('float32', input.slice(b * 64 * 3072, (b + 1) * 64 * 3072), [64, 3, 32, 32]);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function errors(logits: Float32Array, offset: number): number {
  let wrong = 0;
  for (let r = 0; r < logits.length / 10; r++) {
    let best = 0;
    for (let k = 1; k < 10; k++) if (logits[r * 10 + k] > logits[r * 10 + best]) best = k;
    if (best !== labels[offset + r]) wrong++;
  }
  return wrong;
}

/** The 4 batches of 64 in order from the source state, as the golden fixture was made. */
async function stream(s: AdaptiveSession): Promise<Float32Array> {
  const out = new Float32Array(256 * 10);
  for (let b = 0; b < 4; b++) out.set((await s.run({ input: batch(b) })).logits.data as Float32Array, b * 640);
  return out;
}

describe('AdaptiveSession on ResNet-20 against the PyTorch golden logits', () => {
  let plain: ort.InferenceSession;
  beforeAll(async () => {
    plain = await ort.InferenceSession.create(resnetPath);
  });
  afterAll(async () => plain.release());

  it('source gives the logits of a plain InferenceSession on the original model (max abs diff <= 1e-5)', async () => {
    const s = await AdaptiveSession.create(resnetPath, { method: 'source', runtime: 'node' });
    for (let b = 0; b < 4; b++) {
      const mine = (await s.run({ input: batch(b) })).logits.data as Float32Array;
      const ref = (await plain.run({ input: batch(b) })).logits.data as Float32Array;
      expect(maxAbsDiff(mine, ref)).toBeLessThanOrEqual(1e-5);
    }
    await s.dispose();
  });

  for (const method of ['source', 'norm', 'alpha-bn', 'bn-ema']) {
    it(`${method}: 4-batch logits equal logits_${method}.npy (max abs diff <= 1e-3) and its error rate`, async () => {
      const golden = readNpyFile(`${goldenDir}logits_${method}.npy`).data as Float32Array;
      const s = await AdaptiveSession.create(resnetPath, { method, runtime: 'node' });
      const logits = await stream(s);
      expect(maxAbsDiff(logits, golden)).toBeLessThanOrEqual(1e-3);
      expect((errors(logits, 0) / 256) * 100).toBeCloseTo(meta[`error_${method}`], 6);
      expect(s.stats.batches).toBe(4);
      expect(s.stats.samples).toBe(256);
      await s.dispose();
    });
  }
});
