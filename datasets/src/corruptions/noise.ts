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

function perElement(image: ImageU8, f: (x: number) => number): ImageU8 {
  const src = image.data;
  const y = new Float64Array(src.length);
  for (let i = 0; i < src.length; i++) y[i] = f(src[i] / 255);
  return withData(image, unitToU8(y));
}

export const gaussianNoise: Corruption = {
  name: 'gaussian_noise',
  heldOut: false,
  random: true,
  apply(image: ImageU8, severity: Severity, rng: Rng): ImageU8 {
    const c = GAUSSIAN_NOISE[severity - 1];
    return perElement(image, (x) => x + rng.normal(0, c));
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

const poissonTables = new Map<number, PoissonTable[]>();

/** Tables for lambda = (v / 255) * c, v = 0..255 (the reference's x * c). */
function shotTables(c: number): PoissonTable[] {
  let t = poissonTables.get(c);
  if (!t) {
    t = [];
    for (let v = 0; v < 256; v++) t.push(poissonTable((v / 255) * c));
    poissonTables.set(c, t);
  }
  return t;
}

/** The smallest k with u < cdf[k]: a Poisson draw from one uniform. */
function samplePoisson(t: PoissonTable, u: number): number {
  const cdf = t.cdf;
  let lo = 0;
  let hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (u < cdf[mid]) hi = mid;
    else lo = mid + 1;
  }
  return t.first + lo;
}

export const shotNoise: Corruption = {
  name: 'shot_noise',
  heldOut: false,
  random: true,
  apply(image: ImageU8, severity: Severity, rng: Rng): ImageU8 {
    const c = SHOT_NOISE[severity - 1];
    const tables = shotTables(c);
    const src = image.data;
    const y = new Float64Array(src.length);
    for (let i = 0; i < src.length; i++) y[i] = samplePoisson(tables[src[i]], rng.random()) / c;
    return withData(image, unitToU8(y));
  },
};

export const impulseNoise: Corruption = {
  name: 'impulse_noise',
  heldOut: false,
  random: true,
  apply(image: ImageU8, severity: Severity, rng: Rng): ImageU8 {
    const c = IMPULSE_NOISE[severity - 1];
    return perElement(image, (x) => (rng.random() < c ? (rng.random() < 0.5 ? 1 : 0) : x));
  },
};

export const speckleNoise: Corruption = {
  name: 'speckle_noise',
  heldOut: true,
  random: true,
  apply(image: ImageU8, severity: Severity, rng: Rng): ImageU8 {
    const c = SPECKLE_NOISE[severity - 1];
    return perElement(image, (x) => x + x * rng.normal(0, c));
  },
};
