/**
 * Weather corruptions of CIFAR-10-C (Hendrycks & Dietterich, ICLR 2019; hendrycks/robustness make_cifar_c.py).
 *
 * - snow (loc, scale, zoom, threshold, radius, sigma, blend), in float32 like the reference:
 *   L ~ N(loc, scale^2) per pixel; L = clipped_zoom(L, zoom); L[L < threshold] = 0;
 *   L = uint8(clip(L, 0, 1) * 255) motion-blurred by ImageMagick (radius, sigma, angle ~ U(-135, -45)), / 255;
 *   x' = blend * x + (1 - blend) * max(x, 1.5 * gray(x) + 0.5); out = clip(x' + L + rot180(L), 0, 1).
 *   RNG: H*W rng.normal (row-major), then one rng.uniform(-135, -45).
 * - frost (a, f): one of frost pictures 1-5 (rng.int(0, 5); the reference never picks the sixth),
 *   resized by 0.2 (cv2 INTER_LINEAR), a random H x W crop (rng.int(0, fh - H) for the row, then
 *   rng.int(0, fw - W) for the column); out = clip(a * x + f * crop, 0, 255) in the 0-255 domain.
 *   Larger images use scale max(H, W) / 160 (0.2 at 32 px) so the frost keeps its size relative to the image.
 * - fog (s, decay): P = plasma fractal (mapsize = smallest power of two >= max(H, W, 32), cropped);
 *   m = max(x); out = clip((x + s * P) * m / (m + s), 0, 1). RNG: see plasma.ts.
 * - spatter (loc, scale, sigma, threshold, intensity, mud) (held out): liquid L ~ N(loc, scale^2),
 *   skimage gaussian(sigma), L[L < threshold] = 0. Severities 1-3 (water): an OpenCV edge/distance
 *   texture (cvops.ts) times uint8(L * 255), normalised to max 1 and scaled by `intensity`, adds
 *   (175, 238, 238) / 255 times it to (R, G, B). Severities 4-5 (mud): M = gaussian(L > threshold,
 *   intensity) zeroed below 0.8; out = x * (1 - M) + (63, 42, 20) / 255 * M. RNG: H*W rng.normal.
 */
import type { Rng } from '../rng.js';
import { boxBlur3F32, boxBlur3U8, canny, distanceTransformL2Mask5, equalizeHist, filter2DU8 } from './cvops.js';
import { gaussianFilter } from './filters.js';
import { frostPicture } from './frost-assets.js';
import { unitToU8f32, withData } from './image.js';
import { motionBlurU8, motionKernel } from './motion.js';
import { plasmaFractal } from './plasma.js';
import { clippedZoomInto } from './zoom.js';
import type { Corruption, ImageU8, Severity } from './types.js';

/** (loc, scale, zoom, threshold, motion radius, motion sigma, blend). */
export const SNOW = [
  [0.1, 0.2, 1, 0.6, 8, 3, 0.95],
  [0.1, 0.2, 1, 0.5, 10, 4, 0.9],
  [0.15, 0.3, 1.75, 0.55, 10, 4, 0.9],
  [0.25, 0.3, 2.25, 0.6, 12, 6, 0.85],
  [0.3, 0.3, 1.25, 0.65, 14, 12, 0.8],
] as const;
/** (image weight, frost weight). */
export const FROST = [
  [1, 0.2],
  [1, 0.3],
  [0.9, 0.4],
  [0.85, 0.4],
  [0.75, 0.45],
] as const;
/** Frost picture scale for a 32-pixel image; larger images scale it by max(H, W) / 32. */
export const FROST_SCALE_32 = 0.2;
/** (fog strength, wibble decay). */
export const FOG = [
  [0.2, 3],
  [0.5, 3],
  [0.75, 2.5],
  [1, 2],
  [1.5, 1.75],
] as const;
/** (loc, scale, sigma, threshold, intensity or mud sigma, mud). */
export const SPATTER = [
  [0.62, 0.1, 0.7, 0.7, 0.5, 0],
  [0.65, 0.1, 0.8, 0.7, 0.5, 0],
  [0.65, 0.3, 1, 0.69, 0.5, 0],
  [0.65, 0.1, 0.7, 0.69, 0.6, 1],
  [0.65, 0.1, 0.5, 0.68, 0.6, 1],
] as const;

const f32 = Math.fround;

/** v / 255 for v = 0..255 (float64). */
const UNIT = (() => {
  const t = new Float64Array(256);
  for (let v = 0; v < 256; v++) t[v] = v / 255;
  return t;
})();

