/**
 * Noise corruptions of CIFAR-10-C (Hendrycks & Dietterich, "Benchmarking Neural Network Robustness to
 * Common Corruptions and Perturbations", ICLR 2019; reference: hendrycks/robustness make_cifar_c.py).
 *
 * All work per element (each channel of each pixel independently) on x = pixel / 255 in float64 and
 * return uint8(clip(y, 0, 1) * 255) (truncation).
 *
 * RNG consumption: elements are visited in HWC order (row by row, pixel by pixel, R, G, B).
 * - gaussian_noise: one rng.normal per element.
 * - shot_noise: one rng.random per element, mapped through the inverse CDF of Poisson(x * c) (exact
 *   inversion sampling; x takes 256 values, so the CDF tables are computed once per pixel value and c).
 * - impulse_noise: one rng.random per element (flip if < c); a flipped element then draws one more
 *   rng.random (salt if < 0.5, else pepper).
 * - speckle_noise: one rng.normal per element.
 */
import { logGamma, type Rng } from '../rng.js';
import { unitToU8, withData } from './image.js';
import type { Corruption, ImageU8, Severity } from './types.js';

/** y = x + N(0, c^2). */
export const GAUSSIAN_NOISE = [0.04, 0.06, 0.08, 0.09, 0.1] as const;
/** y = Poisson(x * c) / c. */
export const SHOT_NOISE = [500, 250, 100, 75, 50] as const;
/** Salt-and-pepper (skimage random_noise 's&p', salt:pepper 1:1) on a fraction c of the elements. */
export const IMPULSE_NOISE = [0.01, 0.02, 0.03, 0.05, 0.07] as const;
/** y = x + x * N(0, c^2). */
export const SPECKLE_NOISE = [0.06, 0.1, 0.12, 0.16, 0.2] as const;

/** v / 255 for v = 0..255 (the reference's x, float64). */
const UNIT = (() => {
  const t = new Float64Array(256);
  for (let v = 0; v < 256; v++) t[v] = v / 255;
  return t;
})();

/** uint8(clip(y, 0, 1) * 255) with truncation, as unitToU8 (NaN gives 0). */
function toByte(y: number): number {
  return y > 0 ? (y < 1 ? (y * 255) | 0 : 255) : 0;
}

export const gaussianNoise: Corruption = {
  name: 'gaussian_noise',
  heldOut: false,
  random: true,
  apply(image: ImageU8, severity: Severity, rng: Rng): ImageU8 {
    const c = GAUSSIAN_NOISE[severity - 1];
    const src = image.data;
    const out = new Uint8Array(src.length);
    for (let i = 0; i < src.length; i++) out[i] = toByte(UNIT[src[i]] + rng.normal(0, c));
    return withData(image, out);
  },
};

/** Poisson(lambda) inverse-CDF table: cdf[k - first] = P(K <= k), over the range holding all but ~1e-300 of the mass. */
interface PoissonTable {
  first: number;
  cdf: Float64Array;
}

function poissonTable(lambda: number): PoissonTable {
  if (lambda === 0) return { first: 0, cdf: Float64Array.of(1) };
  // Walk out from the mode in probability space (log space for the mode itself, so large lambdas do not underflow).
  const mode = Math.floor(lambda);
  const pmfMode = Math.exp(-lambda + mode * Math.log(lambda) - logGamma(mode + 1));
  const tiny = 1e-300;
  const lower: number[] = [];
  for (let k = mode, p = pmfMode; k > 0 && p > tiny; k--) {
    p *= k / lambda;
    lower.push(p);
  }
  const upper: number[] = [pmfMode];
  for (let k = mode, p = pmfMode; p > tiny; k++) {
    p *= lambda / (k + 1);
    upper.push(p);
  }
  const first = mode - lower.length;
  const pmf = [...lower.reverse(), ...upper];
  const cdf = new Float64Array(pmf.length);
  let acc = 0;
  for (let i = 0; i < pmf.length; i++) cdf[i] = acc += pmf[i];
  for (let i = 0; i < cdf.length; i++) cdf[i] /= acc; // renormalise the truncated tails away
  cdf[cdf.length - 1] = 1;
  return { first, cdf };
}

