import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { getMethod, listMethods, type MapStateStore, type MethodDefinition } from '@edgetta/core';
import { randomInput, smallCnn } from '@edgetta/testing';
import { AdaptiveSession } from '@edgetta/sdk';

const SIZE = 8;
const N = 8;
const model = smallCnn(11, { size: SIZE, classes: 5 });
const feeds = (seed: number) => ({ x: new ort.Tensor('float32', randomInput(seed, [N, 3, SIZE, SIZE]), [N, 3, SIZE, SIZE]) });
// Small enough that RoTTA updates (teacher and student passes) happen within these batches.
const optionsOf: Record<string, Record<string, number>> = { rotta: { updateEvery: 8, capacity: 16 }, dua: { copies: 4 } };

/** The method, with a switch that makes its step throw after it has done all its work. */
function failing(def: MethodDefinition<any>): { def: MethodDefinition<any>; fail: { on: boolean; journal: number } } {
  const fail = { on: false, journal: 0 };
  return {
    fail,
    def: {
      ...def,
      async step(ctx) {
        const out = await def.step(ctx);
        fail.journal = (ctx.state as MapStateStore).journalSize;
        if (fail.on) throw new Error('injected failure after the step');
        return out;
      },
    },
  };
}

async function methods(): Promise<string[]> {
  await (await AdaptiveSession.create(model, { method: 'source', runtime: 'node' })).dispose();
  return listMethods();
}

describe('a failed step rolls the state back exactly', async () => {
  for (const name of await methods()) {
    it(name, async () => {
      const { def, fail } = failing(getMethod(name));
      const opts = { method: def, methodOptions: optionsOf[name], runtime: 'node' as const };
      const session = await AdaptiveSession.create(model, opts);
      const twin = await AdaptiveSession.create(model, { ...opts, method: getMethod(name) });
      for (const s of [session, twin]) for (const seed of [1, 2]) await s.run(feeds(seed));
      const before = session.snapshot();
      fail.on = true;
      await expect(session.run(feeds(3))).rejects.toThrow(/injected failure/);
      fail.on = false;
      const after = session.snapshot();
      expect(Object.keys(after.state).sort()).toEqual(Object.keys(before.state).sort());
      for (const k of Object.keys(before.state)) expect(after.state[k], k).toEqual(before.state[k]);
      expect([after.batches, after.samples]).toEqual([before.batches, before.samples]);
      // The session goes on exactly as one that never saw the failed batch.
      const a = await session.run(feeds(4));
      const b = await twin.run(feeds(4));
      expect(Array.from(a.logits.data as Float32Array)).toEqual(Array.from(b.logits.data as Float32Array));
      await session.dispose();
      await twin.dispose();
    });
  }

  it('a RoTTA run journals the slots it writes, not its memory bank', async () => {
    const { def, fail } = failing(getMethod('rotta'));
    const capacity = 64;
    const session = await AdaptiveSession.create(model, { method: def, methodOptions: { updateEvery: 8, capacity }, runtime: 'node' });
    const per = 3 * SIZE * SIZE;
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8, 9]) {
      await session.run(feeds(seed));
      // At most one image slot per sample of the batch, plus the [capacity] label/uncertainty/age arrays.
      expect(fail.journal).toBeGreaterThan(0);
      expect(fail.journal).toBeLessThanOrEqual(N * per + 3 * capacity + 8);
    }
    expect(N * per + 3 * capacity + 8).toBeLessThan((capacity * per) / 4);
    await session.dispose();
  });
});
