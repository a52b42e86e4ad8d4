import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { goldenInput, resnetPath } from '@edgetta/testing';
import { AdaptiveSession } from '@edgetta/sdk';

const input = goldenInput(192);
const batch = (b: number, n = 64) => new ort.Tensor('float32', input.slice(b * n * 3072, (b + 1) * n * 3072), [n, 3, 32, 32]);
const logitsOf = async (s: AdaptiveSession, b: number) => Float32Array.from((await s.run({ input: batch(b) })).logits.data as Float32Array);

describe('snapshot, restore and reset', () => {
  for (const method of ['bn-ema', 'dua']) {
    it(`${method}: snapshot -> restore -> run reproduces the outputs exactly`, async () => {
      const s = await AdaptiveSession.create(resnetPath, { method, runtime: 'node', methodOptions: method === 'dua' ? { copies: 8, maxUpdates: 100 } : {} });
      await s.run({ input: batch(0) });
      const snap = s.snapshot();
      const first = await logitsOf(s, 1);
      const after = s.snapshot();
      await s.run({ input: batch(2) });
      s.restore(snap);
      expect(s.stats.batches).toBe(1);
      expect(await logitsOf(s, 1)).toEqual(first);
      // The state reached again is bit-identical too.
      const again = s.snapshot();
      for (const k of Object.keys(after.state)) expect(again.state[k]).toEqual(after.state[k]);
      await s.dispose();
    });
  }

  it('a snapshot is plain data that survives structuredClone, and restore rejects a foreign one', async () => {
    const a = await AdaptiveSession.create(resnetPath, { method: 'bn-ema', runtime: 'node' });
    await a.run({ input: batch(0) });
    const snap = structuredClone(a.snapshot());
    const b = await AdaptiveSession.create(resnetPath, { method: 'bn-ema', runtime: 'node' });
    b.restore(snap);
    expect(await logitsOf(b, 1)).toEqual(await logitsOf(a, 1));
    const n = await AdaptiveSession.create(resnetPath, { method: 'norm', runtime: 'node' });
    expect(() => n.restore(snap)).toThrow(/snapshot is of method 'bn-ema', this session runs 'norm'/);
    const broken = structuredClone(snap);
    delete broken.state['layer.3.mean'];
    const before = b.snapshot();
    expect(() => b.restore(broken)).toThrow(/state entries/);
    expect(b.snapshot()).toEqual(before);
    await Promise.all([a.dispose(), b.dispose(), n.dispose()]);
  });

  it('reset returns to the source state: bn-ema after reset answers as a fresh session', async () => {
    const s = await AdaptiveSession.create(resnetPath, { method: 'bn-ema', runtime: 'node' });
    const fresh = await logitsOf(s, 0);
    await s.run({ input: batch(1) });
    await s.run({ input: batch(2) });
    expect(await logitsOf(s, 0)).not.toEqual(fresh);
    s.reset();
    expect(s.stats.batches).toBe(0);
    expect(await logitsOf(s, 0)).toEqual(fresh);
    await s.dispose();
  });
});
