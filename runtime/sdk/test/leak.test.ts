import v8 from 'node:v8';
import vm from 'node:vm';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { randomInput, smallCnn } from '@edgetta/testing';
import { AdaptiveSession, liveSessions } from '@edgetta/sdk';

const model = smallCnn(21, { size: 8, classes: 5 });
const batch = (seed: number, n: number) => ({ x: new ort.Tensor('float32', randomInput(seed, [n, 3, 8, 8]), [n, 3, 8, 8]) });

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** JS heap plus ArrayBuffer memory after a full collection, in MB. */
function liveMemory(): number {
  gc();
  const m = process.memoryUsage();
  return (m.heapUsed + m.arrayBuffers) / 2 ** 20;
}

/** Entries and float count of the session's state. */
function stateSize(s: AdaptiveSession): { entries: number; floats: number } {
  const state = s.snapshot().state;
  return { entries: Object.keys(state).length, floats: Object.values(state).reduce((a, v) => a + v.length, 0) };
}

describe('no leaks across create / run / reset / dispose', () => {
  it('every onnxruntime session a create() opens is released by dispose(), for every kind of method', async () => {
    const base = liveSessions();
    for (let cycle = 0; cycle < 5; cycle++) {
      for (const method of ['source', 'norm', 'tent', 'sar', 'rotta', 'unmix-tns+tent']) {
        const s = await AdaptiveSession.create(model, { method, runtime: 'node', guard: { sourceWeight: 0.5 }, ...(method === 'rotta' ? { methodOptions: { updateEvery: 4, capacity: 8 } } : {}) });
        // One session per pass plus the guard's source pass; the probe's session is already released.
        expect(liveSessions() - base, method).toBeGreaterThanOrEqual(2);
        const size = stateSize(s);
        for (let i = 0; i < 3; i++) await s.run(batch(cycle * 10 + i, 4));
        s.reset();
        expect(stateSize(s)).toEqual(size);
        await s.dispose();
        await s.dispose(); // twice is harmless
        expect(liveSessions(), method).toBe(base);
      }
    }
    // A failing create() (a method that does not apply) leaves nothing open either.
    await expect(AdaptiveSession.create(smallCnn(1), { method: 'norm', runtime: 'node', window: 1 })).rejects.toThrow(/window/);
    expect(liveSessions()).toBe(base);
  });

  it('10,000 runs keep the session count, the state size and the memory flat', async () => {
    const s = await AdaptiveSession.create(model, { method: 'bn-ema', runtime: 'node' });
    const sessions = liveSessions();
    const size = stateSize(s);
    const feeds = batch(1, 16);
    let at1000 = 0;
    let rssAt1000 = 0;
    for (let i = 1; i <= 10_000; i++) {
      await s.run(feeds);
      if (i === 1000) [at1000, rssAt1000] = [liveMemory(), process.memoryUsage().rss];
    }
    const grown = liveMemory() - at1000;
    const rssGrown = (process.memoryUsage().rss - rssAt1000) / 2 ** 20;
    expect(liveSessions()).toBe(sessions);
    expect(stateSize(s)).toEqual(size);
    expect(s.stats.batches).toBe(10_000);
    // Stated bounds over runs 1,000 -> 10,000: live JS + ArrayBuffer memory (after a full GC) grows
    // by under 4 MB, i.e. < 0.5 KB per run, a tenth of one retained input batch (16 x 3 x 8 x 8
    // floats = 12 KB); RSS (onnxruntime's native memory included) by under 64 MB.
    console.log(`growth over runs 1,000-10,000: live ${grown.toFixed(2)} MB, rss ${rssGrown.toFixed(1)} MB`);
    expect(grown).toBeLessThan(4);
    expect(rssGrown).toBeLessThan(64);
    await s.dispose();
  });
});
