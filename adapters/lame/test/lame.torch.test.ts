import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LAME_DEFAULTS, lameAdjust, lameAffinity, lameSolve } from '@edgetta/adapter-lame';

/*
 * LAME's affinity and fixed point against PyTorch: lame-torch.json is written by
 * bench/crosscheck/lame_fixture.py, which runs the equations of MD-TTA's methods/lame.py (rbf
 * affinity, k = 5, 100 iterations) in float64 torch on seeded batches (N = 2 .. 64, duplicate rows,
 * a three-class batch where LAME changes argmaxes). edgetta's stage shares nothing with it but the
 * equations. The fixture keeps 8 significant digits, so: sigma 1e-7 relative, W 1e-7, Y 1e-7
 * absolute (the solver runs on the fixture's W and probabilities); iterations exact.
 */
interface Case {
  name: string;
  N: number;
  D: number;
  K: number;
  features: number[][];
  logits: number[][];
  labels: number[];
  changedRows: number[];
  expected: { sigma: number; affinity: number[][]; Y: number[][]; iterations: number };
}
const cases: Case[] = JSON.parse(fs.readFileSync(new URL('./lame-torch.json', import.meta.url), 'utf8'));

function softmax64(z: number[][]): Float64Array {
  return Float64Array.from(z.flatMap((row) => {
    const m = Math.max(...row);
    const e = row.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  }));
}

describe('LAME stage vs PyTorch (MD-TTA equations)', () => {
  it('covers the cases the fixture claims', () => {
    expect(cases.map((c) => c.N)).toEqual([2, 3, 5, 6, 64, 64, 64]);
    expect(cases.find((c) => c.name.startsWith('labelshift'))!.changedRows.length).toBeGreaterThan(5);
  });

  for (const c of cases) {
    it(`${c.name}: sigma, affinity, Y and the iteration count`, () => {
      const f = Float32Array.from(c.features.flat());
      const { W, sigma } = lameAffinity(f, c.N, c.D, LAME_DEFAULTS);
      expect(Math.abs(sigma - c.expected.sigma) / c.expected.sigma).toBeLessThan(1e-7);
      const Wt = c.expected.affinity.flat();
      let dw = 0;
      for (let i = 0; i < Wt.length; i++) dw = Math.max(dw, Math.abs(W[i] - Wt[i]));
      expect(dw).toBeLessThan(1e-7);
      // The solver on the fixture's own affinity and probabilities: float64 against float64.
      const { Y, iterations } = lameSolve(softmax64(c.logits), Float64Array.from(Wt), c.N, c.K, 1, 100);
      const Yt = c.expected.Y.flat();
      let dy = 0;
      for (let i = 0; i < Yt.length; i++) dy = Math.max(dy, Math.abs(Y[i] - Yt[i]));
      expect(dy, 'Y').toBeLessThan(1e-7);
      expect(iterations).toBe(c.expected.iterations);
      // Through the stage (float32 features and logits in, log Y out): the answers' argmax.
      const out = lameAdjust({ logits: { data: Float32Array.from(c.logits.flat()), dims: [c.N, c.K] }, features: { data: f, dims: [c.N, c.D] }, options: LAME_DEFAULTS });
      for (let i = 0; i < c.N; i++) {
        const row = Array.from(out.subarray(i * c.K, (i + 1) * c.K));
        const want = c.expected.Y[i];
        expect(row.indexOf(Math.max(...row)), `row ${i}`).toBe(want.indexOf(Math.max(...want)));
      }
    });
  }
});
