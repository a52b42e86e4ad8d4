/**
 * Digital corruptions of CIFAR-10-C (Hendrycks & Dietterich, ICLR 2019; hendrycks/robustness make_cifar_c.py).
 *
 * - brightness c: skimage rgb2hsv, V = clip(V + c, 0, 1), hsv2rgb. Deterministic.
 * - contrast c: (x - mean_ch) * c + mean_ch, mean over all pixels of each channel. Deterministic.
 * - saturate (k, b) (held out): S = clip(S * k + b, 0, 1) in skimage HSV. Deterministic.
 * - pixelate c: PIL BOX resize to (int(W c), int(H c)), then BOX back to (W, H). Deterministic.
 * - jpeg_compression q: libjpeg encode at quality q (4:2:0), decode (see jpeg-codec.ts). Deterministic.
 * - elastic_transform (alpha, sigma, a) as fractions of IMSIZE (32 in the reference; here min(H, W), so
 *   the distortion keeps its relative size on larger images): in float32,
 *   1. random affine: the points c+s, (c0+s, c1-s), c-s with c = (H//2, W//2), s = min(H, W)//3, each
 *      coordinate jittered by U(-a, a); cv2.warpAffine(INTER_LINEAR, BORDER_REFLECT_101);
 *   2. displacement fields dx, dy = gaussian(U(-1, 1)^{HxW}, sigma, mode 'reflect', truncate 3) * alpha;
 *   3. map_coordinates(order 1, mode 'reflect') at (row + dy, col + dx).
 *   RNG: 6 rng.uniform(-a, a) (point 1 x, y, point 2 x, y, point 3 x, y), then H*W rng.uniform(-1, 1) for
 *   dx (row-major), then H*W for dy.
 */
import type { Rng } from '../rng.js';
import { hsvEditU8 } from './color.js';
import { gaussianFilterInto } from './filters.js';
import { affineFromPoints, remapReflectU8, warpAffineReflect101 } from './geometry.js';
import { withData } from './image.js';
import { jpegRoundTrip } from './jpeg-codec.js';
import { pilBoxResize } from './resample.js';
import type { Corruption, ImageU8, Severity } from './types.js';

export const BRIGHTNESS = [0.05, 0.1, 0.15, 0.2, 0.3] as const;
export const CONTRAST = [0.75, 0.5, 0.4, 0.3, 0.15] as const;
/** (saturation factor, offset). */
export const SATURATE = [
  [0.3, 0],
  [0.1, 0],
  [1.5, 0],
  [2, 0.1],
  [2.5, 0.2],
] as const;
export const PIXELATE = [0.95, 0.9, 0.85, 0.75, 0.65] as const;
export const JPEG_QUALITY = [80, 65, 58, 50, 40] as const;
/** (alpha, sigma, affine jitter) as fractions of the image size (IMSIZE = 32 gives the CIFAR pixels). */
export const ELASTIC_TRANSFORM = [
  [0, 0, 0.08],
  [0.05, 0.2, 0.07],
  [0.08, 0.06, 0.06],
  [0.1, 0.04, 0.05],
  [0.1, 0.03, 0.03],
] as const;

/** v / 255 for v = 0..255 (float64, as toUnitFloat). */
const U8_TO_UNIT = (() => {
  const t = new Float64Array(256);
  for (let v = 0; v < 256; v++) t[v] = v / 255;
  return t;
})();

/** unitToU8 of one value: uint8(clip(v, 0, 1) * 255) with truncation (NaN gives 0). */
function unitByte(v: number): number {
  return v > 0 ? (v < 1 ? (v * 255) | 0 : 255) : 0;
}

/** float32(v / 255) for v = 0..255. */
const U8_TO_UNIT_F32 = (() => {
  const t = new Float32Array(256);
  for (let v = 0; v < 256; v++) t[v] = v / 255;
  return t;
})();

export const brightness: Corruption = {
  name: 'brightness',
  heldOut: false,
  random: false,
  apply(image: ImageU8, severity: Severity): ImageU8 {
    // V = clip(V + c, 0, 1) in skimage HSV.
    return withData(image, hsvEditU8(image.data, 'value', 1, BRIGHTNESS[severity - 1]));
  },
};

