/**
 * Linear filters with the exact border and kernel conventions of the libraries the reference calls:
 * scipy.ndimage (via skimage.filters.gaussian) and OpenCV's filter2D.
 *
 * Arrays are interleaved HWC (`channels` values per pixel); every filter works per channel.
 */

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
  const kernel = scipyGaussianKernel(sigma, truncate);
  const tmp = new Ctor(height * width * channels);
  correlate1dSymmetric(src, height, width, channels, 0, kernel, mode, tmp);
  const out = new Ctor(height * width * channels);
  correlate1dSymmetric(tmp, height, width, channels, 1, kernel, mode, out);
  return out;
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

/**
 * cv2.filter2D(src, -1, kernel) per channel: correlation (not convolution) with BORDER_REFLECT_101,
 * computed in float64. The source is padded once so the inner loop has no border logic.
 */
export function filter2DReflect101(src: ArrayLike<number>, height: number, width: number, channels: number, k: Kernel2D): Float64Array {
  const padW = width + k.cols - 1;
  const padH = height + k.rows - 1;
  const rowStride = padW * channels;
  const pad = new Float64Array(padH * rowStride);
  for (let py = 0; py < padH; py++) {
    const sy = borderIndex(py - k.anchorRow, height, 'mirror');
    for (let px = 0; px < padW; px++) {
      const sx = borderIndex(px - k.anchorCol, width, 'mirror');
      for (let c = 0; c < channels; c++) pad[py * rowStride + px * channels + c] = src[(sy * width + sx) * channels + c];
    }
  }
  const out = new Float64Array(height * width * channels);
  const kd = k.data;
  const kc = k.cols;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * channels;
      for (let c = 0; c < channels; c++) {
        let acc = 0;
        for (let r = 0; r < k.rows; r++) {
          const base = (y + r) * rowStride + x * channels + c;
          const kBase = r * kc;
          for (let j = 0; j < kc; j++) acc += kd[kBase + j] * pad[base + j * channels];
        }
        out[o + c] = acc;
      }
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
