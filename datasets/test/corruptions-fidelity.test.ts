/**
 * Fidelity of the corruptions against the reference implementation's outputs
 * (../shared/data/cifar10-c-reference-sample: hendrycks/robustness make_cifar_c.py on the first 16
 * CIFAR-10 test images, 19 corruptions x 5 severities; row (s-1)*16+i is image i at severity s).
 *
 * - Deterministic corruptions: pixel by pixel, |ours - reference| <= 1 everywhere.
 * - jpeg_compression: the measured tolerance of a libjpeg-turbo build whose encoder uses the fast DCT.
 * - motion_blur and frost: their only randomness is a few numbers (an angle; a picture and a crop), so
 *   for every reference image we search those numbers and require an exact reproduction.
 * - Other random corruptions: statistics over the 16 images (mean, mean |.| and spread of the per-pixel
 *   change, per-channel output means, fraction of changed values) must match the reference's within
 *   K standard deviations of the same statistic over SEEDS independent seeds of ours, plus a small floor.
 *   Expected values all come from the fixture; the tolerances from our own seed-to-seed spread.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../src/loaders/npy.js';
import { Rng } from '../src/rng.js';
import { corruptions, type CorruptionName, type ImageU8, type Severity } from '../src/corruptions/index.js';
import { prepareCorruptions } from '../src/corruptions/frost-assets-node.js';
import { MOTION_BLUR } from '../src/corruptions/blur.js';
import { motionBlurU8, motionKernel } from '../src/corruptions/motion.js';
import { FOG, FROST, FROST_SCALE_32, SNOW, snowBackground } from '../src/corruptions/weather.js';
import { frostPicture } from '../src/corruptions/frost-assets.js';

const FIXTURE = new URL('../../../shared/data/cifar10-c-reference-sample/', import.meta.url);
const N = 16;
const PIX = 32 * 32 * 3;
const SEVERITIES: Severity[] = [1, 2, 3, 4, 5];

function load(name: string): Uint8Array {
  return readNpy(new Uint8Array(readFileSync(new URL(`${name}.npy`, FIXTURE))), `${name}.npy`).data as Uint8Array;
}

const clean = load('clean');
const cleanImage = (i: number): ImageU8 => ({ data: clean.slice(i * PIX, (i + 1) * PIX), height: 32, width: 32 });
const refRow = (ref: Uint8Array, s: number, i: number): Uint8Array => ref.subarray(((s - 1) * N + i) * PIX, ((s - 1) * N + i + 1) * PIX);

beforeAll(async () => {
  await prepareCorruptions();
});

describe('deterministic corruptions match the reference pixel for pixel (within +-1)', () => {
  const names: CorruptionName[] = ['defocus_blur', 'zoom_blur', 'brightness', 'contrast', 'pixelate', 'saturate', 'gaussian_blur'];
  it.each(names)('%s: all 16 images x 5 severities', (name) => {
    const ref = load(name);
    let maxDiff = 0;
    let worst = '';
    for (const s of SEVERITIES) {
      for (let i = 0; i < N; i++) {
        const out = corruptions[name].apply(cleanImage(i), s, new Rng(0)).data;
        const r = refRow(ref, s, i);
        for (let k = 0; k < PIX; k++) {
          const d = Math.abs(out[k] - r[k]);
          if (d > maxDiff) {
            maxDiff = d;
            worst = `severity ${s}, image ${i}, value ${k}: ${out[k]} vs ${r[k]}`;
          }
        }
      }
    }
    expect(maxDiff, worst).toBeLessThanOrEqual(1);
  });
});

describe('jpeg_compression within the stated codec tolerance', () => {
  it('matches PIL (libjpeg, accurate DCT) within the measured tolerance of libjpeg-turbo with the fast DCT', () => {
    const ref = load('jpeg_compression');
    const hist = new Float64Array(256);
    let total = 0;
    for (const s of SEVERITIES) {
      let oursStrength = 0;
      let refStrength = 0;
      for (let i = 0; i < N; i++) {
        const out = corruptions.jpeg_compression.apply(cleanImage(i), s, new Rng(0)).data;
        const r = refRow(ref, s, i);
        for (let k = 0; k < PIX; k++) {
          hist[Math.abs(out[k] - r[k])]++;
          oursStrength += Math.abs(out[k] - clean[i * PIX + k]);
          refStrength += Math.abs(r[k] - clean[i * PIX + k]);
          total++;
        }
      }
      // The distortion the corruption adds (mean |out - clean|) agrees within 3 % at every quality.
      expect(Math.abs(oursStrength - refStrength) / refStrength, `severity ${s} strength`).toBeLessThan(0.03);
    }
    let mean = 0;
    let maxDiff = 0;
    for (let d = 0; d < 256; d++) {
      mean += (d * hist[d]) / total;
      if (hist[d] > 0) maxDiff = d;
    }
    const within = (t: number): number => hist.slice(0, t + 1).reduce((a, b) => a + b, 0) / total;
    // Stated tolerance (docs/corruptions.md): >= 55 % of values identical, >= 75 % within +-1,
    // >= 85 % within +-2, mean |diff| <= 1.1, max |diff| <= 32.
    expect(within(0)).toBeGreaterThanOrEqual(0.55);
    expect(within(1)).toBeGreaterThanOrEqual(0.75);
    expect(within(2)).toBeGreaterThanOrEqual(0.85);
    expect(mean).toBeLessThanOrEqual(1.1);
    expect(maxDiff).toBeLessThanOrEqual(32);
  });
});

describe('motion_blur: each reference image is reproduced exactly by some angle in [-45, 45]', () => {
  it.each(SEVERITIES)('severity %i', (s) => {
    const ref = load('motion_blur');
    const [radius, sigma] = MOTION_BLUR[s - 1];
    // The tap offsets only change at discrete angles: one kernel per distinct offset pattern.
    const kernels = new Map<string, ReturnType<typeof motionKernel>>();
    for (let a = -45; a <= 45; a += 0.01) {
      const k = motionKernel(radius, sigma, a);
      const key = `${Array.from(k.dx)}|${Array.from(k.dy)}`;
      if (!kernels.has(key)) kernels.set(key, k);
    }
    for (let i = 0; i < N; i++) {
      const r = refRow(ref, s, i);
      let best = Infinity;
      for (const k of kernels.values()) {
        const out = motionBlurU8(cleanImage(i).data, 32, 32, 3, k);
        let m = 0;
        for (let p = 0; p < PIX && m < best; p++) m = Math.max(m, Math.abs(out[p] - r[p]));
        best = Math.min(best, m);
        if (best === 0) break;
      }
      expect(best, `image ${i}`).toBe(0);
    }
  });
});

describe('frost: each reference image is reproduced exactly by one of frost pictures 1-5 and some crop', () => {
  it('all 16 images x 5 severities', () => {
    const ref = load('frost');
    const used = new Set<number>();
    for (const s of SEVERITIES) {
      const [a, f] = FROST[s - 1];
      for (let i = 0; i < N; i++) {
        const x = clean.subarray(i * PIX, (i + 1) * PIX);
        const r = refRow(ref, s, i);
        const value = (k: number, pic: Uint8Array, q: number): number => {
          const v = a * x[k] + f * pic[q];
          return v < 255 ? Math.trunc(v) : 255;
        };
        let found = -1;
        for (let idx = 0; idx < 6 && found < 0; idx++) {
          const pic = frostPicture(idx, FROST_SCALE_32);
          for (let top = 0; top < pic.height - 32 && found < 0; top++) {
            for (let left = 0; left < pic.width - 32 && found < 0; left++) {
              let ok = true;
              for (let y = 0; y < 32 && ok; y++) {
                for (let xx = 0; xx < 32 && ok; xx++) {
                  const k = (y * 32 + xx) * 3;
                  const q = ((top + y) * pic.width + left + xx) * 3;
                  ok = value(k, pic.data, q) === r[k] && value(k + 1, pic.data, q + 1) === r[k + 1] && value(k + 2, pic.data, q + 2) === r[k + 2];
                }
              }
              if (ok) found = idx;
            }
          }
        }
        expect(found, `severity ${s} image ${i}: no (picture, crop) reproduces it`).toBeGreaterThanOrEqual(0);
        used.add(found);
      }
    }
    // The reference draws randint(5): the sixth picture is never used.
    expect(Math.max(...used)).toBeLessThan(5);
  });
});

/**
 * Statistics of a set of 16 corrupted images against the clean ones: the per-pixel change (mean, mean
 * |.|, spread), per-channel output means, the fraction of changed values, and two per-image structure
 * measures averaged over the images: the correlation with the clean image and the ratio of gradient
 * energy (sum of |horizontal| + |vertical| neighbour differences) to the clean image's.
 */