/** float32(v / 255) for v = 0..255. */
const UNIT_F32 = (() => {
  const t = new Float32Array(256);
  for (let v = 0; v < 256; v++) t[v] = v / 255;
  return t;
})();

/**
 * The snow background x' = blend * x + (1 - blend) * max(x, 1.5 * gray(x) + 0.5) of an RGB uint8 image,
 * in float32 like the reference (OpenCV's RGB2GRAY weights 0.299, 0.587, 0.114).
 */
export function snowBackground(data: Uint8Array, blend: number): Float32Array {
  const out = new Float32Array(data.length);
  const b = f32(blend);
  const ib = f32(1 - blend);
  const cr = f32(0.299);
  const cg = f32(0.587);
  const cb = f32(0.114);
  for (let p = 0; p < data.length; p += 3) {
    const r = UNIT_F32[data[p]];
    const g = UNIT_F32[data[p + 1]];
    const bl = UNIT_F32[data[p + 2]];
    const gray = f32(f32(f32(r * cr) + f32(g * cg)) + f32(bl * cb));
    const lift = f32(f32(gray * 1.5) + 0.5);
    out[p] = f32(f32(b * r) + f32(ib * (r > lift ? r : lift)));
    out[p + 1] = f32(f32(b * g) + f32(ib * (g > lift ? g : lift)));
    out[p + 2] = f32(f32(b * bl) + f32(ib * (bl > lift ? bl : lift)));
  }
  return out;
}

export const snow: Corruption = {
  name: 'snow',
  heldOut: false,
  random: true,
  apply(image: ImageU8, severity: Severity, rng: Rng): ImageU8 {
    const [loc, scale, zoom, threshold, radius, sigma, blend] = SNOW[severity - 1];
    const { height: H, width: W, data } = image;
    const n = H * W;
    const layer = new Float64Array(n);
    for (let i = 0; i < n; i++) layer[i] = rng.normal(loc, scale);
    const zoomed = new Float64Array(n);
    clippedZoomInto(layer, H, W, 1, zoom, zoomed);
    const grey = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const v = zoomed[i] < threshold ? 0 : zoomed[i];
      grey[i] = v > 0 ? (v < 1 ? (v * 255) | 0 : 255) : 0;
    }
    const blurred = motionBlurU8(grey, H, W, 1, motionKernel(radius, sigma, rng.uniform(-135, -45)));

    const base = snowBackground(data, blend);
    // out = uint8(clip(base + L + rot90(L, 2), 0, 1) * 255), as unitToU8 of the float64 sums.
    const out = new Uint8Array(data.length);
    for (let p = 0, q = 0; p < n; p++, q += 3) {
      const l1 = UNIT[blurred[p]];
      const l2 = UNIT[blurred[n - 1 - p]]; // rot90(L, 2)
      const v0 = base[q] + l1 + l2;
      const v1 = base[q + 1] + l1 + l2;
      const v2 = base[q + 2] + l1 + l2;
      out[q] = v0 > 0 ? (v0 < 1 ? (v0 * 255) | 0 : 255) : 0;
      out[q + 1] = v1 > 0 ? (v1 < 1 ? (v1 * 255) | 0 : 255) : 0;
      out[q + 2] = v2 > 0 ? (v2 < 1 ? (v2 * 255) | 0 : 255) : 0;
    }
    return withData(image, out);
  },
};

export const frost: Corruption = {
  name: 'frost',
  heldOut: false,
  random: true,
  apply(image: ImageU8, severity: Severity, rng: Rng): ImageU8 {
    const [a, f] = FROST[severity - 1];
    const { height: H, width: W, data } = image;
    const scale = (FROST_SCALE_32 * Math.max(H, W)) / 32; // exactly 0.2 at 32 px
    const pic = frostPicture(rng.int(0, 5), scale);
    if (pic.height <= H || pic.width <= W) {
      throw new RangeError(`frost: the resized frost picture (${pic.height}x${pic.width}) is too small for a ${H}x${W} image`);
    }
    const top = rng.int(0, pic.height - H);
    const left = rng.int(0, pic.width - W);
    const out = new Uint8Array(data.length);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const o = (y * W + x) * 3;
        const q = ((top + y) * pic.width + left + x) * 3;
        for (let c = 0; c < 3; c++) {
          const v = a * data[o + c] + f * pic.data[q + c];
          out[o + c] = v < 255 ? v | 0 : 255;
        }
      }
    }
    return withData(image, out);
  },
};

