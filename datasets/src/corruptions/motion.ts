/**
 * ImageMagick 6 `MotionBlurImage(radius, sigma, angle)` (Q16, non-HDRI, as wand calls it in the
 * reference's motion_blur and snow), on 8-bit data:
 * - kernel width = 2 * ceil(radius) + 1; one-sided Gaussian weights exp(-i^2 / (2 sigma^2)), i = 0..width-1,
 *   normalised to sum 1 (so the blur trails behind each pixel, it is not centred);
 * - tap i reads the pixel at (x + ceil(i * cos(a) - 0.5), y + ceil(i * sin(a) - 0.5)) with edge clamping
 *   (ImageMagick's default "edge" virtual pixels);
 * - samples are 16-bit quanta (8-bit value * 257); the sum is clamped and rounded to a quantum, then the
 *   PNG writer truncates it back to 8 bits (floor(q / 257)), as the reference's PNG round trip does.
 */

const SQ2PI = 2.50662827463100024161235523934010416269302368164062;
const EPSILON = 1.0e-12; // MagickEpsilon (Q16 build)

export interface MotionKernel {
  weights: Float64Array;
  dx: Int32Array;
  dy: Int32Array;
}

/** GetMotionBlurKernel + the tap offsets of MotionBlurImage. */
export function motionKernel(radius: number, sigma: number, angleDeg: number): MotionKernel {
  // GetOptimalKernelWidth1D for a positive radius (the reference always passes one).
  if (!(radius > EPSILON)) throw new RangeError(`motionKernel: radius must be positive, got ${radius}`);
  const width = 2 * Math.ceil(radius) + 1;
  const s = Math.abs(sigma) < EPSILON ? EPSILON : sigma;
  const weights = new Float64Array(width);
  let normalize = 0;
  for (let i = 0; i < width; i++) {
    weights[i] = Math.exp(-(i * i) / (2 * s * s)) / (SQ2PI * s);
    normalize += weights[i];
  }
  for (let i = 0; i < width; i++) weights[i] /= normalize;
  const rad = (Math.PI * angleDeg) / 180;
  const px = width * Math.sin(rad);
  const py = width * Math.cos(rad);
  const hyp = Math.hypot(px, py);
  const dx = new Int32Array(width);
  const dy = new Int32Array(width);
  for (let i = 0; i < width; i++) {
    dx[i] = Math.ceil((i * py) / hyp - 0.5);
    dy[i] = Math.ceil((i * px) / hyp - 0.5);
  }
  return { weights, dx, dy };
}

/**
 * Motion-blurs an interleaved uint8 image with `channels` channels (3 for RGB, 1 for grey).
 *
 * Per output value: acc = sum over taps i (in order, from 0) of weights[i] * (value * 257), the value read
 * at the edge-clamped tap position, in float64; then clamp and round to a quantum and truncate to 8 bits.
 * Three loop orders give these same sums: RGB pixels accumulate their three channels together, tap by
 * tap (fixed offsets for the pixels whose taps all lie inside the image, per-axis clamped index tables
 * for the others); a grey image that is mostly zero (snow's layer) scatters its non-zero pixels (see
 * motionBlurSparseGrey); other images go tap by tap over whole rows (see motionBlurRows).
 */
export function motionBlurU8(src: Uint8Array, height: number, width: number, channels: number, k: MotionKernel): Uint8Array {
  if (channels === 1) {
    let nonzero = 0;
    for (let j = 0; j < src.length; j++) if (src[j] !== 0) nonzero++;
    if (nonzero * 4 < src.length) return motionBlurSparseGrey(src, height, width, k, nonzero);
  }
  if (channels !== 3) return motionBlurRows(src, height, width, channels, k);
  const out = new Uint8Array(src.length);
  const n = k.weights.length;
  const { weights, dx, dy } = k;
  const rowStride = width * 3;
  // Clamped source offsets per tap: column part xo[i * width + x], row part yo[i * height + y].
  const xo = new Int32Array(n * width);
  const yo = new Int32Array(n * height);
  const off = new Int32Array(n);
  let minDx = 0;
  let maxDx = 0;
  let minDy = 0;
  let maxDy = 0;
  for (let i = 0; i < n; i++) {
    for (let x = 0; x < width; x++) {
      const sx = x + dx[i];
      xo[i * width + x] = (sx < 0 ? 0 : sx >= width ? width - 1 : sx) * 3;
    }
    for (let y = 0; y < height; y++) {
      const sy = y + dy[i];
      yo[i * height + y] = (sy < 0 ? 0 : sy >= height ? height - 1 : sy) * rowStride;
    }
    off[i] = dy[i] * rowStride + dx[i] * 3;
    if (dx[i] < minDx) minDx = dx[i];
    if (dx[i] > maxDx) maxDx = dx[i];
    if (dy[i] < minDy) minDy = dy[i];
    if (dy[i] > maxDy) maxDy = dy[i];
  }
  // Interior: every tap in bounds.
  const x0 = -minDx;
  const x1 = width - 1 - maxDx;
  const y0 = -minDy;
  const y1 = height - 1 - maxDy;
  for (let y = 0; y < height; y++) {
    const inY = y >= y0 && y <= y1;
    for (let x = 0; x < width; x++) {
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      if (inY && x >= x0 && x <= x1) {
        const base = y * rowStride + x * 3;
        for (let i = 0; i < n; i++) {
          const p = base + off[i];
          const wgt = weights[i];
          a0 += wgt * (src[p] * 257);
          a1 += wgt * (src[p + 1] * 257);
          a2 += wgt * (src[p + 2] * 257);
        }
      } else {
        for (let i = 0; i < n; i++) {
          const p = yo[i * height + y] + xo[i * width + x];
          const wgt = weights[i];
          a0 += wgt * (src[p] * 257);
          a1 += wgt * (src[p + 1] * 257);
          a2 += wgt * (src[p + 2] * 257);
        }
      }
      const o = (y * width + x) * 3;
      out[o] = toChar(a0);
      out[o + 1] = toChar(a1);
      out[o + 2] = toChar(a2);
    }
  }
  return out;
}