const STAT_NAMES = [
  'mean change',
  'mean |change|',
  'std of change',
  'mean R',
  'mean G',
  'mean B',
  'fraction changed',
  'correlation with clean',
  'gradient ratio',
] as const;
/** Floors added to K * sigma: pixel levels for the level statistics, absolute for the others. */
const FLOORS = [0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.001, 0.001, 0.002];

function gradientEnergy(a: ArrayLike<number>, off: number): number {
  let g = 0;
  for (let y = 0; y < 32; y++) {
    for (let x = 0; x < 31; x++) {
      for (let c = 0; c < 3; c++) {
        g += Math.abs(a[off + (y * 32 + x + 1) * 3 + c] - a[off + (y * 32 + x) * 3 + c]);
        g += Math.abs(a[off + ((x + 1) * 32 + y) * 3 + c] - a[off + (x * 32 + y) * 3 + c]);
      }
    }
  }
  return g;
}

function statistics(outs: ArrayLike<number>[]): number[] {
  let n = 0;
  let sum = 0;
  let sumAbs = 0;
  let sumSq = 0;
  let changed = 0;
  let corr = 0;
  let grad = 0;
  const ch = [0, 0, 0];
  outs.forEach((o, i) => {
    let mo = 0;
    let mc = 0;
    for (let k = 0; k < PIX; k++) {
      const d = o[k] - clean[i * PIX + k];
      sum += d;
      sumAbs += Math.abs(d);
      sumSq += d * d;
      ch[k % 3] += o[k];
      if (d !== 0) changed++;
      n++;
      mo += o[k];
      mc += clean[i * PIX + k];
    }
    mo /= PIX;
    mc /= PIX;
    let soc = 0;
    let soo = 0;
    let scc = 0;
    for (let k = 0; k < PIX; k++) {
      const a = o[k] - mo;
      const b = clean[i * PIX + k] - mc;
      soc += a * b;
      soo += a * a;
      scc += b * b;
    }
    corr += soo > 0 ? soc / Math.sqrt(soo * scc) : 0;
    grad += gradientEnergy(o, 0) / gradientEnergy(clean, i * PIX);
  });
  const mean = sum / n;
  return [
    mean,
    sumAbs / n,
    Math.sqrt(sumSq / n - mean * mean),
    (3 * ch[0]) / n,
    (3 * ch[1]) / n,
    (3 * ch[2]) / n,
    changed / n,
    corr / outs.length,
    grad / outs.length,
  ];
}

