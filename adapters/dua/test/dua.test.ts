import { describe, expect, it } from 'vitest';
import { Rng } from '@edgetta/core';
import { referenceSuite } from '@edgetta/testing';
import { augmentCopies } from '../src/augment.js';
import { dua } from '../src/index.js';

/*
 * EMITTER CHECK, not an equation test: `referenceSuite` runs the method's own norm() on the float64
 * reference interpreter (packages/core/src/reference.ts) and compares it with the same norm()
 * compiled to ONNX. It catches emitter/compiler bugs; a wrong equation in norm() passes it. The
 * equations are tested against independent float64 implementations in dua.equations.test.ts
 * (with dua.reference.ts) and equations.test.ts.
 */
describe('emitter check (compiled ONNX vs the same norm() on the float64 interpreter)', () => {
  referenceSuite(dua, [{ pass: 'update', hyper: { momentum: 0.0987 } }, { pass: 'predict' }]);
});

describe('dua augmentation', () => {
  const c = 2;
  const h = 5;
  const w = 5;
  const image = Float32Array.from({ length: c * h * w }, (_, i) => i + 1);

  it('makes views that are crops/flips/rotations of the image: every nonzero pixel comes from the image', () => {
    const views = augmentCopies(image, c, h, w, 16, new Rng(3), 1);
    const values = new Set(image);
    for (const v of views) if (v !== 0) expect(values.has(v)).toBe(true);
    // Channels move together: a pixel of channel 1 is always its channel-0 partner + 25.
    for (let k = 0; k < 16; k++) for (let p = 0; p < h * w; p++) {
      const a = views[k * c * h * w + p];
      const b = views[k * c * h * w + h * w + p];
      if (a !== 0) expect(b).toBe(a + h * w);
    }
  });

  it('is reproducible for a seed and varies between views', () => {
    const a = augmentCopies(image, c, h, w, 8, new Rng(5));
    const b = augmentCopies(image, c, h, w, 8, new Rng(5));
    expect(a).toEqual(b);
    const first = a.subarray(0, c * h * w).join();
    expect(Array.from({ length: 8 }, (_, k) => a.subarray(k * c * h * w, (k + 1) * c * h * w).join()).some((v) => v !== first)).toBe(true);
  });

  it('with no padding, views keep all pixel values (a permutation of the image)', () => {
    const views = augmentCopies(image, c, h, w, 4, new Rng(9), 0);
    for (let k = 0; k < 4; k++) {
      const v = Array.from(views.subarray(k * c * h * w, (k + 1) * c * h * w)).sort((x, y) => x - y);
      expect(v).toEqual(Array.from(image));
    }
  });
});