export const saturate: Corruption = {
  name: 'saturate',
  heldOut: true,
  random: false,
  apply(image: ImageU8, severity: Severity): ImageU8 {
    // S = clip(S * k + b, 0, 1) in skimage HSV.
    const [k, b] = SATURATE[severity - 1];
    return withData(image, hsvEditU8(image.data, 'saturation', k, b));
  },
};

export const contrast: Corruption = {
  name: 'contrast',
  heldOut: false,
  random: false,
  apply(image: ImageU8, severity: Severity): ImageU8 {
    const c = CONTRAST[severity - 1];
    const data = image.data;
    const n = data.length / 3;
    // np.mean over (H, W): the reduction accumulates pixel by pixel for each channel.
    let m0 = 0;
    let m1 = 0;
    let m2 = 0;
    for (let i = 0; i < data.length; i += 3) {
      m0 += U8_TO_UNIT[data[i]];
      m1 += U8_TO_UNIT[data[i + 1]];
      m2 += U8_TO_UNIT[data[i + 2]];
    }
    m0 /= n;
    m1 /= n;
    m2 /= n;
    // uint8(clip((x - m) * c + m, 0, 1) * 255) depends only on the pixel value and the channel: tabulate it.
    const lut = new Uint8Array(768);
    for (let v = 0; v < 256; v++) {
      const x = U8_TO_UNIT[v];
      lut[v] = unitByte((x - m0) * c + m0);
      lut[256 + v] = unitByte((x - m1) * c + m1);
      lut[512 + v] = unitByte((x - m2) * c + m2);
    }
    const out = new Uint8Array(data.length);
    for (let i = 0; i < data.length; i += 3) {
      out[i] = lut[data[i]];
      out[i + 1] = lut[256 + data[i + 1]];
      out[i + 2] = lut[512 + data[i + 2]];
    }
    return withData(image, out);
  },
};

export const pixelate: Corruption = {
  name: 'pixelate',
  heldOut: false,
  random: false,
  apply(image: ImageU8, severity: Severity): ImageU8 {
    const c = PIXELATE[severity - 1];
    const { height: H, width: W } = image;
    const h = Math.max(1, Math.trunc(H * c));
    const w = Math.max(1, Math.trunc(W * c));
    const small = pilBoxResize(image.data, H, W, h, w);
    return withData(image, pilBoxResize(small, h, w, H, W));
  },
};

export const jpegCompression: Corruption = {
  name: 'jpeg_compression',
  heldOut: false,
  random: false,
  apply(image: ImageU8, severity: Severity): ImageU8 {
    return withData(image, jpegRoundTrip(image.data, image.height, image.width, JPEG_QUALITY[severity - 1]));
  },
};

export const elasticTransform: Corruption = {
  name: 'elastic_transform',
  heldOut: false,
  random: true,
  apply(image: ImageU8, severity: Severity, rng: Rng): ImageU8 {
    const { height: H, width: W, data } = image;
    const imsize = Math.min(H, W);
    const [fa, fs, fj] = ELASTIC_TRANSFORM[severity - 1];
    const alpha = imsize * fa;
    const sigma = imsize * fs;
    const jitter = imsize * fj;
    const f = Math.fround;

    const x = new Float32Array(data.length);
    for (let i = 0; i < data.length; i++) x[i] = U8_TO_UNIT_F32[data[i]];

    // The reference builds the points from (H, W) and hands them to OpenCV as (x, y).
    const c0 = Math.floor(H / 2);
    const c1 = Math.floor(W / 2);
    const s = Math.floor(imsize / 3);
    const pts1 = Float32Array.of(c0 + s, c1 + s, c0 + s, c1 - s, c0 - s, c1 - s);
    const pts2 = new Float32Array(6);
    for (let i = 0; i < 6; i++) pts2[i] = f(pts1[i] + f(rng.uniform(-jitter, jitter)));
    const warped = warpAffineReflect101(x, H, W, affineFromPoints(pts1, pts2));

    const n = H * W;
    const u = new Float64Array(n);
    const g = new Float64Array(n);
    const field = (): Float32Array => {
      for (let i = 0; i < n; i++) u[i] = rng.uniform(-1, 1);
      gaussianFilterInto(u, H, W, 1, sigma, g, 'reflect', 3);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = g[i] * alpha;
      return out;
    };
    const dx = field();
    const dy = field();
    return withData(image, remapReflectU8(warped, H, W, dy, dx));
  },
};