/**
 * Extra statistics where the reference's structure allows a sharper check than the generic ones.
 * - snow: the fraction of pixels without snow, i.e. whose 3 values equal the snow background
 *   x' = blend x + (1 - blend) max(x, 1.5 gray + 0.5) exactly (a wrong blend or grey lift makes the
 *   reference's fraction collapse), and the mean added brightness of the other pixels.
 * - fog: out = (x + s P) m / (m + s) with one plasma value P per pixel for all channels; the fraction of
 *   unclipped pixels whose P inferred from R, G and B agree within one level of truncation (a wrong
 *   strength s makes the inferred values depend on the channel), and the mean horizontal roughness
 *   |P(y, x+1) - P(y, x)| of the inferred plasma (set by the wibble decay).
 */
const EXTRA: Partial<Record<CorruptionName, { names: string[]; floors: number[]; fn: (outs: ArrayLike<number>[], s: Severity) => number[] }>> = {
  snow: {
    names: ['snow-free fraction', 'mean snow on snowy pixels'],
    floors: [0.002, 0.05],
    fn(outs, s) {
      const blend = SNOW[s - 1][6];
      let free = 0;
      let snowy = 0;
      let added = 0;
      outs.forEach((o, i) => {
        const base = snowBackground(clean.subarray(i * PIX, (i + 1) * PIX), blend);
        for (let p = 0; p < PIX; p += 3) {
          let exact = true;
          let d = 0;
          for (let c = 0; c < 3; c++) {
            const b = base[p + c];
            const expected = b > 0 ? (b < 1 ? Math.trunc(Math.fround(b) * 255) : 255) : 0;
            if (o[p + c] !== expected) exact = false;
            d += o[p + c] - expected;
          }
          if (exact) free++;
          else {
            snowy++;
            added += d / 3;
          }
        }
      });
      return [free / (outs.length * 1024), snowy > 0 ? added / snowy : 0];
    },
  },
  fog: {
    names: ['plasma agreement', 'plasma roughness'],
    floors: [0.002, 0.002],
    fn(outs, s) {
      const strength = FOG[s - 1][0];
      let agree = 0;
      let count = 0;
      let rough = 0;
      let pairs = 0;
      outs.forEach((o, i) => {
        const x = clean.subarray(i * PIX, (i + 1) * PIX);
        let m = 0;
        for (let k = 0; k < PIX; k++) m = Math.max(m, x[k] / 255);
        const plasma = new Float64Array(1024).fill(NaN);
        for (let p = 0; p < 1024; p++) {
          let lo = Infinity;
          let hi = -Infinity;
          for (let c = 0; c < 3; c++) {
            const v = o[p * 3 + c];
            if (v === 0 || v === 255) {
              lo = NaN;
              break;
            }
            const est = (((v + 0.5) / 255) * (m + strength)) / m - x[p * 3 + c] / 255;
            lo = Math.min(lo, est / strength);
            hi = Math.max(hi, est / strength);
          }
          if (Number.isNaN(lo)) continue;
          count++;
          if (hi - lo <= (m + strength) / (m * strength * 255)) agree++;
          plasma[p] = (lo + hi) / 2;
        }
        for (let y = 0; y < 32; y++) {
          for (let xx = 0; xx < 31; xx++) {
            const a = plasma[y * 32 + xx];
            const b = plasma[y * 32 + xx + 1];
            if (!Number.isNaN(a) && !Number.isNaN(b)) {
              rough += Math.abs(b - a);
              pairs++;
            }
          }
        }
      });
      return [agree / count, rough / pairs];
    },
  },
};

