import { describe, expect, it } from 'vitest';
import { Rng } from '@edgetta/core';
import { goldenInput } from '@edgetta/testing';
import { augmentBatch } from '../src/augment.js';
import { augmentBatchReference } from './augment.reference.js';

/* The memory-batch augmentation: seeded, shape- and range-preserving, shared geometry, per-pixel noise. */
const PER = 3 * 32 * 32;
// The golden input is normalized; map it into [0, 1] images as the CIFAR models see them.
const images = Float32Array.from(goldenInput(8), (v) => Math.min(1, Math.max(0, 0.5 + 0.25 * v)));

/** null when `a` and `b` are identical value for value (Object.is), else the first difference and the count (cheap to print on failure). */
function firstDifference(a: Float32Array, b: Float32Array): { index: number; got: number; want: number; count: number } | null {
  if (a.length !== b.length) return { index: -1, got: a.length, want: b.length, count: -1 };
  let first = -1;
  let count = 0;
  for (let i = 0; i < a.length; i++) {
    if (Object.is(a[i], b[i])) continue;
    if (first < 0) first = i;
    count++;
  }
  return first < 0 ? null : { index: first, got: a[first], want: b[first], count };
}

describe('rotta augmentation', () => {
  it('keeps the shape, stays in [0, 1], and is reproducible from the seed (different seeds differ)', () => {
    const a = augmentBatch(images, [8, 3, 32, 32], new Rng(5));
    const b = augmentBatch(images, [8, 3, 32, 32], new Rng(5));
    const c = augmentBatch(images, [8, 3, 32, 32], new Rng(6));
    expect(a.length).toBe(images.length);
    expect(a).toEqual(b);
    expect(c).not.toEqual(a);
    expect(a.every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(a).not.toEqual(images);
    expect(images).toEqual(Float32Array.from(goldenInput(8), (v) => Math.min(1, Math.max(0, 0.5 + 0.25 * v)))); // input untouched
  });

  it('geometry and colour are shared across the batch, the noise is per pixel: two copies of an image differ by noise only', () => {
    const twin = new Float32Array(2 * PER);
    twin.set(images.subarray(0, PER), 0);
    twin.set(images.subarray(0, PER), PER);
    for (const seed of [1, 2, 3]) {
      const out = augmentBatch(twin, [2, 3, 32, 32], new Rng(seed));
      let sq = 0;
      let max = 0;
      for (let i = 0; i < PER; i++) {
        const d = out[i] - out[PER + i];
        sq += d * d;
        max = Math.max(max, Math.abs(d));
      }
      // Difference of two N(0, 0.005^2) draws: std 0.005 * sqrt(2) (a little less where clipping bites); max over 3072 values < 6 std.
      const std = Math.sqrt(sq / PER);
      expect(std).toBeGreaterThan(0.005);
      expect(std).toBeLessThan(0.0075);
      expect(max).toBeLessThan(6 * 0.005 * Math.SQRT2);
    }
  });

  it('edge padding keeps the borders filled: a uniform image stays uniform up to the noise (no zeros pulled in by the affine)', () => {
    for (let seed = 0; seed < 10; seed++) {
      const out = augmentBatch(new Float32Array(PER).fill(0.5), [1, 3, 32, 32], new Rng(seed));
      for (let k = 0; k < 3; k++) {
        const plane = out.subarray(k * 1024, (k + 1) * 1024);
        const mean = plane.reduce((a, v) => a + v, 0) / 1024;
        // Colour jitter moves the level (grey stays grey under saturation and hue); only the noise varies it in space.
        expect(Math.max(...plane.map((v) => Math.abs(v - mean)))).toBeLessThan(6 * 0.005);
        expect(mean).toBeGreaterThan(0.1);
      }
    }
  });

  it('works for non-RGB and non-square images, and rejects a size mismatch', () => {
    const gray = new Float32Array(2 * 1 * 5 * 7).map((_, i) => (i % 7) / 7);
    const out = augmentBatch(gray, [2, 1, 5, 7], new Rng(0));
    expect(out.length).toBe(gray.length);
    expect(out.every((v) => Number.isFinite(v) && v >= 0 && v <= 1)).toBe(true);
    expect(() => augmentBatch(gray, [3, 1, 5, 7], new Rng(0))).toThrow(/values for dims/);
  });

  it('matches the plain stage-by-stage pipeline value for value (same RNG draws, same float32 roundings) on random batches of many shapes', () => {
    // Tiny images (h or w < 4) make the blur reflect at the padded border; odd sizes, one and four channels skip hue/saturation.
    const shapes: [number, number, number, number][] = [[16, 3, 32, 32], [3, 1, 5, 7], [2, 3, 3, 3], [2, 3, 1, 1], [2, 3, 2, 9], [4, 3, 17, 11], [2, 2, 8, 8], [1, 4, 6, 6], [3, 3, 4, 4]];
    for (const dims of shapes) {
      for (let seed = 0; seed < 6; seed++) {
        const gen = new Rng(100 + seed);
        const x = new Float32Array(dims.reduce((a, b) => a * b, 1));
        // Mostly in [0, 1]; some out of range (the first clip), exact 0 and 1, and a flat run (hue's grey case).
        for (let i = 0; i < x.length; i++) {
          const r = gen.random();
          x[i] = r < 0.05 ? gen.uniform(-0.5, 1.5) : r < 0.075 ? 0 : r < 0.1 ? 1 : gen.random();
        }
        x.fill(0.5, 0, Math.min(x.length, 40));
        const ra = new Rng(seed * 7 + 3);
        const rb = new Rng(seed * 7 + 3);
        // Half of the runs start with a spare normal pending in the generator: the noise must consume it first, as before.
        if (seed % 2) ra.normal(), rb.normal();
        const got = augmentBatch(x, dims, ra);
        const want = augmentBatchReference(x, dims, rb);
        expect(firstDifference(got, want), `dims [${dims.join(', ')}], seed ${seed}`).toBeNull();
        // The generator is left in the same state (same number and kind of draws).
        expect([ra.random(), ra.normal()]).toEqual([rb.random(), rb.normal()]);
      }
    }
    // And on the CIFAR-like images of the other tests.
    expect(firstDifference(augmentBatch(images, [8, 3, 32, 32], new Rng(11)), augmentBatchReference(images, [8, 3, 32, 32], new Rng(11)))).toBeNull();
  });
});
