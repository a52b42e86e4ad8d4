import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdaptiveSession } from '@edgetta/sdk';
import { goldenInput, referenceSuite, resnetPath } from '@edgetta/testing';
import { softmaxRows, type MethodDefinition, type RunArgs } from '@edgetta/core';
import { emptyBank, insert, timeliness, rotta, type RottaOptions } from '../src/index.js';

/*
 * RoTTA on ResNet-20 through AdaptiveSession (onnxruntime-node), on the golden noisy input.
 */

// The per-layer RBN math of every pass vs the float64 reference interpreter (tolerance 2e-5
// relative, small CNN incl. a rank-2 BatchNorm, and ResNet-20). The suite feeds no per-run loss
// inputs, so the student pass is checked without its loss; its normalization is the same code.
const normOnly: MethodDefinition<RottaOptions> = { ...rotta, passes: { ...rotta.passes, student: { ...rotta.passes.student, loss: undefined, grads: undefined } } };
referenceSuite(normOnly, [{ pass: 'predict' }, { pass: 'teacher' }, { pass: 'student' }, { pass: 'teacher', options: { alpha: 0.5 } }]);

const input = goldenInput(256);
const PER = 3 * 32 * 32;
const batch = (start: number, n: number) => new ort.Tensor('float32', input.slice(start * PER, (start + n) * PER), [n, 3, 32, 32]);
const logitsOf = (out: Record<string, ort.Tensor>) => out[Object.keys(out)[0]].data as Float32Array;
const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

interface Call {
  pass: string;
  args?: RunArgs;
}

/** rotta with every pass run recorded. */
function probe(calls: Call[]): MethodDefinition<RottaOptions> {
  return { ...rotta, step: (ctx) => rotta.step({ ...ctx, run: (pass, args) => (calls.push({ pass, args }), ctx.run(pass, args)) }) };
}

/** Replays the memory from the teacher's eval logits of the first `count` samples, as the method should. */
function replayBank(logits: Float32Array, count: number) {
  const bank = emptyBank(64, PER);
  const p = softmaxRows(logits, count, 10);
  for (let i = 0; i < count; i++) {
    let u = 0;
    let y = 0;
    for (let k = 0; k < 10; k++) {
      u -= p[i * 10 + k] * Math.log(p[i * 10 + k] + 1e-6);
      if (p[i * 10 + k] > p[i * 10 + y]) y = k;
    }
    insert(bank, { capacity: 64, classes: 10, lambdaT: 1, lambdaU: 1 }, { x: input.subarray(i * PER, (i + 1) * PER), y, u });
  }
  return bank;
}