export const fog: Corruption = {
  name: 'fog',
  heldOut: false,
  random: true,
  apply(image: ImageU8, severity: Severity, rng: Rng): ImageU8 {
    const [s, decay] = FOG[severity - 1];
    const { height: H, width: W } = image;
    let mapsize = 32;
    while (mapsize < Math.max(H, W)) mapsize *= 2;
    const data = image.data;
    // max(x) = max(pixel) / 255 (division by 255 is monotone).
    let maxByte = 0;
    for (let i = 0; i < data.length; i++) if (data[i] > maxByte) maxByte = data[i];
    const maxVal = UNIT[maxByte];
    const plasma = plasmaFractal(mapsize, decay, rng);
    const denom = maxVal + s;
    const out = new Uint8Array(data.length);
    for (let y = 0; y < H; y++) {
      for (let xx = 0; xx < W; xx++) {
        const add = s * plasma[y * mapsize + xx];
        const o = (y * W + xx) * 3;
        for (let c = 0; c < 3; c++) {
          const v = ((UNIT[data[o + c]] + add) * maxVal) / denom;
          out[o + c] = v > 0 ? (v < 1 ? (v * 255) | 0 : 255) : 0;
        }
      }
    }
    return withData(image, out);
  },
};

const EMBOSS = [
  [-2, -1, 0],
  [-1, 1, 1],
  [0, 1, 2],
];

export const spatter: Corruption = {
  name: 'spatter',
  heldOut: true,
  random: true,
  apply(image: ImageU8, severity: Severity, rng: Rng): ImageU8 {
    const [loc, scale, sigma, threshold, intensity, mud] = SPATTER[severity - 1];
    const { height: H, width: W, data } = image;
    const n = H * W;
    const noise = new Float64Array(n);
    for (let i = 0; i < n; i++) noise[i] = rng.normal(loc, scale);
    const liquid = gaussianFilter(noise, H, W, 1, sigma);
    for (let i = 0; i < n; i++) if (liquid[i] < threshold) liquid[i] = 0;
    const x = new Float32Array(data.length);
    for (let i = 0; i < data.length; i++) x[i] = data[i] / 255;

    if (mud === 0) {
      // (liquid * 255).astype(uint8): truncation (C cast, so values past 255 wrap).
      const liquidU8 = new Uint8Array(n);
      for (let i = 0; i < n; i++) liquidU8[i] = ((liquid[i] * 255) | 0) & 255;
      const edges = canny(liquidU8, H, W, 50, 150);
      for (let i = 0; i < n; i++) edges[i] = 255 - edges[i];
      const dist = distanceTransformL2Mask5(edges, H, W);
      for (let i = 0; i < n; i++) if (dist[i] > 20) dist[i] = 20;
      const blurred = boxBlur3F32(dist, H, W);
      let d8: Uint8Array = new Uint8Array(n);
      for (let i = 0; i < n; i++) d8[i] = blurred[i] | 0;
      d8 = equalizeHist(d8);
      d8 = filter2DU8(d8, H, W, EMBOSS);
      d8 = boxBlur3U8(d8, H, W);
      const m = new Float32Array(n);
      let mMax = 0;
      for (let i = 0; i < n; i++) {
        m[i] = liquidU8[i] * d8[i];
        if (m[i] > mMax) mMax = m[i];
      }
      // m / max(m): 0/0 when there is no liquid at all gives NaN in the reference, hence a black image.
      const color = [f32(175 / 255), f32(238 / 255), f32(238 / 255)];
      const out = new Float32Array(data.length);
      const k = f32(intensity);
      for (let i = 0; i < n; i++) {
        const mi = f32(f32(m[i] / mMax) * k);
        for (let c = 0; c < 3; c++) out[i * 3 + c] = f32(x[i * 3 + c] + f32(mi * color[c]));
      }
      return withData(image, unitToU8f32(out));
    }

    const mask = new Float32Array(n);
    for (let i = 0; i < n; i++) mask[i] = liquid[i] > threshold ? 1 : 0;
    const m = gaussianFilter(mask, H, W, 1, intensity, 'nearest', 4, true);
    for (let i = 0; i < n; i++) if (m[i] < 0.8) m[i] = 0;
    const color = [f32(63 / 255), f32(42 / 255), f32(20 / 255)];
    const out = new Float32Array(data.length);
    for (let i = 0; i < n; i++) {
      const keep = f32(1 - m[i]);
      for (let c = 0; c < 3; c++) out[i * 3 + c] = f32(f32(x[i * 3 + c] * keep) + f32(color[c] * m[i]));
    }
    return withData(image, unitToU8f32(out));
  },
};
