// Over ~350 lines: the separable and 2-D image filters the corruptions share (Gaussian, box, median, motion kernels); each is a few lines and they share one buffer layout.
/**
 * Linear filters with the exact border and kernel conventions of the libraries the reference calls:
 * scipy.ndimage (via skimage.filters.gaussian) and OpenCV's filter2D.
 *
 * Arrays are interleaved HWC (`channels` values per pixel); every filter works per channel.
 */

import { TableCache } from './table-cache.js';

/** scipy.ndimage border modes used by the reference (names as scipy spells them). */
export type BorderMode = 'nearest' | 'reflect' | 'mirror';

/**
 * Maps an out-of-range index into [0, n) for a border mode.
 * - nearest: aaaa|abcd|dddd
 * - reflect (half-sample symmetric, scipy 'reflect', OpenCV BORDER_REFLECT): dcba|abcd|dcba
 * - mirror (whole-sample symmetric, scipy 'mirror', OpenCV BORDER_REFLECT_101): dcb|abcd|cba
 * Offsets larger than the line repeat the pattern periodically, as scipy's line extension does.
 */
export function borderIndex(i: number, n: number, mode: BorderMode): number {
  if (i >= 0 && i < n) return i;
  if (mode === 'nearest') return i < 0 ? 0 : n - 1;
  if (mode === 'reflect') {
    const p = 2 * n;
    let j = i % p;
    if (j < 0) j += p;
    return j < n ? j : p - 1 - j;
  }
  if (n === 1) return 0;
  const p = 2 * n - 2;
  let j = i % p;
  if (j < 0) j += p;
  return j < n ? j : p - j;
}

/**
 * scipy's `_gaussian_kernel1d(sigma, 0, radius)` with radius = int(truncate * sigma + 0.5):
 * exp(-0.5 / sigma^2 * x^2) normalised to sum 1. sigma <= 1e-15 gives the identity [1] (scipy skips the axis).
 */
export function scipyGaussianKernel(sigma: number, truncate = 4): Float64Array {
  if (!(sigma > 1e-15)) return Float64Array.of(1);
  const radius = Math.trunc(truncate * sigma + 0.5);
  const k = new Float64Array(2 * radius + 1);
  const c = -0.5 / (sigma * sigma);
  let sum = 0;
  for (let x = -radius; x <= radius; x++) {
    k[x + radius] = Math.exp(c * x * x);
    sum += k[x + radius];
  }
  for (let i = 0; i < k.length; i++) k[i] /= sum;
  return k;
}

/** Per-line index tables for a symmetric 1-D kernel of `radius` over a line of `n` samples. */
function extendedIndex(n: number, radius: number, mode: BorderMode): Int32Array {
  const idx = new Int32Array(n + 2 * radius);
  for (let i = -radius; i < n + radius; i++) idx[i + radius] = borderIndex(i, n, mode);
  return idx;
}

/**
 * scipy.ndimage.correlate1d with a symmetric odd kernel along axis 0 (rows) or 1 (columns) of an
 * HWC array. Uses scipy's symmetric accumulation order: w0*x0, then (x[-j] + x[+j]) * w[j] from the
 * outermost tap inwards. `out` may be a Float32Array to reproduce float32 intermediate arrays.
 */
export function correlate1dSymmetric(
  src: ArrayLike<number>,
  height: number,
  width: number,
  channels: number,
  axis: 0 | 1,
  kernel: Float64Array,
  mode: BorderMode,
  out: Float64Array | Float32Array,
): void {
  const r = (kernel.length - 1) >> 1;
  const w0 = kernel[r];
  const n = axis === 0 ? height : width;
  const idx = extendedIndex(n, r, mode);
  const rowStride = width * channels;
  const step = axis === 0 ? rowStride : channels; // distance between neighbours along the axis
  const lines = axis === 0 ? width * channels : height * channels;
  for (let line = 0; line < lines; line++) {
    // Base offset of this line and the stride along it.
    let base: number;
    if (axis === 0) base = line; // (x, c) pair: x*channels + c
    else base = Math.floor(line / channels) * rowStride + (line % channels);
    for (let i = 0; i < n; i++) {
      let acc = src[base + i * step] * w0;
      for (let j = r; j >= 1; j--) {
        acc += (src[base + idx[i - j + r] * step] + src[base + idx[i + j + r] * step]) * kernel[r - j];
      }
      out[base + i * step] = acc;
    }
  }
}