/**
 * motionBlurU8 for any channel count (used for snow's grey layer), tap by tap over whole rows: for one
 * tap, a row of outputs reads a shifted run of one source row, with the first or last pixel repeated
 * where the tap falls off the left or right edge. Each output adds its taps in order 0..n-1 into a
 * float64 accumulator starting at 0, as the per-pixel loop does.
 */
function motionBlurRows(src: Uint8Array, height: number, width: number, channels: number, k: MotionKernel): Uint8Array {
  const n = k.weights.length;
  const { weights, dx, dy } = k;
  const C = channels;
  const rowStride = width * C;
  const acc = new Float64Array(src.length);
  for (let i = 0; i < n; i++) {
    const w = weights[i];
    const dxi = dx[i];
    const dyi = dy[i];
    // Output columns [xlo, xhi) read source column x + dxi inside the image.
    const xlo = dxi < 0 ? Math.min(width, -dxi) : 0;
    const xhi = dxi > 0 ? Math.max(0, width - dxi) : width;
    for (let y = 0; y < height; y++) {
      let sy = y + dyi;
      sy = sy < 0 ? 0 : sy >= height ? height - 1 : sy;
      const srow = sy * rowStride;
      const orow = y * rowStride;
      // Left edge: source column 0.
      for (let x = 0; x < xlo; x++) {
        const o = orow + x * C;
        for (let c = 0; c < C; c++) acc[o + c] += w * (src[srow + c] * 257);
      }
      // Inside: a shifted run.
      const shift = srow - orow + dxi * C;
      for (let o = orow + xlo * C, end = orow + xhi * C; o < end; o++) acc[o] += w * (src[o + shift] * 257);
      // Right edge: source column width - 1.
      const last = srow + (width - 1) * C;
      for (let x = Math.max(xhi, xlo); x < width; x++) {
        const o = orow + x * C;
        for (let c = 0; c < C; c++) acc[o + c] += w * (src[last + c] * 257);
      }
    }
  }
  const out = new Uint8Array(src.length);
  for (let j = 0; j < out.length; j++) out[j] = toChar(acc[j]);
  return out;
}

/**
 * motionBlurU8 for a mostly-zero grey image (snow's layer), by scattering: tap by tap, each non-zero
 * source pixel adds weights[i] * (value * 257) to the outputs whose tap i reads it (one output inside the
 * image; a run of outputs when the pixel is on the edge and the tap is clamped onto it). Every output
 * still receives its taps in order 0..n-1, one source pixel per tap, into a float64 accumulator starting
 * at 0; the skipped zero pixels would add exactly +0. So the sums are those of the gather.
 */
function motionBlurSparseGrey(src: Uint8Array, height: number, width: number, k: MotionKernel, nonzero: number): Uint8Array {
  const n = k.weights.length;
  const { weights, dx, dy } = k;
  const lastX = width - 1;
  const lastY = height - 1;
  // Non-zero pixels off the image edge (one reader per tap) first, then those on the edge.
  const px = new Int32Array(nonzero);
  const py = new Int32Array(nonzero);
  const pv = new Float64Array(nonzero);
  let inner = 0;
  let edge = nonzero;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = src[y * width + x];
      if (v === 0) continue;
      const m = x > 0 && x < lastX && y > 0 && y < lastY ? inner++ : --edge;
      px[m] = x;
      py[m] = y;
      pv[m] = v * 257;
    }
  }
  const acc = new Float64Array(src.length);
  for (let i = 0; i < n; i++) {
    const w = weights[i];
    const dxi = dx[i];
    const dyi = dy[i];
    for (let m = 0; m < inner; m++) {
      const x = px[m] - dxi;
      const y = py[m] - dyi;
      if (x >= 0 && x <= lastX && y >= 0 && y <= lastY) acc[y * width + x] += w * pv[m];
    }
    for (let m = edge; m < nonzero; m++) {
      const sx = px[m];
      const sy = py[m];
      // Outputs x with clamp(x + dxi) = sx: x = sx - dxi, extended to all x left (right) of it when sx is
      // the first (last) column; likewise for rows.
      let x0 = sx - dxi;
      let x1 = x0;
      if (sx === 0) x0 = 0;
      if (sx === lastX) x1 = lastX;
      if (x0 < 0) x0 = 0;
      if (x1 > lastX) x1 = lastX;
      let y0 = sy - dyi;
      let y1 = y0;
      if (sy === 0) y0 = 0;
      if (sy === lastY) y1 = lastY;
      if (y0 < 0) y0 = 0;
      if (y1 > lastY) y1 = lastY;
      const c = w * pv[m];
      for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) acc[y * width + x] += c;
    }
  }
  const out = new Uint8Array(src.length);
  for (let j = 0; j < out.length; j++) out[j] = toChar(acc[j]);
  return out;
}

/**
 * ClampToQuantum (clamp to [0, 65535], round half up) then the PNG writer's scaling to 8 bits by
 * truncation (q * 255 / 65535 = floor(q / 257), measured against wand). floor(q / 257) is computed as
 * (q * 65281) >>> 24, equal for every q in [0, 65535] (checked exhaustively).
 */
function toChar(v: number): number {
  const q = v <= 0 ? 0 : v >= 65535 ? 65535 : (v + 0.5) | 0;
  return (q * 65281) >>> 24;
}
