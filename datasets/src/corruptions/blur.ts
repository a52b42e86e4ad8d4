/**
 * Blur corruptions of CIFAR-10-C (Hendrycks & Dietterich, ICLR 2019; hendrycks/robustness make_cifar_c.py).
 *
 * - defocus_blur (r, s): per channel, cv2.filter2D (correlation, BORDER_REFLECT_101) with a disk kernel:
 *   a 17x17 grid over [-8, 8], 1 where i^2 + j^2 <= r^2, normalised (float32), then cv2.GaussianBlur 3x3
 *   with sigma s. Deterministic.
 * - glass_blur (sigma, delta, iterations): skimage gaussian(sigma) -> uint8 (truncation); then for each
 *   iteration, rows h = H-delta .. delta+1 and columns w = W-delta .. delta+1 (descending), draw
 *   dx, dy in [-delta, delta) and copy pixel (h+dy, w+dx) onto (h, w); gaussian(sigma) again.
 *   The reference writes this as a numpy "swap" whose right-hand side holds views, so it is in fact a
 *   copy (the source pixel is duplicated, the target's value is lost); reproduced as such.
 *   RNG: per visited (h, w), rng.int(-delta, delta) for dx, then for dy.
 * - motion_blur (radius, sigma): ImageMagick motion blur (see motion.ts) at angle ~ U(-45, 45) degrees.
 *   RNG: one rng.uniform(-45, 45).
 * - zoom_blur (z_max): mean of x and clipped_zoom(x, z) for z = 1, 1.01, ... < z_max (numpy.arange),
 *   in float32. Deterministic.
 * - gaussian_blur (sigma, held out): skimage gaussian(sigma), per channel, border 'nearest', truncate 4.
 *   Deterministic.
 */
import type { Rng } from '../rng.js';
import { toUnitFloat, unitToU8, withData } from './image.js';
import { cvGaussianKernel, filter2DReflect101RgbU8, gaussianFilter, gaussianFilterU8Into, trimKernel, type Kernel2D } from './filters.js';
import { motionBlurU8, motionKernel } from './motion.js';
import { numpyArange, zoomBlurAccumulate } from './zoom.js';
import type { Corruption, ImageU8, Severity } from './types.js';

/** (disk radius, anti-alias sigma). */
export const DEFOCUS_BLUR = [
  [0.3, 0.4],
  [0.4, 0.5],
  [0.5, 0.6],
  [1, 0.2],
  [1.5, 0.1],
] as const;
/** (sigma, max delta, iterations). */
export const GLASS_BLUR = [
  [0.05, 1, 1],
  [0.25, 1, 1],
  [0.4, 1, 1],
  [0.25, 1, 2],
  [0.4, 1, 2],
] as const;
/** ImageMagick (radius, sigma). */
export const MOTION_BLUR = [
  [6, 1],
  [6, 1.5],
  [6, 2],
  [8, 2],
  [9, 2.5],
] as const;
/** Zoom factors: numpy.arange(1, z_max, 0.01) (7, 12, 16, 21 and 26 factors). */
export const ZOOM_BLUR_MAX = [1.06, 1.11, 1.16, 1.21, 1.26] as const;
/** skimage gaussian sigma. */
export const GAUSSIAN_BLUR = [0.4, 0.6, 0.7, 0.8, 1] as const;

const diskCache = new Map<string, Kernel2D>();

/** The reference's disk(radius, alias_blur) kernel, with all-zero rows and columns trimmed. */
export function diskKernel(radius: number, aliasBlur: number): Kernel2D {
  const key = `${radius}:${aliasBlur}`;
  const hit = diskCache.get(key);
  if (hit) return hit;
  const half = radius <= 8 ? 8 : Math.floor(radius);
  const ksize = radius <= 8 ? 3 : 5;
  const n = 2 * half + 1;
  const disk = new Float32Array(n * n);
  let count = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const y = i - half;
      const x = j - half;
      if (x * x + y * y <= radius * radius) {
        disk[i * n + j] = 1;
        count++;
      }
    }
  }
  for (let i = 0; i < disk.length; i++) disk[i] = disk[i] / count;
  // cv2.GaussianBlur on the float32 kernel image: separable, rows then columns, BORDER_REFLECT_101.
  const g = cvGaussianKernel(ksize, aliasBlur);
  const blurred = sepFilterF32(sepFilterF32(disk, n, n, g, 1), n, n, g, 0);
  const k = trimKernel({ data: Float64Array.from(blurred), rows: n, cols: n, anchorRow: half, anchorCol: half });
  diskCache.set(key, k);
  return k;
}

