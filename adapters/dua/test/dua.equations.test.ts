import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { Rng, type MethodDefinition } from '@edgetta/core';
import { AdaptiveSession } from '@edgetta/sdk';
import { tinyNet } from '@edgetta/testing';
import { dua, type DuaOptions } from '../src/index.js';
import { duaMomentum, DuaReference, isAugmentationOf } from './dua.reference.js';

const { C0, CLASSES, forward, relMax, tinyModel } = tinyNet;

/*
 * Equation tests of DUA (tta-spec 3.6): the real method run by AdaptiveSession on onnxruntime-node
 * against the independent float64 implementation in dua.reference.ts, over several batches: the
 * returned logits, every layer's running mean/variance and the image counter after each batch,
 * the momentum schedule m_t = m0 omega^t + m_min and the freeze after `maxUpdates` images.
 *
 * The augmentation is random, so the reference does not draw views: the session runs the real
 * `dua` definition with its step's `ctx.run` wrapped to record what it feeds the update pass (the
 * views and the momentum); nothing else changes, and a plain `method: 'dua'` session on the same
 * stream must give bit-identical logits and state. The reference consumes the recorded views and
 * computes everything downstream itself (its own momentum, counter, statistics and prediction).
 * The views are checked to be crops/flips/rotations of the right image (spec 3.6 item 2); the
 * augmentation's own distribution is tested in dua.test.ts.
 *
 * Tolerances (float32 graph vs float64 reference), max-norm relative errors max|got-want|/max|want|:
 *   logits < 1e-4;  running mean, variance < 1e-5;  their drift from the source (stat - source) < 1e-4
 *   (differences of nearby float32 values, so noisier than the values themselves).
 *   The recorded momentum equals the reference's m_t to 1e-6 (it crosses a float32 scalar input).
 */

const SIZE = 8;
const S = SIZE * SIZE;
const PER = C0 * S;
const model = tinyModel(33, SIZE);

function streamBatch(j: number, n: number): Float32Array {
  const rng = new Rng(500 + j);
  const x = new Float32Array(n * PER);
  for (let b = 0; b < n; b++) {
    const tint = [0.3 + 0.4 * rng.random(), 0.3 + 0.4 * rng.random(), 0.3 + 0.4 * rng.random()];
    // Distinct, nonzero pixel values: a view matches exactly one (image, crop, symmetry) candidate.
    for (let c = 0; c < C0; c++) for (let i = 0; i < S; i++) x[b * PER + c * S + i] = tint[c] + 0.25 * rng.random() + 0.01;
  }
  return x;
}

interface Recorded {
  views: Float32Array;
  dims: number[];
  momentum: number;
}

function recordingDua(log: Recorded[]): MethodDefinition<DuaOptions> {
  return {
    ...dua,
    name: 'dua-recorded',
    step: (ctx) =>
      dua.step({
        ...ctx,
        run: (pass, args) => {
          if (pass === 'update') log.push({ views: Float32Array.from(args!.input!.data), dims: [...args!.input!.dims], momentum: args!.hyper!.momentum });
          return ctx.run(pass, args);
        },
      }),
  };
}

interface Config {
  label: string;
  options: Partial<DuaOptions>;
  batches: number[];
  /** Updates expected in total (the freeze). */
  updates: number;
}

const configs: Config[] = [
  { label: 'defaults (m0 0.1, omega 0.94, m_min 0.005, 64 copies, T 80)', options: {}, batches: [1, 2, 1], updates: 4 },
  { label: 'm0 0.3, omega 0.8, m_min 0.02, 8 copies, T 5, seed 3 (freezes inside the third batch)', options: { m0: 0.3, omega: 0.8, mMin: 0.02, copies: 8, maxUpdates: 5, seed: 3 }, batches: [2, 2, 3, 2], updates: 5 },
  { label: 'm0 0.5, omega 0.5, m_min 0, 4 copies, T 0 (never freezes)', options: { m0: 0.5, omega: 0.5, mMin: 0, copies: 4, maxUpdates: 0, seed: 11 }, batches: [3, 3], updates: 6 },
];

