import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { goldenInput, resnetPath } from '@edgetta/testing';
import { AdaptiveSession } from '@edgetta/sdk';

const x = goldenInput(40);
const one = (i: number) => new ort.Tensor('float32', x.slice(i * 3072, (i + 1) * 3072), [1, 3, 32, 32]);
const rows = (from: number, to: number) => new ort.Tensor('float32', x.slice(from * 3072, to * 3072), [to - from, 3, 32, 32]);

describe('single-sample mode (sliding window, tta-spec 2.2 item 8)', () => {
  it('norm at batch size 1 answers each image with its row of a forward over the last `window` images', async () => {
    const s = await AdaptiveSession.create(resnetPath, { method: 'norm', runtime: 'node', window: 8 });
    const ref = await AdaptiveSession.create(resnetPath, { method: 'norm', runtime: 'node' });
    for (let i = 0; i < 12; i++) {
      const got = (await s.run({ input: one(i) })).logits;
      expect(got.dims).toEqual([1, 10]);
      const from = Math.max(0, i - 7);
      if (i + 1 - from >= 2) {
        const want = (await ref.infer({ input: rows(from, i + 1) })).logits.data as Float32Array;
        expect(Array.from(got.data as Float32Array)).toEqual(Array.from(want.slice((i - from) * 10)));
      }
    }
    await Promise.all([s.dispose(), ref.dispose()]);
  });

  it('tent adapts once per fully refreshed window, and snapshot/restore covers the window', async () => {
    const s = await AdaptiveSession.create(resnetPath, { method: 'tent', runtime: 'node', window: 8 });
    for (let i = 0; i < 7; i++) await s.run({ input: one(i) });
    expect(s.stats.batches).toBe(0); // inferred only: the window is not refreshed yet
    await s.run({ input: one(7) });
    expect(s.stats.batches).toBe(1);
    expect(s.stats.lastUpdate?.applied).toBe(true);
    const snap = s.snapshot();
    const a = (await s.run({ input: one(8) })).logits.data;
    for (let i = 9; i < 20; i++) await s.run({ input: one(i) });
    expect(s.stats.batches).toBe(2);
    s.restore(snap);
    expect((await s.run({ input: one(8) })).logits.data).toEqual(a);
    await s.dispose();
  });

  it('rejects a bad window and multi-sample batches still work', async () => {
    await expect(AdaptiveSession.create(resnetPath, { method: 'norm', window: 1 })).rejects.toThrow('window: expected an integer >= 2 (samples in the sliding window), got 1');
    const s = await AdaptiveSession.create(resnetPath, { method: 'norm', runtime: 'node', window: 8 });
    expect((await s.run({ input: rows(0, 3) })).logits.dims).toEqual([3, 10]);
    expect((await s.run({ input: rows(3, 13) })).logits.dims).toEqual([10, 10]); // >= window: a plain batch
    await s.dispose();
  });
});
