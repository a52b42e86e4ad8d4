import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { goldenInput, resnetPath } from '@edgetta/testing';
import { AdaptiveSession } from '@edgetta/sdk';
import { blendWithSource } from '../src/guard.js';

const input = goldenInput(192);
const batch = (b: number) => new ort.Tensor('float32', input.slice(b * 64 * 3072, (b + 1) * 64 * 3072), [64, 3, 32, 32]);
const logits = async (s: AdaptiveSession, b: number) => Float32Array.from((await s.run({ input: batch(b) })).logits.data as Float32Array);

describe('collapse guards through AdaptiveSession', () => {
  it('resetEvery: after the reset the session answers exactly as a fresh one', async () => {
    const guarded = await AdaptiveSession.create(resnetPath, { method: 'bn-ema', runtime: 'node', guard: { resetEvery: 2 } });
    const fresh = await AdaptiveSession.create(resnetPath, { method: 'bn-ema', runtime: 'node' });
    await logits(guarded, 0);
    await logits(guarded, 1); // second batch -> periodic reset afterwards
    expect(guarded.stats.guard).toMatchObject({ resets: 1, lastReset: { reason: 'periodic reset after 2 batches', afterBatches: 2 } });
    expect(guarded.stats.batches).toBe(0);
    expect(await logits(guarded, 2)).toEqual(await logits(fresh, 2));
    await Promise.all([guarded.dispose(), fresh.dispose()]);
  });

  it("a guard reset keeps the report of the step that preceded it, and restarts the update counters", async () => {
    const guarded = await AdaptiveSession.create(resnetPath, { method: 'tent', runtime: 'node', guard: { resetEvery: 2 } });
    await logits(guarded, 0);
    expect(guarded.stats.updates).toEqual({ applied: 1, skipped: 0 });
    await logits(guarded, 1); // its step is applied, then the guard resets
    const stats = guarded.stats;
    expect(stats.guard.resets).toBe(1);
    expect(stats.updates).toEqual({ applied: 0, skipped: 0 });
    expect(stats.lastUpdate).toMatchObject({ applied: true });
    guarded.reset(); // a user reset clears it
    expect(guarded.stats.lastUpdate).toBeNull();
    await guarded.dispose();
  });

  it('entropyFloor: a collapsing stream triggers resets that show in stats, and the monitor reports the top-class share', async () => {
    // A floor above any reachable entropy (ln 10 = 2.30) fires after every batch: the guarded
    // session then always adapts from the source, i.e. answers like a fresh session each time.
    const guarded = await AdaptiveSession.create(resnetPath, { method: 'bn-ema', runtime: 'node', guard: { entropyFloor: 3 } });
    const fresh = await AdaptiveSession.create(resnetPath, { method: 'bn-ema', runtime: 'node' });
    const first = await logits(fresh, 1);
    await logits(guarded, 0);
    expect(await logits(guarded, 1)).toEqual(first);
    const stats = guarded.stats;
    expect(stats.guard.resets).toBe(2);
    expect(stats.guard.lastReset?.reason).toMatch(/entropy EMA 0\.\d{4} fell below the floor 3/);
    expect(stats.guard.topClassShare).toBeNull(); // cleared by the reset
    const monitor = await AdaptiveSession.create(resnetPath, { method: 'norm', runtime: 'node' });
    await logits(monitor, 0);
    const share = monitor.stats.guard.topClassShare!;
    expect(share).toBeGreaterThan(0.1);
    expect(share).toBeLessThan(0.6); // i.i.d. noisy CIFAR: no class dominates
    await Promise.all([guarded.dispose(), fresh.dispose(), monitor.dispose()]);
  });

  it('sourceWeight: answers blend the adapted logits with the plain model run on the same batch; adaptation is unchanged', async () => {
    const blended = await AdaptiveSession.create(resnetPath, { method: 'bn-ema', runtime: 'node', guard: { sourceWeight: 0.4 } });
    const adapted = await AdaptiveSession.create(resnetPath, { method: 'bn-ema', runtime: 'node' });
    const plain = await ort.InferenceSession.create(resnetPath);
    for (let b = 0; b < 3; b++) {
      const got = await logits(blended, b);
      const a = await logits(adapted, b);
      const s = (await plain.run({ input: batch(b) })).logits.data as Float32Array;
      const want = blendWithSource(a, s, [64, 10], 0.4);
      let maxDiff = 0;
      for (let i = 0; i < got.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i] - want.logits[i]));
      expect(maxDiff).toBeLessThan(1e-5);
      expect(blended.stats.guard.sourceAgreement).toBe(want.agreement);
    }
    // The state adapted exactly as without the blend (bn-ema keeps running statistics).
    const snapA = blended.snapshot().state;
    const snapB = adapted.snapshot().state;
    for (const k of Object.keys(snapB)) expect(snapA[k]).toEqual(snapB[k]);
    // infer() answers with the blend too, without adapting.
    const inferred = Float32Array.from((await blended.infer({ input: batch(0) })).logits.data as Float32Array);
    const a0 = Float32Array.from((await adapted.infer({ input: batch(0) })).logits.data as Float32Array);
    const s0 = (await plain.run({ input: batch(0) })).logits.data as Float32Array;
    const want0 = blendWithSource(a0, s0, [64, 10], 0.4).logits;
    expect(Math.max(...inferred.map((v, i) => Math.abs(v - want0[i])))).toBeLessThan(1e-5);
    expect(blended.stats.batches).toBe(3);
    await Promise.all([blended.dispose(), adapted.dispose(), plain.release()]);
  });

  it('rejects bad guard options before loading anything', async () => {
    await expect(AdaptiveSession.create(resnetPath, { method: 'norm', guard: { resetEvery: 0 } })).rejects.toThrow('guard.resetEvery: expected an integer >= 1, got 0');
    await expect(AdaptiveSession.create(resnetPath, { method: 'norm', guard: { sourceWeight: 1 } })).rejects.toThrow('guard.sourceWeight: expected a number in (0, 1), got 1');
  });
});
