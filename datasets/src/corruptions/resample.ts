/**
 * Image resizers with the exact integer arithmetic of the libraries the reference calls:
 * - PIL `Image.resize(size, Image.BOX)` (pixelate): per-output box weights normalised in double,
 *   converted to 22-bit fixed point, horizontal pass then vertical pass, each rounded to uint8.
 * - OpenCV `cv2.resize(..., fx, fy, INTER_LINEAR)` on uint8 (frost pictures): half-pixel-centre
 *   bilinear with 11-bit fixed-point weights and edge clamping.
 */

import { TableCache } from './table-cache.js';
import { roundHalfEven } from './image.js';

const PRECISION_BITS = 32 - 8 - 2;

interface PilCoeffs {
  bounds: Int32Array; // per output: [xmin, count]
  kk: Int32Array; // fixed-point weights, ksize per output
  ksize: number;
}

/** PIL's precompute_coeffs + normalize_coeffs_8bpc for the BOX filter (support 0.5). */
function pilBoxCoeffs(inSize: number, outSize: number): PilCoeffs {
  const scale = inSize / outSize;
  const filterscale = scale < 1 ? 1 : scale;
  const support = 0.5 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  const w = new Float64Array(ksize);
  const ss = 1 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const t = (x + xmin - center + 0.5) * ss;
      w[x] = t > -0.5 && t <= 0.5 ? 1 : 0;
      ww += w[x];
    }
    for (let x = 0; x < xmax; x++) {
      const k = ww !== 0 ? w[x] / ww : w[x];
      kk[xx * ksize + x] = Math.trunc(k * (1 << PRECISION_BITS) + (k < 0 ? -0.5 : 0.5));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { bounds, kk, ksize };
}

function clip8(v: number): number {
  if (v >= 1 << PRECISION_BITS << 8) return 255;
  if (v <= 0) return 0;
  return v >> PRECISION_BITS;
}

const coeffCache = new TableCache<PilCoeffs>(256);

/** pilBoxCoeffs, cached per (inSize, outSize). Callers must not modify it. */
function cachedPilBoxCoeffs(inSize: number, outSize: number): PilCoeffs {
  return coeffCache.get(`${inSize}:${outSize}`, () => pilBoxCoeffs(inSize, outSize));
}

/**
 * PIL `resize((outW, outH), Image.BOX)` of an HWC uint8 RGB image. Integer accumulation (exact; it stays
 * below 2^31: 255 * 2^22 * (sum of weights = 1) + rounding), the three channels of a pixel together.
 */
export function pilBoxResize(src: Uint8Array, h: number, w: number, outH: number, outW: number): Uint8Array {
  let cur = src;
  let curW = w;
  const half = 1 << (PRECISION_BITS - 1);
  if (outW !== w) {
    const { bounds, kk, ksize } = cachedPilBoxCoeffs(w, outW);
    const tmp = new Uint8Array(h * outW * 3);
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < outW; xx++) {
        const xmin = bounds[xx * 2];
        const xmax = bounds[xx * 2 + 1];
        let s0 = half;
        let s1 = half;
        let s2 = half;
        let p = (y * curW + xmin) * 3;
        for (let x = 0, t = xx * ksize; x < xmax; x++, t++, p += 3) {
          const k = kk[t];
          s0 += cur[p] * k;
          s1 += cur[p + 1] * k;
          s2 += cur[p + 2] * k;
        }
        const o = (y * outW + xx) * 3;
        tmp[o] = clip8(s0);
        tmp[o + 1] = clip8(s1);
        tmp[o + 2] = clip8(s2);
      }
    }
    cur = tmp;
    curW = outW;
  }
  if (outH !== h) {
    const { bounds, kk, ksize } = cachedPilBoxCoeffs(h, outH);
    const tmp = new Uint8Array(outH * curW * 3);
    const rowStride = curW * 3;
    for (let yy = 0; yy < outH; yy++) {
      const ymin = bounds[yy * 2];
      const ymax = bounds[yy * 2 + 1];
      for (let x = 0; x < curW; x++) {
        let s0 = half;
        let s1 = half;
        let s2 = half;
        let p = ymin * rowStride + x * 3;
        for (let y = 0, t = yy * ksize; y < ymax; y++, t++, p += rowStride) {
          const k = kk[t];
          s0 += cur[p] * k;
          s1 += cur[p + 1] * k;
          s2 += cur[p + 2] * k;
        }
        const o = (yy * curW + x) * 3;
        tmp[o] = clip8(s0);
        tmp[o + 1] = clip8(s1);
        tmp[o + 2] = clip8(s2);
      }
    }
    cur = tmp;
  }
  return cur === src ? src.slice() : cur;
}

const RESIZE_BITS = 11;
const RESIZE_SCALE = 1 << RESIZE_BITS;

interface LinearAxis {
  i0: Int32Array;
  i1: Int32Array;
  c0: Int32Array;
  c1: Int32Array;
}

/** OpenCV's per-axis source index and fixed-point weights for INTER_LINEAR. */
function cvLinearAxis(inSize: number, outSize: number, scale: number): LinearAxis {
  const a: LinearAxis = { i0: new Int32Array(outSize), i1: new Int32Array(outSize), c0: new Int32Array(outSize), c1: new Int32Array(outSize) };
  for (let d = 0; d < outSize; d++) {
    let f = (d + 0.5) * scale - 0.5;
    let s = Math.floor(f);
    f -= s;
    if (s < 0) {
      s = 0;
      f = 0;
    }
    if (s >= inSize - 1) {
      s = inSize - 1;
      f = 0;
    }
    const c0 = Math.round((1 - f) * RESIZE_SCALE);
    a.i0[d] = s;
    a.i1[d] = Math.min(s + 1, inSize - 1);
    a.c0[d] = c0;
    a.c1[d] = RESIZE_SCALE - c0;
  }
  return a;
}

/**
 * `cv2.resize(img, (0, 0), fx=f, fy=f)` (INTER_LINEAR) of an HWC uint8 image with `channels` channels.
 * Output size is round-half-even(size * f); at f = 0.2 every output pixel is exactly input (5i+2, 5j+2).
 */
export function cvResizeLinear(src: Uint8Array, h: number, w: number, channels: number, f: number): { data: Uint8Array; height: number; width: number } {
  const outH = Math.max(1, roundHalfEven(h * f));
  const outW = Math.max(1, roundHalfEven(w * f));
  const ay = cvLinearAxis(h, outH, 1 / f);
  const ax = cvLinearAxis(w, outW, 1 / f);
  const out = new Uint8Array(outH * outW * channels);
  const half = 1 << (2 * RESIZE_BITS - 1);
  for (let y = 0; y < outH; y++) {
    const r0 = ay.i0[y] * w * channels;
    const r1 = ay.i1[y] * w * channels;
    const cy0 = ay.c0[y];
    const cy1 = ay.c1[y];
    for (let x = 0; x < outW; x++) {
      const x0 = ax.i0[x] * channels;
      const x1 = ax.i1[x] * channels;
      const cx0 = ax.c0[x];
      const cx1 = ax.c1[x];
      for (let c = 0; c < channels; c++) {
        const top = src[r0 + x0 + c] * cx0 + src[r0 + x1 + c] * cx1;
        const bottom = src[r1 + x0 + c] * cx0 + src[r1 + x1 + c] * cx1;
        const v = (top * cy0 + bottom * cy1 + half) / (1 << (2 * RESIZE_BITS));
        out[(y * outW + x) * channels + c] = Math.min(255, Math.floor(v));
      }
    }
  }
  return { data: out, height: outH, width: outW };
}