const kernelCache = new TableCache<Float64Array>(256);

/** scipyGaussianKernel, cached per (sigma, truncate). Callers must not modify it. */
function cachedScipyKernel(sigma: number, truncate: number): Float64Array {
  return kernelCache.get(`${sigma}:${truncate}`, () => scipyGaussianKernel(sigma, truncate));
}

const indexCache = new TableCache<Int32Array>(1024);

/** extendedIndex, cached per (n, radius, mode). Callers must not modify it. */
function cachedExtendedIndex(n: number, radius: number, mode: BorderMode): Int32Array {
  return indexCache.get(`${n}:${radius}:${mode}`, () => extendedIndex(n, radius, mode));
}

/**
 * correlate1dSymmetric along axis 0 for float64 arrays. Every output value gets the same sum,
 * src[i] * w0 then + (src[i - j] + src[i + j]) * kernel[r - j] for j = r..1, written as one expression
 * for radii 1-3 and accumulated in a register otherwise, row by row with the border rows looked up once
 * per output row.
 */
function correlateAxis0F64(
  src: Float64Array,
  height: number,
  width: number,
  channels: number,
  kernel: Float64Array,
  mode: BorderMode,
  out: Float64Array,
): void {
  const r = (kernel.length - 1) >> 1;
  const w0 = kernel[r];
  const rowStride = width * channels;
  const idx = cachedExtendedIndex(height, r, mode);
  const lo = new Int32Array(r + 1);
  const hi = new Int32Array(r + 1);
  const k0 = kernel[0];
  const k1 = r >= 2 ? kernel[1] : 0;
  const k2 = r >= 3 ? kernel[2] : 0;
  for (let y = 0; y < height; y++) {
    const o = y * rowStride;
    const end = o + rowStride;
    for (let j = 1; j <= r; j++) {
      lo[j] = idx[y - j + r] * rowStride - o;
      hi[j] = idx[y + j + r] * rowStride - o;
    }
    if (r === 1) {
      const l1 = lo[1];
      const h1 = hi[1];
      for (let k = o; k < end; k++) out[k] = src[k] * w0 + (src[k + l1] + src[k + h1]) * k0;
    } else if (r === 2) {
      const l1 = lo[1];
      const h1 = hi[1];
      const l2 = lo[2];
      const h2 = hi[2];
      for (let k = o; k < end; k++) out[k] = src[k] * w0 + (src[k + l2] + src[k + h2]) * k0 + (src[k + l1] + src[k + h1]) * k1;
    } else if (r === 3) {
      const l1 = lo[1];
      const h1 = hi[1];
      const l2 = lo[2];
      const h2 = hi[2];
      const l3 = lo[3];
      const h3 = hi[3];
      for (let k = o; k < end; k++) {
        out[k] = src[k] * w0 + (src[k + l3] + src[k + h3]) * k0 + (src[k + l2] + src[k + h2]) * k1 + (src[k + l1] + src[k + h1]) * k2;
      }
    } else {
      for (let k = o; k < end; k++) {
        let acc = src[k] * w0;
        for (let j = r; j >= 1; j--) acc += (src[k + lo[j]] + src[k + hi[j]]) * kernel[r - j];
        out[k] = acc;
      }
    }
  }
}

/**
 * correlate1dSymmetric along axis 1 for float64 arrays, with the same sums: the row's interior run
 * (columns r .. width - r - 1, whose taps need no border handling) as in correlateAxis0F64, the border
 * columns through the index table.
 */
