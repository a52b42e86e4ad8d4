import { describe, expect, it } from 'vitest';
import { referenceSuite } from '@edgetta/testing';
import { initComponents, unmixTns } from '../src/index.js';

/*
 * EMITTER CHECK, not an equation test: `referenceSuite` runs the method's own norm() on the float64
 * reference interpreter (packages/core/src/reference.ts) and compares it with the same norm()
 * compiled to ONNX. It catches emitter/compiler bugs; a wrong equation in norm() passes it. The
 * equations are tested against independent float64 implementations in unmix-tns.equations.test.ts
 * (with unmix-tns.reference.ts) and equations.test.ts.
 */
describe('emitter check (compiled ONNX vs the same norm() on the float64 interpreter)', () => {
  referenceSuite(unmixTns, [
    { pass: 'predict', hyper: { momentum: 0.1 } },
    { pass: 'predict', hyper: { momentum: 0.00164 }, options: { K: 4, tau: 0.5 } },
    { pass: 'predict', hyper: { momentum: 0.3 }, options: { K: 1 } },
  ]);
});

describe('unmix-tns initial components', () => {
  const layer = { index: 0, mean: Float32Array.from([0.5, -1, 2]), variance: Float32Array.from([1, 4, 0.25]) };
  it('K = 1 starts from exactly the source statistics', () => {
    const { M, V } = initComponents(layer, { ...unmixTns.defaults, K: 1 });
    expect(Array.from(M)).toEqual(Array.from(layer.mean));
    expect(Array.from(V)).toEqual(Array.from(layer.variance));
  });
  it('K = 16 preserves the source mean and, in expectation, the variance (law of total variance)', () => {
    const K = 2000;
    const { M, V } = initComponents(layer, { ...unmixTns.defaults, K });
    for (let j = 0; j < 3; j++) {
      let mean = 0;
      for (let k = 0; k < K; k++) mean += M[k * 3 + j] / K;
      let spread = 0;
      for (let k = 0; k < K; k++) spread += (M[k * 3 + j] - mean) ** 2 / K;
      const total = V[j] + spread; // mean_k V_k + var_k M_k
      expect(mean).toBeCloseTo(layer.mean[j], 1);
      expect(total / layer.variance[j]).toBeGreaterThan(0.93);
      expect(total / layer.variance[j]).toBeLessThan(1.07);
      expect(V[j]).toBeCloseTo(0.5 * layer.variance[j], 6);
    }
  });
});
