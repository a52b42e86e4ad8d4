import { describe, expect, it } from 'vitest';
import { Tensor } from 'onnxruntime-common';
import { AdaptiveSession, listMethods } from '@edgetta/sdk';
import { createWorkerSession, startNodeWorker, WorkerClosedError, type WorkerSession } from '@edgetta/worker/node';
import { batch, maxAbsDiff, modelPath, within } from './helpers.js';

// Gradient methods join the parity check once they are registered.
const methods = ['bn-ema', 'dua', ...listMethods().filter((m) => m === 'tent')];
const opts = (method: string) => ({ method, runtime: 'node' as const, threads: 1, ...(method === 'dua' ? { methodOptions: { copies: 8 } } : {}) });

describe('AdaptiveSession in a node:worker_threads worker', () => {
  it.each(methods)('%s: identical logits and state in-process and in the worker for the same stream', async (method) => {
    const local = await AdaptiveSession.create(modelPath, opts(method));
    const remote = await createWorkerSession(modelPath, opts(method));
    try {
      expect(remote.method).toBe(method);
      expect(remote.inputNames).toEqual(local.inputNames);
      expect(remote.layerInfo).toEqual(local.layerInfo);
      for (let b = 0; b < 4; b++) {
        const want = (await local.run({ input: batch(b, 32) })).logits;
        const got = (await remote.run({ input: batch(b, 32) })).logits;
        expect(got).toBeInstanceOf(Tensor);
        expect(got.dims).toEqual(want.dims);
        expect(maxAbsDiff(got.data as Float32Array, want.data as Float32Array)).toBe(0);
      }
      const [a, b] = [local.snapshot(), await remote.snapshot()];
      expect(Object.keys(b.state).sort()).toEqual(Object.keys(a.state).sort());
      for (const k of Object.keys(a.state)) expect(maxAbsDiff(b.state[k], a.state[k])).toBe(0);
      const stats = await remote.stats;
      expect(stats).toMatchObject({ method, batches: 4, samples: 128, engine: { name: 'onnxruntime-node' }, serving: { mode: 'adapt-then-answer', served: 4, adapted: 4, dropped: 0 } });
    } finally {
      await local.dispose();
      await remote.dispose();
    }
  });

  it('transfers buffers: the caller’s input is moved (detached), the outputs arrive in their own buffers', async () => {
    const s = await createWorkerSession(modelPath, opts('norm'));
    try {
      const input = batch(0, 16);
      const data = input.data as Float32Array;
      expect(data.length).toBe(16 * 3072);
      const out = await s.run({ input });
      expect(data.length).toBe(0);
      expect(data.buffer.byteLength).toBe(0);
      const logits = out.logits.data as Float32Array;
      expect(logits.length).toBe(160);
      expect(logits.buffer.byteLength).toBe(160 * 4);
      // A view into a larger buffer is copied instead, so the bytes around it stay with the caller.
      const big = new Float32Array(17 * 3072);
      await s.run({ input: new Tensor('float32', big.subarray(3072), [16, 3, 32, 32]) });
      expect(big.length).toBe(17 * 3072);
      // Snapshots come back as plain Float32Arrays (transferred out of the worker).
      const snap = await s.snapshot();
      expect(snap.method).toBe('norm');
    } finally {
      await s.dispose();
    }
  });

  it('answers infer() from the current state without adapting, like in-process infer()', async () => {
    const local = await AdaptiveSession.create(modelPath, opts('bn-ema'));
    const remote = await createWorkerSession(modelPath, opts('bn-ema'));
    try {
      await local.run({ input: batch(0, 32) });
      await remote.run({ input: batch(0, 32) });
      const want = (await local.infer({ input: batch(1, 32) })).logits.data as Float32Array;
      const got = (await remote.infer({ input: batch(1, 32) })).logits.data as Float32Array;
      expect(maxAbsDiff(got, want)).toBe(0);
      // infer changed nothing: the state is still that after one batch.
      expect((await remote.stats).batches).toBe(1);
      const after = (await remote.run({ input: batch(2, 32) })).logits.data as Float32Array;
      const ref = (await local.run({ input: batch(2, 32) })).logits.data as Float32Array;
      expect(maxAbsDiff(after, ref)).toBe(0);
    } finally {
      await local.dispose();
      await remote.dispose();
    }
  });

  it("serve 'adapt-after': answers from the state before the batch, adapts right after (lag of one batch)", async () => {
    const local = await AdaptiveSession.create(modelPath, opts('bn-ema'));
    const remote = await createWorkerSession(modelPath, { ...opts('bn-ema'), serve: { mode: 'adapt-after' } });
    try {
      for (let b = 0; b < 3; b++) {
        const want = (await local.infer({ input: batch(b, 32) })).logits.data as Float32Array;
        await local.run({ input: batch(b, 32) });
        const got = (await remote.run({ input: batch(b, 32) })).logits.data as Float32Array;
        await remote.flush();
        expect(maxAbsDiff(got, want)).toBe(0);
      }
      const stats = await remote.stats;
      expect(stats.batches).toBe(3);
      expect(stats.serving).toMatchObject({ mode: 'adapt-after', served: 3, adapted: 3, dropped: 0, queueDepth: 0 });
      for (const [k, v] of Object.entries(local.snapshot().state)) expect(maxAbsDiff((await remote.snapshot()).state[k], v)).toBe(0);
    } finally {
      await local.dispose();
      await remote.dispose();
    }
  });

  it('under overload answers every prediction and drops adaptation steps beyond the bounded queue', async () => {
    const s = await createWorkerSession(modelPath, { ...opts('bn-ema'), serve: { mode: 'adapt-after', maxPendingSteps: 1 } });
    try {
      const n = 8;
      const answers = await Promise.all(Array.from({ length: n }, (_, b) => s.run({ input: batch(b, 32) })));
      expect(answers.every((a) => a.logits.dims[0] === 32)).toBe(true);
      await s.flush();
      const { serving, batches } = await s.stats;
      expect(serving.served).toBe(n);
      expect(serving.dropped).toBeGreaterThan(0);
      expect(serving.adapted + serving.dropped).toBe(n);
      expect(batches).toBe(serving.adapted);
      expect(serving.maxQueueDepth).toBeLessThanOrEqual(1);
      expect(serving.queueDepth).toBe(0);
    } finally {
      await s.dispose();
    }
  });

  it("re-throws the worker's errors with their message and the worker's stack; the session stays usable", async () => {
    const local = await AdaptiveSession.create(modelPath, opts('norm'));
    const remote = await createWorkerSession(modelPath, opts('norm'));
    try {
      const bad = () => ({ input: new Tensor('float32', new Float32Array(2 * 3 * 31 * 32), [2, 3, 31, 32]) });
      const inProcess = await local.run(bad()).then(() => null, (e: Error) => e);
      const inWorker = await remote.run(bad()).then(() => null, (e: Error) => e);
      expect(inProcess).toBeInstanceOf(Error);
      expect(inWorker).toBeInstanceOf(Error);
      expect(inWorker!.message).toBe(inProcess!.message);
      expect(inWorker!.message).toMatch(/dimension 2 is 31/);
      expect(inWorker!.stack).toMatch(/validate\.ts/);
      expect(inWorker!.stack).toMatch(/edgetta worker boundary/);
      await expect(remote.restore({ method: 'bn-ema', options: {}, batches: 0, samples: 0, state: {} })).rejects.toThrow(/snapshot is of method 'bn-ema'/);
      expect((await remote.run({ input: batch(0, 8) })).logits.dims).toEqual([8, 10]);
      await expect(createWorkerSession(modelPath, { method: 'nope', runtime: 'node' })).rejects.toThrow(/unknown method 'nope'; registered methods: .*alpha-bn/);
      await expect(createWorkerSession(modelPath, { method: local as never })).rejects.toThrow(/cannot cross to the worker/);
    } finally {
      await local.dispose();
      await remote.dispose();
    }
  });

  it('a worker killed mid-step (worker.terminate()) rejects every pending call with a clear error, no promise hangs; a new session then works', async () => {
    // onnxruntime-web (wasm): a thread can be terminated inside its run. (onnxruntime-node cannot:
    // see the next test.)
    const worker = startNodeWorker();
    const s = await createWorkerSession(modelPath, { method: 'dua', runtime: 'web', threads: 1, worker });
    const step = s.run({ input: batch(0, 32) }); // 32 images x 64 views on wasm: seconds of work
    const queued = s.snapshot();
    await new Promise((r) => setTimeout(r, 300));
    await worker.terminate();
    const [e1, e2] = await within(Promise.all([step.then(() => null, (e: Error) => e), queued.then(() => null, (e: Error) => e)]), 5_000, 'the pending calls');
    expect(e1).toBeInstanceOf(WorkerClosedError);
    expect(e1!.message).toMatch(/run\(\) failed: the worker thread exited with code 1/);
    expect(e2!.message).toMatch(/snapshot\(\) failed/);
    await expect(within(s.run({ input: batch(1, 8) }), 1_000, 'a call after the kill')).rejects.toThrow(/after the worker was closed/);
    await s.dispose();
    const fresh = await createWorkerSession(modelPath, opts('norm'));
    expect((await fresh.run({ input: batch(1, 8) })).logits.dims).toEqual([8, 10]);
    await fresh.dispose();
  });

  it('onnxruntime-node: terminate() mid-step rejects at once and retires the thread when its native run returns (the process survives)', async () => {
    const worker = startNodeWorker();
    const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
    const s = await createWorkerSession(modelPath, { method: 'dua', runtime: 'node', threads: 1, worker });
    const step = s.run({ input: batch(0, 32) });
    await new Promise((r) => setTimeout(r, 300));
    const t0 = performance.now();
    s.terminate();
    await expect(within(step, 1_000, 'the pending run')).rejects.toThrow(/run\(\) failed: terminate\(\) was called/);
    expect(performance.now() - t0).toBeLessThan(100);
    expect(await within(exited, 30_000, 'the retired worker exit')).toBe(0);
    const fresh = await createWorkerSession(modelPath, opts('norm'));
    expect((await fresh.run({ input: batch(1, 8) })).logits.dims).toEqual([8, 10]);
    await fresh.dispose();
  });

  it('a worker that crashes mid-step (a method calling process.exit) rejects the call; custom methods load through imports', async () => {
    const s = await createWorkerSession(modelPath, { method: 'crash-test', runtime: 'node', imports: [new URL('./fixtures/crash-method.ts', import.meta.url).href] });
    await expect(within(s.run({ input: batch(0, 8) }), 10_000, 'run on a crashing worker')).rejects.toThrow(/exited with code 7/);
  });

  it('a call that exceeds its timeout stops the worker and rejects, naming the call and the limit', async () => {
    const s: WorkerSession = await createWorkerSession(modelPath, { method: 'dua', runtime: 'node', threads: 1, timeoutMs: 100 });
    await expect(within(s.run({ input: batch(0, 32) }), 5_000, 'the timed-out call')).rejects.toThrow(/run\(\) did not answer within 100 ms, so the worker was stopped/);
    await expect(s.stats).rejects.toThrow(WorkerClosedError);
  });

  it('dispose() releases the session and terminates the worker thread', async () => {
    const worker = startNodeWorker();
    const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
    const s = await createWorkerSession(modelPath, { ...opts('norm'), worker });
    await s.dispose();
    await within(exited, 5_000, 'the worker exit');
    await expect(s.run({ input: batch(0, 8) })).rejects.toThrow(/the session was disposed/);
    await s.dispose(); // idempotent
  });
});