function correlateAxis1F64(
  src: Float64Array,
  height: number,
  width: number,
  channels: number,
  kernel: Float64Array,
  mode: BorderMode,
  out: Float64Array,
): void {
  const r = (kernel.length - 1) >> 1;
  const w0 = kernel[r];
  const C = channels;
  const rowStride = width * C;
  const idx = cachedExtendedIndex(width, r, mode);
  const inLo = Math.min(r, width);
  const inHi = Math.max(inLo, width - r);
  const k0 = kernel[0];
  const k1 = r >= 2 ? kernel[1] : 0;
  const k2 = r >= 3 ? kernel[2] : 0;
  const d1 = C;
  const d2 = 2 * C;
  const d3 = 3 * C;
  for (let y = 0; y < height; y++) {
    const row = y * rowStride;
    const a = row + inLo * C;
    const b = row + inHi * C;
    if (r === 1) {
      for (let k = a; k < b; k++) out[k] = src[k] * w0 + (src[k - d1] + src[k + d1]) * k0;
    } else if (r === 2) {
      for (let k = a; k < b; k++) out[k] = src[k] * w0 + (src[k - d2] + src[k + d2]) * k0 + (src[k - d1] + src[k + d1]) * k1;
    } else if (r === 3) {
      for (let k = a; k < b; k++) {
        out[k] = src[k] * w0 + (src[k - d3] + src[k + d3]) * k0 + (src[k - d2] + src[k + d2]) * k1 + (src[k - d1] + src[k + d1]) * k2;
      }
    } else {
      for (let k = a; k < b; k++) {
        let acc = src[k] * w0;
        for (let j = r; j >= 1; j--) acc += (src[k - j * C] + src[k + j * C]) * kernel[r - j];
        out[k] = acc;
      }
    }
    // Border columns.
    for (let x = 0; x < width; x++) {
      if (x === inLo) x = inHi;
      if (x >= width) break;
      const o = row + x * C;
      for (let c = 0; c < C; c++) {
        let acc = src[o + c] * w0;
        for (let j = r; j >= 1; j--) acc += (src[row + idx[x - j + r] * C + c] + src[row + idx[x + j + r] * C + c]) * kernel[r - j];
        out[o + c] = acc;
      }
    }
  }
}

/**
 * skimage.filters.gaussian(image, sigma, mode, truncate) on an HWC array, not filtering across
 * channels (multichannel=True), i.e. scipy.ndimage.gaussian_filter with sigma (s, s, 0):
 * rows first, then columns. `float32` reproduces a float32 input's intermediate rounding.
 */
export function gaussianFilter(
  src: ArrayLike<number>,
  height: number,
  width: number,
  channels: number,
  sigma: number,
  mode: BorderMode = 'nearest',
  truncate = 4,
  float32 = false,
): Float64Array | Float32Array {
  const Ctor = float32 ? Float32Array : Float64Array;
  if (!(sigma > 1e-15)) return Ctor.from(src as ArrayLike<number>);
  const kernel = cachedScipyKernel(sigma, truncate);
  if (!float32 && src instanceof Float64Array) {
    const tmp64 = new Float64Array(height * width * channels);
    correlateAxis0F64(src, height, width, channels, kernel, mode, tmp64);
    const out64 = new Float64Array(height * width * channels);
    correlateAxis1F64(tmp64, height, width, channels, kernel, mode, out64);
    return out64;
  }
  const tmp = new Ctor(height * width * channels);
  correlate1dSymmetric(src, height, width, channels, 0, kernel, mode, tmp);
  const out = new Ctor(height * width * channels);
  correlate1dSymmetric(tmp, height, width, channels, 1, kernel, mode, out);
  return out;
}

let scratchTmp64 = new Float64Array(0);

/**
 * gaussianFilter(src, ...) (float64) written into `out` (not aliasing `src`): the same values, without
 * allocating the result or the intermediate array.
 */
