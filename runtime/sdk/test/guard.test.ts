import { describe, expect, it } from 'vitest';
import { blendWithSource, Guard, resolveGuard } from '../src/guard.js';

/** Logits [n, 3] whose argmax is `cls` for every row. */
function rows(n: number, cls: number): Float32Array {
  const out = new Float32Array(n * 3);
  for (let r = 0; r < n; r++) out[r * 3 + cls] = 5;
  return out;
}

describe('collapse guard', () => {
  it('resets when the entropy EMA falls below the floor, EMA as SAR computes it', () => {
    const g = new Guard(resolveGuard({ entropyFloor: 0.2 }));
    expect(g.observe(rows(4, 0), [4, 3], 0.5)).toBeNull(); // e = 0.5
    expect(g.observe(rows(4, 1), [4, 3], 0.1)).toBeNull(); // e = 0.46
    let e = 0.46;
    let reason: string | null = null;
    let steps = 0;
    while (!reason) {
      reason = g.observe(rows(4, 2), [4, 3], 0.05);
      e = 0.9 * e + 0.1 * 0.05;
      steps++;
    }
    expect(e).toBeLessThan(0.2);
    expect(reason).toBe(`entropy EMA ${e.toFixed(4)} fell below the floor 0.2`);
    expect(steps).toBe(10); // 0.05 + 0.41 * 0.9^n < 0.2 first at n = 10
    g.didReset(reason);
    expect(g.stats()).toMatchObject({ entropyEma: null, resets: 1, lastReset: { reason, afterBatches: 12 } });
  });

  it('resets periodically after resetEvery batches', () => {
    const g = new Guard(resolveGuard({ resetEvery: 3 }));
    expect(g.observe(rows(2, 0), [2, 3], 1)).toBeNull();
    expect(g.observe(rows(2, 0), [2, 3], 1)).toBeNull();
    expect(g.observe(rows(2, 0), [2, 3], 1)).toBe('periodic reset after 3 batches');
  });

  it('tracks the most frequent class over a sliding window and can reset on it', () => {
    const g = new Guard(resolveGuard({ window: 10 })); // monitor only
    g.observe(rows(5, 0), [5, 3], 1);
    expect(g.stats().topClassShare).toBe(1); // 5 of 5
    g.observe(rows(4, 1), [4, 3], 1);
    expect(g.stats().topClassShare).toBeCloseTo(5 / 9, 12);
    expect(g.observe(rows(6, 1), [6, 3], 1)).toBeNull(); // no maxClassShare: never resets
    // the window holds the last 10 answers: 0 0 0 0 0 1 1 1 1 | 1 1 1 1 1 1 -> ten 1s
    expect(g.stats().topClassShare).toBe(1);
    const g2 = new Guard(resolveGuard({ window: 10, maxClassShare: 0.8 }));
    g2.observe(rows(9, 2), [9, 3], 1);
    expect(g2.observe(rows(1, 2), [1, 3], 1)).toMatch(/most frequent class took 100.0 % of the last 10 answers/);
  });

  it('validates its options, naming the field', () => {
    expect(() => resolveGuard({ entropyFloor: -1 })).toThrow('guard.entropyFloor: expected a number > 0, got -1');
    expect(() => resolveGuard({ resetEvery: 2.5 })).toThrow('guard.resetEvery: expected an integer >= 1, got 2.5');
    expect(() => resolveGuard({ floor: 1 } as never)).toThrow("guard: unknown option 'floor'; valid options: entropyFloor, entropyMomentum, resetEvery, window, maxClassShare");
  });

  it('blendWithSource: log of the weighted softmax mixture (float64 reference) and the argmax agreement', () => {
    const n = 6;
    const k = 5;
    const a = Float32Array.from({ length: n * k }, (_, i) => Math.sin(i * 1.7) * 6);
    // Rows 0-2: the source is sure of class 0, 30 logits apart; rows 3-5: it ranks like the adapted model.
    const s = Float32Array.from({ length: n * k }, (_, i) => (i < 3 * k ? Math.cos(i * 0.9) * 4 + (i % k === 0 ? 30 : 0) : a[i] * 0.5));
    const softmax = (x: Float32Array, r: number) => {
      const row = Array.from(x.subarray(r * k, r * k + k));
      const z = row.reduce((acc, v) => acc + Math.exp(v), 0);
      return row.map((v) => Math.exp(v) / z);
    };
    const argmax = (p: number[]) => p.indexOf(Math.max(...p));
    const { logits, agreement } = blendWithSource(a, s, [n, k], 0.3);
    let agree = 0;
    for (let r = 0; r < n; r++) {
      const pa = softmax(a, r);
      const ps = softmax(s, r);
      const p = pa.map((v, j) => 0.7 * v + 0.3 * ps[j]);
      for (let j = 0; j < k; j++) expect(logits[r * k + j]).toBeCloseTo(Math.log(p[j]), 5);
      if (argmax(pa) === argmax(ps)) agree++;
    }
    expect(agreement).toBe(agree / n);
    expect(agree).toBeGreaterThan(0);
    expect(agree).toBeLessThan(n);
    // Logits 30 apart: the tiny probabilities stay finite logs.
    expect(Array.from(logits).every(Number.isFinite)).toBe(true);
    expect(() => blendWithSource(a, s, [n * k], 0.3)).toThrow('guard.sourceWeight: needs a classifier whose first output is logits [N, K]; got dims [30]');
  });

  it('validates sourceWeight: strictly between 0 and 1', () => {
    expect(resolveGuard({ sourceWeight: 0.5 }).sourceWeight).toBe(0.5);
    for (const v of [0, 1, -0.2, Number.NaN]) expect(() => resolveGuard({ sourceWeight: v })).toThrow(`guard.sourceWeight: expected a number in (0, 1), got ${v}`);
  });
});
