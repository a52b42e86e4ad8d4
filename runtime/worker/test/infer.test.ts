import { describe, expect, it } from 'vitest';
import { AdaptiveSession, listMethods } from '@edgetta/sdk';
import { batch, maxAbsDiff, modelPath } from './helpers.js';

// Serving while adapting needs "answer without adapting" from every method: AdaptiveSession.infer.
describe('AdaptiveSession.infer: an answer from the current state, without adapting', () => {
  it.each(listMethods())('%s: answers, changes no state or counter, and repeats exactly', async (method) => {
    const s = await AdaptiveSession.create(modelPath, { method, runtime: 'node', threads: 1, ...(method === 'dua' ? { methodOptions: { copies: 4 } } : {}) });
    try {
      await s.run({ input: batch(0, 16) });
      const before = s.snapshot();
      const a = (await s.infer({ input: batch(1, 16) })).logits;
      const b = (await s.infer({ input: batch(1, 16) })).logits;
      expect(a.dims).toEqual([16, 10]);
      expect(maxAbsDiff(a.data as Float32Array, b.data as Float32Array)).toBe(0);
      const after = s.snapshot();
      expect(after.batches).toBe(before.batches);
      expect(after.samples).toBe(before.samples);
      for (const [k, v] of Object.entries(before.state)) expect(maxAbsDiff(after.state[k], v)).toBe(0);
    } finally {
      await s.dispose();
    }
  });

  it.each(['norm', 'unmix-tns'].filter((m) => listMethods().includes(m)))('%s answers each batch from the state before its update, so infer equals run on it', async (method) => {
    const s = await AdaptiveSession.create(modelPath, { method, runtime: 'node', threads: 1 });
    try {
      for (let i = 0; i < 3; i++) {
        const inferred = (await s.infer({ input: batch(i, 16) })).logits.data as Float32Array;
        const answered = (await s.run({ input: batch(i, 16) })).logits.data as Float32Array;
        expect(maxAbsDiff(inferred, answered)).toBeLessThanOrEqual(1e-5);
      }
    } finally {
      await s.dispose();
    }
  });

  it("bn-ema's answer comes after its update, its infer before: they differ on a shifted batch", async () => {
    const s = await AdaptiveSession.create(modelPath, { method: 'bn-ema', runtime: 'node', threads: 1 });
    try {
      const inferred = (await s.infer({ input: batch(0, 32) })).logits.data as Float32Array;
      const answered = (await s.run({ input: batch(0, 32) })).logits.data as Float32Array;
      expect(maxAbsDiff(inferred, answered)).toBeGreaterThan(1e-3);
    } finally {
      await s.dispose();
    }
  });
});