const SEEDS = 24;
const K = 5;

describe('random corruptions match the reference statistics', () => {
  const names: CorruptionName[] = [
    'gaussian_noise',
    'shot_noise',
    'impulse_noise',
    'speckle_noise',
    'glass_blur',
    'motion_blur',
    'snow',
    'frost',
    'fog',
    'elastic_transform',
    'spatter',
  ];
  it.each(names)('%s: statistics x 5 severities within K sigma of our seed-to-seed spread', (name) => {
    const ref = load(name);
    const extra = EXTRA[name];
    const statNames = [...STAT_NAMES, ...(extra?.names ?? [])];
    const floors = [...FLOORS, ...(extra?.floors ?? [])];
    const all = (outs: ArrayLike<number>[], s: Severity): number[] => [...statistics(outs), ...(extra ? extra.fn(outs, s) : [])];
    const failures: string[] = [];
    for (const s of SEVERITIES) {
      const target = all(
        Array.from({ length: N }, (_, i) => refRow(ref, s, i)),
        s,
      );
      const runs: number[][] = [];
      for (let seed = 0; seed < SEEDS; seed++) {
        const rng = new Rng(7919 * seed + s);
        runs.push(all(Array.from({ length: N }, (_, i) => corruptions[name].apply(cleanImage(i), s, rng).data), s));
      }
      statNames.forEach((stat, j) => {
        const v = runs.map((r) => r[j]);
        const mu = v.reduce((a, b) => a + b, 0) / SEEDS;
        const sd = Math.sqrt(v.reduce((a, b) => a + (b - mu) ** 2, 0) / (SEEDS - 1));
        const tol = K * sd + floors[j];
        if (Math.abs(target[j] - mu) > tol) {
          failures.push(`severity ${s} ${stat}: reference ${target[j].toFixed(4)}, ours ${mu.toFixed(4)} +- ${sd.toFixed(4)} (tolerance ${tol.toFixed(4)})`);
        }
      });
    }
    expect(failures).toEqual([]);
  });
});