export function gaussianFilterInto(
  src: Float64Array,
  height: number,
  width: number,
  channels: number,
  sigma: number,
  out: Float64Array,
  mode: BorderMode = 'nearest',
  truncate = 4,
): void {
  const n = height * width * channels;
  if (!(sigma > 1e-15)) {
    out.set(src.subarray(0, n));
    return;
  }
  if (scratchTmp64.length < n) scratchTmp64 = new Float64Array(n);
  const tmp = n === scratchTmp64.length ? scratchTmp64 : scratchTmp64.subarray(0, n);
  const kernel = cachedScipyKernel(sigma, truncate);
  correlateAxis0F64(src, height, width, channels, kernel, mode, tmp);
  correlateAxis1F64(tmp, height, width, channels, kernel, mode, out);
}

/** Scratch buffers of gaussianFilterU8Into (corruptions run synchronously, so one set is enough). */
let scratchUnit = new Float64Array(0);
let scratchTmp = new Float64Array(0);

/**
 * gaussianFilter(toUnitFloat(data), height, width, channels, sigma, mode, truncate) (float64) written
 * into `out`: the same values, without allocating the intermediate arrays.
 */
export function gaussianFilterU8Into(
  data: Uint8Array,
  height: number,
  width: number,
  channels: number,
  sigma: number,
  out: Float64Array,
  mode: BorderMode = 'nearest',
  truncate = 4,
): void {
  const n = height * width * channels;
  if (scratchUnit.length < n) {
    scratchUnit = new Float64Array(n);
    scratchTmp = new Float64Array(n);
  }
  const unit = n === scratchUnit.length ? scratchUnit : scratchUnit.subarray(0, n);
  const tmp = n === scratchTmp.length ? scratchTmp : scratchTmp.subarray(0, n);
  if (!(sigma > 1e-15)) {
    for (let i = 0; i < n; i++) out[i] = U8_TO_UNIT[data[i]];
    return;
  }
  for (let i = 0; i < n; i++) unit[i] = U8_TO_UNIT[data[i]];
  const kernel = cachedScipyKernel(sigma, truncate);
  correlateAxis0F64(unit, height, width, channels, kernel, mode, tmp);
  correlateAxis1F64(tmp, height, width, channels, kernel, mode, out);
}

/** A dense 2-D kernel with its anchor (the output pixel's position inside the kernel). */
export interface Kernel2D {
  data: Float64Array;
  rows: number;
  cols: number;
  anchorRow: number;
  anchorCol: number;
}

/** Drops all-zero border rows and columns (exact zeros contribute nothing) and moves the anchor along. */
export function trimKernel(k: Kernel2D): Kernel2D {
  let top = 0;
  let bottom = k.rows - 1;
  let left = 0;
  let right = k.cols - 1;
  const rowZero = (r: number): boolean => {
    for (let c = 0; c < k.cols; c++) if (k.data[r * k.cols + c] !== 0) return false;
    return true;
  };
  const colZero = (c: number): boolean => {
    for (let r = 0; r < k.rows; r++) if (k.data[r * k.cols + c] !== 0) return false;
    return true;
  };
  while (top < bottom && rowZero(top)) top++;
  while (bottom > top && rowZero(bottom)) bottom--;
  while (left < right && colZero(left)) left++;
  while (right > left && colZero(right)) right--;
  const rows = bottom - top + 1;
  const cols = right - left + 1;
  const data = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) data[r * cols + c] = k.data[(r + top) * k.cols + c + left];
  return { data, rows, cols, anchorRow: k.anchorRow - top, anchorCol: k.anchorCol - left };
}

const padMaps = new TableCache<Int32Array>(256);

/**
 * For each position of the BORDER_REFLECT_101-padded image (rows + kRows - 1) x (cols + kCols - 1),
 * the HWC offset of its source pixel (cached per shape and kernel geometry).
 */