describe('rotta on ResNet-20', () => {
  let sourceLogits: Float32Array;
  beforeAll(async () => {
    const src = await AdaptiveSession.create(resnetPath, { method: 'source', runtime: 'node' });
    sourceLogits = logitsOf(await src.run({ input: batch(0, 48) }));
    await src.dispose();
  });

  it('the first batch answers with the source model (teacher = source, eval mode); an update runs exactly when the counter crosses 64, mid-batch', async () => {
    const calls: Call[] = [];
    const s = await AdaptiveSession.create(resnetPath, { method: probe(calls), runtime: 'node' });
    const seen: Float32Array[] = [];
    const passesPerBatch: string[][] = [];
    const applied: number[] = [];
    for (let b = 0; b < 4; b++) {
      calls.length = 0;
      seen.push(logitsOf(await s.run({ input: batch(b * 48, 48) })).slice());
      passesPerBatch.push(calls.map((c) => c.pass));
      applied.push(s.stats.updates.applied);
      if (b === 1) {
        // Batch 2 holds samples 49..96: the update happens after its 16th sample, on the memory of samples 1..64.
        const bank = replayBank(new Float32Array([...seen[0], ...seen[1]]), 64);
        const teacher = calls.find((c) => c.pass === 'teacher')!.args!.input!;
        const m = bank.count[0];
        expect(teacher.dims).toEqual([m, 3, 32, 32]);
        expect(teacher.data).toEqual(bank.x.slice(0, m * PER));
        // An update at the end of the batch (96 samples) would have seen another memory.
        const late = replayBank(new Float32Array([...seen[0], ...seen[1]]), 96);
        expect(late.x.slice(0, late.count[0] * PER)).not.toEqual(teacher.data);
        const student = calls.find((c) => c.pass === 'student')!.args!;
        expect(student.input!.dims).toEqual([m, 3, 32, 32]);
        expect(student.input!.data).not.toEqual(teacher.data); // augmented
        expect(student.inputs!.w.data).toEqual(timeliness(bank, 64));
        expect(student.inputs!.q.dims).toEqual([m, 10]);
      }
    }
    const d = maxAbs(seen[0], sourceLogits);
    console.log(`rotta first batch vs source: max abs logit difference ${d.toExponential(2)}; updates after each batch of 48: ${applied.join(', ')}`);
    expect(d).toBeLessThan(5e-5);
    expect(passesPerBatch).toEqual([['predict'], ['predict', 'teacher', 'student'], ['predict', 'teacher', 'student'], ['predict', 'teacher', 'student']]);
    expect(applied).toEqual([0, 1, 2, 3]);
    expect(s.stats.lastUpdate).toMatchObject({ applied: true, loss: expect.any(Number) });
    await s.dispose();
  });

  describe('state', () => {
    let s: AdaptiveSession;
    let fresh: Record<string, Float32Array>;
    beforeAll(async () => {
      s = await AdaptiveSession.create(resnetPath, { method: 'rotta', runtime: 'node' });
      fresh = s.snapshot().state;
    });
    afterAll(() => s.dispose());

    it('one update: the student takes an Adam step, the teacher moves by nu towards it, both RBN globals move', async () => {
      s.reset();
      await s.run({ input: batch(0, 64) });
      expect(s.stats.updates).toEqual({ applied: 1, skipped: 0 });
      const st = s.snapshot().state;
      expect(st['adam.t'][0]).toBe(1);
      let moved = 0;
      let largest = 0;
      for (let i = 0; i < s.layerInfo.length; i++) {
        for (const p of ['gamma', 'beta']) {
          const src = fresh[`layer.${i}.t.${p}`];
          const sNew = st[`layer.${i}.s.${p}`];
          for (let j = 0; j < src.length; j++) {
            if (sNew[j] !== src[j]) moved++;
            largest = Math.max(largest, Math.abs(sNew[j] - src[j]));
          }
          // theta_T <- (1 - nu) theta_T + nu theta_S, evaluated in float64 and stored as float32.
          expect(st[`layer.${i}.t.${p}`], `layer ${i} t.${p}`).toEqual(Float32Array.from(src, (v, j) => (1 - 0.001) * v + 0.001 * sNew[j]));
        }
        expect(st[`layer.${i}.t.mean`]).not.toEqual(fresh[`layer.${i}.t.mean`]);
        expect(st[`layer.${i}.s.mean`]).not.toEqual(fresh[`layer.${i}.s.mean`]);
        expect(st[`layer.${i}.s.mean`]).not.toEqual(st[`layer.${i}.t.mean`]);
      }
      const total = s.layerInfo.reduce((a, l) => a + 2 * l.channels, 0);
      console.log(`first update: ${moved}/${total} student parameters moved, largest step ${largest.toExponential(3)} (Adam's first step is at most lr = 1e-3)`);
      expect(moved).toBeGreaterThan(total / 2);
      expect(largest).toBeLessThanOrEqual(1e-3 * 1.0001);
    });

    it('snapshot -> restore -> run reproduces the outputs and the state exactly (updates and augmentation included); reset returns to the source', async () => {
      s.reset();
      await s.run({ input: batch(0, 48) });
      const snap = s.snapshot();
      const a2 = logitsOf(await s.run({ input: batch(48, 48) })).slice();
      const a3 = logitsOf(await s.run({ input: batch(96, 48) })).slice();
      const after = s.snapshot().state;
      expect(after['rotta.updates'][0]).toBe(2);
      s.restore(snap);
      expect(logitsOf(await s.run({ input: batch(48, 48) }))).toEqual(a2);
      expect(logitsOf(await s.run({ input: batch(96, 48) }))).toEqual(a3);
      const again = s.snapshot().state;
      for (const k of Object.keys(after)) expect(again[k], k).toEqual(after[k]);
      s.reset();
      const st = s.snapshot().state;
      for (const k of Object.keys(fresh)) expect(st[k], k).toEqual(fresh[k]);
      expect(s.stats.updates).toEqual({ applied: 0, skipped: 0 });
      expect(maxAbs(logitsOf(await s.run({ input: batch(0, 48) })), sourceLogits)).toBeLessThan(5e-5);
    });

    it('infer answers with the teacher and changes nothing', async () => {
      s.reset();
      await s.run({ input: batch(0, 64) });
      const before = s.snapshot().state;
      const a = logitsOf(await s.infer({ input: batch(64, 16) })).slice();
      const after = s.snapshot().state;
      for (const k of Object.keys(before)) expect(after[k], k).toEqual(before[k]);
      // The teacher moved (RBN globals), so its answer is no longer the source's.
      const src = await AdaptiveSession.create(resnetPath, { method: 'source', runtime: 'node' });
      expect(maxAbs(a, logitsOf(await src.run({ input: batch(64, 16) })))).toBeGreaterThan(1e-4);
      await src.dispose();
    });
  });

  it('batch size 1 runs: 64 single images give one update, at the 64th', async () => {
    const s = await AdaptiveSession.create(resnetPath, { method: 'rotta', runtime: 'node' });
    for (let i = 0; i < 64; i++) {
      const out = await s.run({ input: batch(i, 1) });
      expect(out[Object.keys(out)[0]].dims).toEqual([1, 10]);
      expect(s.stats.updates.applied).toBe(i === 63 ? 1 : 0);
    }
    expect(s.stats.lastUpdate).toMatchObject({ applied: true });
    expect(s.snapshot().state['rotta.counter'][0]).toBe(0);
    await s.dispose();
  });

  it('a step that would make a parameter non-finite is skipped, reported, and rolls back the RBN statistics too', async () => {
    const s = await AdaptiveSession.create(resnetPath, { method: 'rotta', runtime: 'node', methodOptions: { lr: 1e39 } });
    const before = s.snapshot().state;
    await s.run({ input: batch(0, 64) });
    expect(s.stats.lastUpdate).toMatchObject({ applied: false, skipped: expect.stringMatching(/would make 'layer\.\d+\.s\.(gamma|beta)' non-finite/) });
    expect(s.stats.updates).toEqual({ applied: 0, skipped: 1 });
    const after = s.snapshot().state;
    for (const k of Object.keys(before).filter((k) => k.startsWith('layer.') || k === 'adam.t')) expect(after[k], k).toEqual(before[k]);
    // The memory did take the samples.
    expect(after['rotta.mem.count'][0]).toBeGreaterThan(0);
    await s.dispose();
  });

  it('options are validated', async () => {
    await expect(AdaptiveSession.create(resnetPath, { method: 'rotta', methodOptions: { capacity: 0 } })).rejects.toThrow(/capacity: must be >= 1/);
    await expect(AdaptiveSession.create(resnetPath, { method: 'rotta', methodOptions: { updateEvery: 1.5 } })).rejects.toThrow(/updateEvery: expected an integer/);
    await expect(AdaptiveSession.create(resnetPath, { method: 'rotta', methodOptions: { alpha: 2 } })).rejects.toThrow(/alpha: must be <= 1/);
  });
});