/** One float32 pass of a small symmetric kernel along axis 0 (columns filter) or 1 (rows filter), REFLECT_101. */
function sepFilterF32(src: Float32Array, rows: number, cols: number, k: Float64Array, axis: 0 | 1): Float32Array {
  const r = (k.length - 1) >> 1;
  const out = new Float32Array(src.length);
  const f = Math.fround;
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < cols; x++) {
      let acc = f(src[y * cols + x] * k[r]);
      for (let j = 1; j <= r; j++) {
        let a: number;
        let b: number;
        if (axis === 1) {
          a = src[y * cols + reflect101(x - j, cols)];
          b = src[y * cols + reflect101(x + j, cols)];
        } else {
          a = src[reflect101(y - j, rows) * cols + x];
          b = src[reflect101(y + j, rows) * cols + x];
        }
        acc = f(acc + f(f(a + b) * k[r + j]));
      }
      out[y * cols + x] = acc;
    }
  }
  return out;
}

function reflect101(i: number, n: number): number {
  return i < 0 ? -i : i >= n ? 2 * n - 2 - i : i;
}

export const defocusBlur: Corruption = {
  name: 'defocus_blur',
  heldOut: false,
  random: false,
  apply(image: ImageU8, severity: Severity): ImageU8 {
    const [radius, alias] = DEFOCUS_BLUR[severity - 1];
    return withData(image, filter2DReflect101RgbU8(image.data, image.height, image.width, diskKernel(radius, alias)));
  },
};

/** Float64 scratch for glass_blur's two blurs (corruptions run synchronously). */
let glassScratch = new Float64Array(0);

export const glassBlur: Corruption = {
  name: 'glass_blur',
  heldOut: false,
  random: true,
  apply(image: ImageU8, severity: Severity, rng: Rng): ImageU8 {
    const [sigma, delta, iterations] = GLASS_BLUR[severity - 1];
    const { height: H, width: W } = image;
    const n = image.data.length;
    if (glassScratch.length !== n) glassScratch = new Float64Array(n);
    const blurred = glassScratch;
    gaussianFilterU8Into(image.data, H, W, 3, sigma, blurred);
    const x = new Uint8Array(n);
    for (let i = 0; i < n; i++) x[i] = (blurred[i] * 255) | 0; // np.uint8(values in [0, 255]): truncation
    for (let it = 0; it < iterations; it++) {
      for (let h = H - delta; h > delta; h--) {
        for (let w = W - delta; w > delta; w--) {
          const dx = rng.int(-delta, delta);
          const dy = rng.int(-delta, delta);
          const dst = (h * W + w) * 3;
          const src = ((h + dy) * W + (w + dx)) * 3;
          x[dst] = x[src];
          x[dst + 1] = x[src + 1];
          x[dst + 2] = x[src + 2];
        }
      }
    }
    gaussianFilterU8Into(x, H, W, 3, sigma, blurred);
    // unitToU8, reusing x for the output.
    for (let i = 0; i < n; i++) {
      const v = blurred[i];
      x[i] = v > 0 ? (v < 1 ? (v * 255) | 0 : 255) : 0;
    }
    return withData(image, x);
  },
};

export const motionBlur: Corruption = {
  name: 'motion_blur',
  heldOut: false,
  random: true,
  apply(image: ImageU8, severity: Severity, rng: Rng): ImageU8 {
    const [radius, sigma] = MOTION_BLUR[severity - 1];
    const angle = rng.uniform(-45, 45);
    return withData(image, motionBlurU8(image.data, image.height, image.width, 3, motionKernel(radius, sigma, angle)));
  },
};

const zoomFactors = ZOOM_BLUR_MAX.map((m) => numpyArange(1, m, 0.01));

/** float32(v / 255) for v = 0..255: the reference's `np.array(x) / 255.` stored in a float32 array. */
const U8_TO_UNIT_F32 = (() => {
  const t = new Float32Array(256);
  for (let v = 0; v < 256; v++) t[v] = v / 255;
  return t;
})();

export const zoomBlur: Corruption = {
  name: 'zoom_blur',
  heldOut: false,
  random: false,
  apply(image: ImageU8, severity: Severity): ImageU8 {
    const { height: H, width: W, data } = image;
    const zs = zoomFactors[severity - 1];
    // The float32 values of x / 255, held in float64 (exactly) so the inner loop reads doubles.
    const x = new Float64Array(data.length);
    for (let i = 0; i < data.length; i++) x[i] = U8_TO_UNIT_F32[data[i]];
    const out = new Float32Array(data.length);
    zoomBlurAccumulate(x, H, W, zs, out);
    // (x + sum) / n in float32, then unitToU8f32 (clip, * 255 in float32, truncate), fused.
    const f = Math.fround;
    const n = zs.length + 1;
    const u8 = new Uint8Array(data.length);
    for (let i = 0; i < out.length; i++) {
      const v = f(f(x[i] + out[i]) / n);
      u8[i] = v > 0 ? (v < 1 ? f(v * 255) | 0 : 255) : 0;
    }
    return withData(image, u8);
  },
};

export const gaussianBlur: Corruption = {
  name: 'gaussian_blur',
  heldOut: true,
  random: false,
  apply(image: ImageU8, severity: Severity): ImageU8 {
    const y = gaussianFilter(toUnitFloat(image.data), image.height, image.width, 3, GAUSSIAN_BLUR[severity - 1]);
    return withData(image, unitToU8(y));
  },
};
