import { monitorEventLoopDelay } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { AdaptiveSession, listMethods } from '@edgetta/sdk';
import { createWorkerSession } from '@edgetta/worker/node';
import { batch, modelPath } from './helpers.js';

// The heaviest registered step: tent (gradients) once it exists, else dua (64 augmented views per
// image, built in JS, each a synchronous onnxruntime-node forward).
const method = listMethods().includes('tent') ? 'tent' : 'dua';
const options = { method, runtime: 'node' as const, threads: 1 };

/** Max and p99 event-loop delay (ms) of this thread while `work` runs. */
async function delayWhile(work: () => Promise<void>): Promise<{ max: number; p99: number; ms: number }> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  const t0 = performance.now();
  h.enable();
  await work();
  const ms = performance.now() - t0;
  // One more turn, so a delay that lasted until the work's end is sampled too.
  await new Promise((r) => setTimeout(r, 5));
  h.disable();
  return { max: h.max / 1e6, p99: h.percentile(99) / 1e6, ms };
}

/**
 * The max delay in each of `windows` windows of `steps` adaptation steps. Blocking by the
 * adaptation is systematic (it shows in every window); a delay from other processes competing for
 * the machine's cores is sporadic. So the verdict takes the best window, for both placements.
 */
async function windows(session: { run(f: { input: ReturnType<typeof batch> }): Promise<unknown> }, count: number, steps: number) {
  const out: { max: number; p99: number; ms: number }[] = [];
  let b = 1;
  for (let w = 0; w < count; w++) {
    out.push(
      await delayWhile(async () => {
        for (let s = 0; s < steps; s++) await session.run({ input: batch(b++, 16) });
      }),
    );
  }
  return out;
}

const fmt = (ws: { max: number }[]) => ws.map((w) => w.max.toFixed(1)).join(' / ');

describe('the main thread stays free while the worker adapts', () => {
  it(`${method}: max event-loop delay < 20 ms while steps run in the worker; the same steps in-process block it`, async () => {
    const remote = await createWorkerSession(modelPath, options);
    const local = await AdaptiveSession.create(modelPath, options);
    try {
      await remote.run({ input: batch(0, 16) }); // warm-up outside the measured windows
      await local.run({ input: batch(0, 16) });
      const inWorker = await windows(remote, 4, 2);
      const inProcess = await windows(local, 4, 2);
      expect((await remote.stats).batches).toBe(9);
      const best = (ws: { max: number }[]) => Math.min(...ws.map((w) => w.max));
      console.log(
        `event-loop delay (max per window of 2 ${method} steps of 16 images): worker ${fmt(inWorker)} ms (p99 ${Math.max(...inWorker.map((w) => w.p99)).toFixed(1)} ms); ` +
          `in-process ${fmt(inProcess)} ms`,
      );
      expect(best(inProcess)).toBeGreaterThan(20);
      expect(best(inWorker)).toBeLessThan(20);
    } finally {
      await remote.dispose();
      await local.dispose();
    }
  });
});
