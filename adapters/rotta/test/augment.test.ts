import { describe, expect, it } from 'vitest';
import { Rng } from '@edgetta/core';
import { goldenInput } from '@edgetta/testing';
import { augmentBatch } from '../src/augment.js';

/* The memory-batch augmentation: seeded, shape- and range-preserving, shared geometry, per-pixel noise. */
const PER = 3 * 32 * 32;
// The golden input is normalized; map it into [0, 1] images as the CIFAR models see them.
const images = Float32Array.from(goldenInput(8), (v) => Math.min(1, Math.max(0, 0.5 + 0.25 * v)));

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
});