/** Guide-table resolution of the inverse-CDF search (a power of two, so u * GUIDE and g / GUIDE are exact). */
const GUIDE = 64;

/**
 * Everything shot_noise needs for one c, flattened over the 256 pixel values v (lambda = (v / 255) * c):
 * - cdf: the tables' CDFs end to end, table v at start[v] .. start[v + 1];
 * - guide[v * GUIDE + g]: the smallest index k of table v with cdf[k] > g / GUIDE (exact), where the
 *   search for u in [g / GUIDE, (g + 1) / GUIDE) starts: smaller indices have cdf <= g / GUIDE <= u;
 * - bytes[start[v] + k]: the output byte of the draw first + k, i.e. uint8(clip((first + k) / c, 0, 1) * 255).
 */
interface ShotPlan {
  cdf: Float64Array;
  start: Int32Array;
  guide: Int32Array;
  bytes: Uint8Array;
}

const shotPlans = new Map<number, ShotPlan>();

function shotPlan(c: number): ShotPlan {
  let plan = shotPlans.get(c);
  if (plan) return plan;
  const tables: PoissonTable[] = [];
  for (let v = 0; v < 256; v++) tables.push(poissonTable((v / 255) * c));
  const start = new Int32Array(257);
  for (let v = 0; v < 256; v++) start[v + 1] = start[v] + tables[v].cdf.length;
  const cdf = new Float64Array(start[256]);
  const counts = new Float64Array(start[256]);
  const guide = new Int32Array(256 * GUIDE);
  for (let v = 0; v < 256; v++) {
    const t = tables[v];
    cdf.set(t.cdf, start[v]);
    for (let k = 0; k < t.cdf.length; k++) counts[start[v] + k] = (t.first + k) / c;
    let k = 0;
    for (let g = 0; g < GUIDE; g++) {
      while (k < t.cdf.length - 1 && !(t.cdf[k] > g / GUIDE)) k++;
      guide[v * GUIDE + g] = start[v] + k;
    }
  }
  plan = { cdf, start, guide, bytes: unitToU8(counts) };
  shotPlans.set(c, plan);
  return plan;
}

export const shotNoise: Corruption = {
  name: 'shot_noise',
  heldOut: false,
  random: true,
  apply(image: ImageU8, severity: Severity, rng: Rng): ImageU8 {
    const c = SHOT_NOISE[severity - 1];
    const { cdf, guide, bytes } = shotPlan(c);
    const src = image.data;
    const out = new Uint8Array(src.length);
    for (let i = 0; i < src.length; i++) {
      const u = rng.random();
      // The smallest k with u < cdf[k] in table src[i] (the cdf is nondecreasing and ends with 1 > u), as a
      // binary search would find it, searched upwards from the guide entry.
      let k = guide[src[i] * GUIDE + ((u * GUIDE) | 0)];
      while (!(u < cdf[k])) k++;
      out[i] = bytes[k];
    }
    return withData(image, out);
  },
};

export const impulseNoise: Corruption = {
  name: 'impulse_noise',
  heldOut: false,
  random: true,
  apply(image: ImageU8, severity: Severity, rng: Rng): ImageU8 {
    const c = IMPULSE_NOISE[severity - 1];
    const src = image.data;
    const out = new Uint8Array(src.length);
    // Salt gives 1 -> 255, pepper 0 -> 0, an unflipped element keeps its value (uint8(v / 255 * 255) = v).
    for (let i = 0; i < src.length; i++) out[i] = rng.random() < c ? (rng.random() < 0.5 ? 255 : 0) : toByte(UNIT[src[i]]);
    return withData(image, out);
  },
};

export const speckleNoise: Corruption = {
  name: 'speckle_noise',
  heldOut: true,
  random: true,
  apply(image: ImageU8, severity: Severity, rng: Rng): ImageU8 {
    const c = SPECKLE_NOISE[severity - 1];
    const src = image.data;
    const out = new Uint8Array(src.length);
    for (let i = 0; i < src.length; i++) {
      const x = UNIT[src[i]];
      out[i] = toByte(x + x * rng.normal(0, c));
    }
    return withData(image, out);
  },
};