describe('dua equations (tta-spec 3.6): AdaptiveSession on onnxruntime-node vs an independent float64 implementation', () => {
  for (const cfg of configs) {
    it(`${cfg.label}: logits, running statistics of every layer and the counter over batches of ${cfg.batches.join(', ')} images`, async () => {
      const o = { ...dua.defaults, ...cfg.options };
      const log: Recorded[] = [];
      const s = await AdaptiveSession.create(model.ir(), { method: recordingDua(log), runtime: 'node', methodOptions: cfg.options });
      const plain = await AdaptiveSession.create(model.ir(), { method: 'dua', runtime: 'node', methodOptions: cfg.options });
      try {
        expect(s.layerInfo.map((l) => l.rank)).toEqual([4, 4, 2]);
        const init = s.snapshot().state;
        for (let l = 0; l < 3; l++) {
          expect(init[`layer.${l}.mean`]).toEqual(model.bns[l].mean);
          expect(init[`layer.${l}.variance`]).toEqual(model.bns[l].variance);
        }
        const ref = new DuaReference(o, model.bns, (x, count, norm) => forward(model, x, count, SIZE, norm));
        const worst = { logits: 0, stats: 0, drift: 0, momentum: 0 };
        for (let j = 0; j < cfg.batches.length; j++) {
          const n = cfg.batches[j];
          const x = streamBatch(j, n);
          const first = log.length;
          const out = await s.run({ x: new ort.Tensor('float32', x, [n, C0, SIZE, SIZE]) });
          const outPlain = await plain.run({ x: new ort.Tensor('float32', x, [n, C0, SIZE, SIZE]) });
          expect(outPlain.logits.data, 'recording changes nothing').toEqual(out.logits.data);
          let used = first;
          const want = ref.step(x, n, o.copies, (image) => {
            const rec = log[used++];
            expect(rec, `batch ${j}: the method ran fewer updates than the reference`).toBeDefined();
            expect(rec.dims).toEqual([o.copies, C0, SIZE, SIZE]);
            // The views are augmentations of this image (spec 3.6 item 2), and not all the same.
            const img = x.subarray(image * PER, (image + 1) * PER);
            const kinds = new Set<string>();
            for (let k = 0; k < o.copies; k++) {
              const match = isAugmentationOf(rec.views.subarray(k * PER, (k + 1) * PER), img, C0, SIZE, 4);
              expect(match, `batch ${j} image ${image} view ${k}`).not.toBeNull();
              kinds.add(JSON.stringify(match));
            }
            expect(kinds.size).toBeGreaterThan(1);
            return rec.views;
          });
          expect(log.length, `batch ${j}: updates run by the method`).toBe(used);
          const eLogits = relMax(out.logits.data as Float32Array, want.logits);
          expect((out.logits.data as Float32Array).length).toBe(n * CLASSES);
          expect(eLogits, `batch ${j}: logits`).toBeLessThan(1e-4);
          worst.logits = Math.max(worst.logits, eLogits);
          const state = s.snapshot().state;
          expect(state['dua.t'][0], `batch ${j}: counter`).toBe(ref.t);
          const statePlain = plain.snapshot().state;
          for (const [k, v] of Object.entries(state)) expect(statePlain[k], k).toEqual(v);
          for (let l = 0; l < 3; l++) {
            for (const key of ['mean', 'variance'] as const) {
              const got = state[`layer.${l}.${key}`];
              const e = relMax(got, ref.stats[l][key]);
              expect(e, `batch ${j}: layer ${l} ${key}`).toBeLessThan(1e-5);
              worst.stats = Math.max(worst.stats, e);
              if (ref.t > 0) {
                const source = model.bns[l][key];
                const ed = relMax(
                  Float64Array.from(got, (v, i) => v - source[i]),
                  Float64Array.from(ref.stats[l][key], (v, i) => v - source[i]),
                );
                expect(ed, `batch ${j}: layer ${l} ${key} - source`).toBeLessThan(1e-4);
                worst.drift = Math.max(worst.drift, ed);
              }
            }
          }
          // Checked last, so a schedule error shows first in the logits and statistics above.
          want.adapted.forEach((a, k) => {
            const e = Math.abs(log[first + k].momentum - a.momentum) / a.momentum;
            expect(e, `momentum at t = ${a.t}`).toBeLessThan(1e-6);
            worst.momentum = Math.max(worst.momentum, e);
          });
        }
        expect(ref.t).toBe(cfg.updates);
        expect(log.length).toBe(cfg.updates);
        // reset() returns to the source statistics and t = 0.
        s.reset();
        for (const [k, v] of Object.entries(s.snapshot().state)) expect(v, k).toEqual(init[k]);
        console.log(
          `dua ${cfg.label}: ${log.length} updates; worst rel. error logits ${worst.logits.toExponential(2)}, running stats ${worst.stats.toExponential(2)}, ` +
            `drift from source ${worst.drift.toExponential(2)}, momentum ${worst.momentum.toExponential(2)}`,
        );
      } finally {
        await s.dispose();
        await plain.dispose();
      }
    });
  }

  it('the schedule matches the spec: m_1 ~ 0.099, m_80 ~ 0.0057', () => {
    const o = { m0: 0.1, omega: 0.94, mMin: 0.005 };
    expect(duaMomentum(1, o)).toBeCloseTo(0.099, 6);
    expect(duaMomentum(80, o)).toBeCloseTo(0.0057, 4);
  });
});