function reflect101PadMap(height: number, width: number, k: Kernel2D): Int32Array {
  const key = `${height}:${width}:${k.rows}:${k.cols}:${k.anchorRow}:${k.anchorCol}`;
  return padMaps.get(key, () => {
    const padW = width + k.cols - 1;
    const padH = height + k.rows - 1;
    const map = new Int32Array(padH * padW);
    for (let py = 0; py < padH; py++) {
      const sy = borderIndex(py - k.anchorRow, height, 'mirror');
      for (let px = 0; px < padW; px++) map[py * padW + px] = (sy * width + borderIndex(px - k.anchorCol, width, 'mirror')) * 3;
    }
    return map;
  });
}

/** v / 255 for v = 0..255, exactly as `toUnitFloat` computes it. */
const U8_TO_UNIT = (() => {
  const t = new Float64Array(256);
  for (let v = 0; v < 256; v++) t[v] = v / 255;
  return t;
})();

/**
 * cv2.filter2D(src, -1, kernel) per channel of an RGB uint8 image taken as x / 255 (float64):
 * correlation (not convolution) with BORDER_REFLECT_101, each output the sum from 0 of kernel * pixel
 * over the kernel row by row, column by column; returned through unitToU8 (clip, * 255, truncate).
 * The source is padded once (positions from a cached index map, values from a table of v / 255) so the
 * inner loop has no border logic, and the three channels of a pixel are summed together.
 */
export function filter2DReflect101RgbU8(rgb: Uint8Array, height: number, width: number, k: Kernel2D): Uint8Array {
  const padW = width + k.cols - 1;
  const padH = height + k.rows - 1;
  const rowStride = padW * 3;
  const map = reflect101PadMap(height, width, k);
  const pad = new Float64Array(padH * rowStride);
  for (let p = 0, q = 0; p < map.length; p++, q += 3) {
    const s = map[p];
    pad[q] = U8_TO_UNIT[rgb[s]];
    pad[q + 1] = U8_TO_UNIT[rgb[s + 1]];
    pad[q + 2] = U8_TO_UNIT[rgb[s + 2]];
  }
  const out = new Uint8Array(height * width * 3);
  const kd = k.data;
  const kr = k.rows;
  const kc = k.cols;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      let t = 0;
      for (let r = 0; r < kr; r++) {
        let b = (y + r) * rowStride + x * 3;
        for (let j = 0; j < kc; j++, t++, b += 3) {
          const w = kd[t];
          a0 += w * pad[b];
          a1 += w * pad[b + 1];
          a2 += w * pad[b + 2];
        }
      }
      const o = (y * width + x) * 3;
      out[o] = a0 > 0 ? (a0 < 1 ? (a0 * 255) | 0 : 255) : 0;
      out[o + 1] = a1 > 0 ? (a1 < 1 ? (a1 * 255) | 0 : 255) : 0;
      out[o + 2] = a2 > 0 ? (a2 < 1 ? (a2 * 255) | 0 : 255) : 0;
    }
  }
  return out;
}

/**
 * OpenCV's getGaussianKernel(n, sigma) for n <= 7 and sigma > 0 (or the fixed small table for
 * sigma <= 0), rounded to float32 as OpenCV stores it for float images.
 */
export function cvGaussianKernel(n: number, sigma: number): Float64Array {
  const small: Record<number, number[]> = { 1: [1], 3: [0.25, 0.5, 0.25], 5: [0.0625, 0.25, 0.375, 0.25, 0.0625] };
  if (sigma <= 0 && small[n]) return Float64Array.from(small[n]);
  const s = sigma > 0 ? sigma : ((n - 1) * 0.5 - 1) * 0.3 + 0.8;
  const scale2X = -0.5 / (s * s);
  const k = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const x = i - (n - 1) * 0.5;
    k[i] = Math.exp(scale2X * x * x);
    sum += k[i];
  }
  for (let i = 0; i < n; i++) k[i] = Math.fround(k[i] / sum);
  return k;
}
