/**
 * The benchmark's pieces on their own: scoring (prediction, confidence, entropy, ECE) checked
 * against naive re-implementations, the rolling error, quantiles, the summary over seeds, and
 * the parsing of --methods and --seed.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '@edgetta/sdk';
import { parseMethods, parseSeeds } from '../src/bench/args.js';
import { quantile, rollingError, scoreLogits, std, Tally } from '../src/bench/metrics.js';
import { summarize } from '../src/bench/results.js';
import { markdownTable } from '../src/bench/table.js';
import type { RunResult } from '../src/bench/runner.js';

function randomLogits(seed: number, n: number, k: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n * k }, () => (rng.random() - 0.5) * 12);
}

describe('scoring', () => {
  it('gives argmax, max softmax probability and entropy as a direct softmax does', () => {
    const n = 50;
    const k = 10;
    const z = randomLogits(1, n, k);
    const { pred, conf, entropy } = scoreLogits(z, n, k);
    for (let r = 0; r < n; r++) {
      const row = Array.from(z.subarray(r * k, (r + 1) * k));
      const e = row.map(Math.exp);
      const s = e.reduce((a, b) => a + b, 0);
      const p = e.map((v) => v / s);
      expect(pred[r]).toBe(row.indexOf(Math.max(...row)));
      expect(conf[r]).toBeCloseTo(Math.max(...p), 12);
      expect(entropy[r]).toBeCloseTo(-p.reduce((a, v) => a + v * Math.log(v), 0), 10);
    }
  });

  it('computes ECE with 15 equal-width bins as the textbook sum over bins', () => {
    const rng = new Rng(7);
    const tally = new Tally();
    const samples: { conf: number; ok: boolean }[] = [];
    for (let i = 0; i < 2000; i++) {
      const conf = 0.1 + 0.9 * rng.random();
      const ok = rng.random() < conf * 0.8; // over-confident on purpose
      samples.push({ conf, ok });
      tally.add(ok, conf, 0);
    }
    let ece = 0;
    for (let b = 0; b < 15; b++) {
      const inBin = samples.filter((s) => s.conf > b / 15 && s.conf <= (b + 1) / 15);
      if (!inBin.length) continue;
      const acc = inBin.filter((s) => s.ok).length / inBin.length;
      const avg = inBin.reduce((a, s) => a + s.conf, 0) / inBin.length;
      ece += (inBin.length / samples.length) * Math.abs(acc - avg);
    }
    expect(tally.ece()).toBeCloseTo(ece, 12);
    expect(ece).toBeGreaterThan(0.05);
    const sum = tally.summary();
    expect(sum.errors).toBe(samples.filter((s) => !s.ok).length);
    expect(sum.errorPct).toBeCloseTo((100 * sum.errors) / 2000, 12);
  });

  it('rolls the error over a window as a plain slice average', () => {
    const rng = new Rng(3);
    const wrong = Uint8Array.from({ length: 1000 }, (_, i) => (rng.random() < (i < 500 ? 0.2 : 0.7) ? 1 : 0));
    const r = rollingError(wrong, 100, 50);
    expect(r.window).toBe(50);
    expect(r.x).toHaveLength(100);
    expect(r.x.at(-1)).toBe(1000);
    for (const [j, x] of r.x.entries()) {
      const slice = Array.from(wrong.subarray(Math.max(0, x - 50), x));
      expect(r.y[j]).toBeCloseTo((100 * slice.reduce((a, b) => a + b, 0)) / slice.length, 2);
    }
  });

  it('takes quantiles by linear interpolation and the sample standard deviation', () => {
    expect(quantile([4, 1, 3, 2], 0.5)).toBe(2.5);
    expect(quantile([4, 1, 3, 2], 0.95)).toBeCloseTo(3.85, 12);
    expect(std([2, 4])).toBeCloseTo(Math.SQRT2, 12);
    expect(std([5])).toBe(0);
  });
});

describe('summary and table', () => {
  const run = (method: string, seed: number, errs: number[]): RunResult => ({
    method,
    seed,
    total: { n: 200, errors: errs[0] + errs[1], errorPct: (errs[0] + errs[1]) / 2, ece: 0.1, meanEntropy: 1, batches: 4, msPerBatch: { median: 10, p95: 12, mean: 10.5 }, peakRssMB: 100 },
    domains: errs.map((e, i) => ({ corruption: i ? 'fog' : 'snow', severity: 5, n: 100, errors: e, errorPct: e, ece: 0.1, meanEntropy: 1, batches: 2, msPerBatch: null, peakRssMB: 100 })),
    rolling: { window: 10, x: [200], y: [10] },
    updates: { applied: 0, skipped: 0 },
    resets: 1,
    seconds: 1,
    setupSeconds: 0,
  });
  const domains = [{ corruption: 'snow', severity: 5 } as const, { corruption: 'fog', severity: 5 } as const];

  it('reports mean ± sample std over seeds per domain and for the mean over domains', () => {
    const rows = summarize(['a', 'b'], domains, [run('a', 1, [10, 20]), run('a', 2, [14, 20]), run('b', 1, [5, 5]), run('b', 2, [5, 9])]);
    expect(rows[0].domains[0].errorPct).toEqual({ mean: 12, std: Number(Math.sqrt(8).toFixed(4)), values: [10, 14] });
    expect(rows[0].meanErrorPct).toEqual({ mean: 16, std: Number(Math.sqrt(2).toFixed(4)), values: [15, 17] });
    expect(markdownTable(rows, domains).split('\n')).toEqual([
      '| method | snow | fog | mean |',
      '| --- | ---: | ---: | ---: |',
      '| a | 12.0 ± 2.8 | 20.0 ± 0.0 | 16.0 ± 1.4 |',
      '| b | 5.0 ± 0.0 | 7.0 ± 2.8 | 6.0 ± 1.4 |',
    ]);
    // one seed: plain numbers
    expect(markdownTable(summarize(['a'], domains, [run('a', 1, [10, 20])]), domains).split('\n')[2]).toBe('| a | 10.0 | 20.0 | 15.0 |');
  });
});

describe('argument parsing', () => {
  it('reads methods with options; key=value items after a comma belong to the method before', () => {
    const specs = parseMethods('norm,tent:lr=0.0005,steps=2,episodic=true,alpha-bn');
    expect(specs.map((s) => s.id)).toEqual(['norm', 'tent:lr=0.0005,steps=2,episodic=true', 'alpha-bn']);
    expect(specs[1].given).toEqual({ lr: 0.0005, steps: 2, episodic: true });
    expect(specs[1].options).toMatchObject({ lr: 0.0005, steps: 2, episodic: true, beta1: 0.9 });
    expect(specs[2].options).toEqual({ alpha: 0.1 });
    expect(parseMethods('all').map((s) => s.name).slice(0, 2)).toEqual(['source', 'norm']);
    expect(() => parseMethods('tent:steps=1.5')).toThrow(/^--methods: tent\.steps: expected an integer, got 1\.5$/);
    expect(() => parseMethods('lr=1,norm')).toThrow(/comes before any method/);
    expect(() => parseMethods('norm,norm')).toThrow(/'norm' is listed twice/);
  });

  it('reads seed lists and ranges', () => {
    expect(parseSeeds('1')).toEqual([1]);
    expect(parseSeeds('1-3,7')).toEqual([1, 2, 3, 7]);
    expect(() => parseSeeds('3-1')).toThrow(/--seed: bad range '3-1'/);
    expect(() => parseSeeds('-1')).toThrow(/--seed/);
  });
});
