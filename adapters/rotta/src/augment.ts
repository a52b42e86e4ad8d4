import type { Rng } from '@edgetta/core';

/**
 * The augmentation RoTTA applies to its memory batch before the student forward (CoTTA's
 * `get_tta_transforms`, tta-spec 4.4), on a CHW batch [m, c, h, w] with pixels in [0, 1]. Geometry
 * and colour parameters are drawn once and shared by the whole batch (the peers transform the
 * stacked tensor); the noise is per pixel.
 *
 *  1. clip to [0, 1];
 *  2. colour jitter in a random order of brightness [0.6, 1.4], contrast [0.7, 1.3], saturation
 *     [0.5, 1.5], hue [-0.06, 0.06], gamma [0.7, 1.3], each clamped to [0, 1] (torchvision's float
 *     semantics; saturation and hue need RGB and are skipped when c != 3, contrast then blends
 *     with the mean over all channels);
 *  3. edge padding by floor(h/2) rows and floor(w/2) columns on each side;
 *  4. affine about the centre: rotation in [-15, 15] degrees, translation by round(U(-1/16, 1/16) *
 *     padded size) pixels per axis, scale [0.9, 1.1]; bilinear, 0 outside the padded image;
 *  5. Gaussian blur, kernel 5, sigma in [0.001, 0.5], reflect padding;
 *  6. centre crop back to h x w;  7. horizontal flip with p = 0.5;
 *  8. additive N(0, 0.005^2) per value;  9. clip to [0, 1].
 *
 * RNG consumption order (the reproducibility contract): rng.permutation(5) (jitter order), then
 * the five jitter factors in the fixed order brightness, contrast, saturation, hue, gamma (all
 * five are drawn even when some are skipped), then angle, translation x, translation y, scale,
 * blur sigma, the flip draw, and finally one rng.normal() per output value in CHW order, image by
 * image.
 *
 * Implementation (the arithmetic is that of the plain pipeline above, value for value: every
 * intermediate image is rounded to float32 where the plain one stores it, sums run in the same
 * order, and zero-weight bilinear taps are skipped as before): geometry is shared, so the affine
 * taps and weights, the blur's reflected indices and the crop/flip are tabulated once per batch.
 * Only the pixels the crop can see are computed: the blur reads 2 pixels around the crop, so the
 * affine runs on the crop plus a 2-pixel border (instead of the whole padded image) and samples
 * the unpadded image with clamped indices (edge padding without materialising it).
 */
export function augmentBatch(images: Float32Array, dims: readonly [number, number, number, number], rng: Rng): Float32Array {
  const [m, c, h, w] = dims;
  const per = c * h * w;
  if (images.length !== m * per) throw new Error(`augmentBatch: ${images.length} values for dims [${dims.join(', ')}]`);
  const order = rng.permutation(5);
  const factors = [rng.uniform(0.6, 1.4), rng.uniform(0.7, 1.3), rng.uniform(0.5, 1.5), rng.uniform(-0.06, 0.06), rng.uniform(0.7, 1.3)];
  const angle = (rng.uniform(-15, 15) * Math.PI) / 180;
  const ph = Math.floor(h / 2);
  const pw = Math.floor(w / 2);
  const H = h + 2 * ph;
  const W = w + 2 * pw;
  const tx = Math.round(rng.uniform(-W / 16, W / 16));
  const ty = Math.round(rng.uniform(-H / 16, H / 16));
  const scale = rng.uniform(0.9, 1.1);
  const sigma = rng.uniform(0.001, 0.5);
  const flip = rng.random() < 0.5;

  const plan = planGeometry(h, w, ph, pw, H, W, angle, tx, ty, scale, flip);
  const kernel = gaussianKernel(sigma);
  const plane = h * w;
  const out = new Float32Array(m * per);
  const img = new Float32Array(per);
  const warped = new Float32Array(plan.rows * plan.cols);
  const tmp = new Float32Array(plan.rows * w);
  for (let n = 0; n < m; n++) {
    const base = n * per;
    for (let i = 0; i < per; i++) {
      const v = images[base + i];
      img[i] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
    for (let j = 0; j < 5; j++) jitter(img, c, plane, order[j], factors[order[j]]);
    for (let k = 0; k < c; k++) {
      warpPlane(img, k * plane, plan.tapStart, plan.tapIndex, plan.tapWeight, warped);
      blurPlane(warped, plan.rows, plan.cols, w, h, plan.colIndex, plan.rowIndex, kernel, tmp, out, base + k * plane, plan.dstCol);
    }
  }
  for (let i = 0; i < out.length; i++) {
    const v = out[i] + rng.normal(0, 0.005);
    out[i] = v < 0 ? 0 : v > 1 ? 1 : v;
  }
  return out;
}

function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

/** Reflect padding index (torchvision's gaussian_blur), clamped so images narrower than the kernel stay in range. */
function reflect(i: number, n: number): number {
  return Math.min(n - 1, Math.max(0, i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i));
}

/** The batch's shared geometry as index and weight tables (see `augmentBatch`). */
interface GeometryPlan {
  /** Rows and columns of the computed window of the warped (padded-size) image. */
  rows: number;
  cols: number;
  /** Bilinear taps of window pixel p: tapIndex/tapWeight[tapStart[p] .. tapStart[p + 1]), nonzero weights only, in the order 00, 01, 10, 11; indices into one unpadded plane. */
  tapStart: Int32Array;
  tapIndex: Int32Array;
  tapWeight: Float64Array;
  /** Horizontal blur: for crop column x (after the flip), window columns of taps -2..2 at colIndex[5x .. 5x + 4]. */
  colIndex: Int32Array;
  /** Vertical blur: for crop row y, window rows of taps -2..2 at rowIndex[5y .. 5y + 4]. */
  rowIndex: Int32Array;
  /** Output column of crop column x (the horizontal flip). */
  dstCol: Int32Array;
}

function planGeometry(h: number, w: number, ph: number, pw: number, H: number, W: number, angle: number, tx: number, ty: number, scale: number, flip: boolean): GeometryPlan {
  // Padded-image rows the vertical blur reads for crop rows ph .. ph + h - 1, columns the
  // horizontal blur reads for the (flipped) crop columns pw .. pw + w - 1: a window [r0, r1] x [c0, c1].
  let r0 = H;
  let r1 = -1;
  let c0 = W;
  let c1 = -1;
  for (let y = 0; y < h; y++) {
    for (let j = -2; j <= 2; j++) {
      const r = reflect(y + ph + j, H);
      if (r < r0) r0 = r;
      if (r > r1) r1 = r;
    }
  }
  for (let x = 0; x < w; x++) {
    for (let j = -2; j <= 2; j++) {
      const cc = reflect(x + pw + j, W);
      if (cc < c0) c0 = cc;
      if (cc > c1) c1 = cc;
    }
  }
  const rows = r1 - r0 + 1;
  const cols = c1 - c0 + 1;
  const rowIndex = new Int32Array(5 * h);
  for (let y = 0; y < h; y++) for (let j = -2; j <= 2; j++) rowIndex[5 * y + j + 2] = reflect(y + ph + j, H) - r0;
  // Output column x reads crop column sx = flip ? w - 1 - x : x; the table is indexed by sx, dstCol maps sx back to x.
  const colIndex = new Int32Array(5 * w);
  const dstCol = new Int32Array(w);
  for (let sx = 0; sx < w; sx++) {
    for (let j = -2; j <= 2; j++) colIndex[5 * sx + j + 2] = reflect(sx + pw + j, W) - c0;
    dstCol[sx] = flip ? w - 1 - sx : sx;
  }
  // Inverse map of every window pixel: src = centre + R(-angle) (p - centre - t) / scale, bilinear,
  // 0 outside the padded image; a padded pixel (yy, xx) is unpadded pixel (clamp(yy - ph), clamp(xx - pw)).
  const cx = (W - 1) / 2;
  const cy = (H - 1) / 2;
  const cos = Math.cos(angle) / scale;
  const sin = Math.sin(angle) / scale;
  const tapStart = new Int32Array(rows * cols + 1);
  const tapIndex = new Int32Array(4 * rows * cols);
  const tapWeight = new Float64Array(4 * rows * cols);
  const src = (yy: number, xx: number) => Math.min(h - 1, Math.max(0, yy - ph)) * w + Math.min(w - 1, Math.max(0, xx - pw));
  let t = 0;
  for (let wy = 0; wy < rows; wy++) {
    const y = wy + r0;
    for (let wx = 0; wx < cols; wx++) {
      const x = wx + c0;
      const dx = x - cx - tx;
      const dy = y - cy - ty;
      const sx = cx + cos * dx + sin * dy;
      const sy = cy - sin * dx + cos * dy;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      const inX0 = x0 >= 0 && x0 < W;
      const inX1 = x0 + 1 >= 0 && x0 + 1 < W;
      const inY0 = y0 >= 0 && y0 < H;
      const inY1 = y0 + 1 >= 0 && y0 + 1 < H;
      const w00 = inY0 && inX0 ? (1 - fy) * (1 - fx) : 0;
      const w01 = inY0 && inX1 ? (1 - fy) * fx : 0;
      const w10 = inY1 && inX0 ? fy * (1 - fx) : 0;
      const w11 = inY1 && inX1 ? fy * fx : 0;
      tapStart[wy * cols + wx] = t;
      // Skipped exactly when the plain loop skips them (a falsy weight).
      if (w00) {
        tapIndex[t] = src(y0, x0);
        tapWeight[t++] = w00;
      }
      if (w01) {
        tapIndex[t] = src(y0, x0 + 1);
        tapWeight[t++] = w01;
      }
      if (w10) {
        tapIndex[t] = src(y0 + 1, x0);
        tapWeight[t++] = w10;
      }
      if (w11) {
        tapIndex[t] = src(y0 + 1, x0 + 1);
        tapWeight[t++] = w11;
      }
    }
  }
  tapStart[rows * cols] = t;
  return { rows, cols, tapStart, tapIndex, tapWeight, colIndex, rowIndex, dstCol };
}

/** One channel through the tabulated affine: `warped` (the window, float32) from the plane of `img` at `offset`. */
function warpPlane(img: Float32Array, offset: number, tapStart: Int32Array, tapIndex: Int32Array, tapWeight: Float64Array, warped: Float32Array): void {
  const n = warped.length;
  for (let p = 0; p < n; p++) {
    let v = 0;
    const end = tapStart[p + 1];
    for (let t = tapStart[p]; t < end; t++) v += tapWeight[t] * img[offset + tapIndex[t]];
    warped[p] = v;
  }
}

/**
 * Separable 5-tap blur of the window, horizontal into `tmp` (float32, window rows x crop columns)
 * then vertical, written cropped and flipped into `out` at `offset`.
 */
function blurPlane(warped: Float32Array, rows: number, cols: number, w: number, h: number, colIndex: Int32Array, rowIndex: Int32Array, kernel: Float64Array, tmp: Float32Array, out: Float32Array, offset: number, dstCol: Int32Array): void {
  const k0 = kernel[0];
  const k1 = kernel[1];
  const k2 = kernel[2];
  const k3 = kernel[3];
  const k4 = kernel[4];
  for (let y = 0; y < rows; y++) {
    const row = y * cols;
    for (let x = 0; x < w; x++) {
      const c = 5 * x;
      let s = 0;
      s += k0 * warped[row + colIndex[c]];
      s += k1 * warped[row + colIndex[c + 1]];
      s += k2 * warped[row + colIndex[c + 2]];
      s += k3 * warped[row + colIndex[c + 3]];
      s += k4 * warped[row + colIndex[c + 4]];
      tmp[y * w + x] = s;
    }
  }
  for (let y = 0; y < h; y++) {
    const r = 5 * y;
    const t0 = rowIndex[r] * w;
    const t1 = rowIndex[r + 1] * w;
    const t2 = rowIndex[r + 2] * w;
    const t3 = rowIndex[r + 3] * w;
    const t4 = rowIndex[r + 4] * w;
    const dst = offset + y * w;
    for (let x = 0; x < w; x++) {
      let s = 0;
      s += k0 * tmp[t0 + x];
      s += k1 * tmp[t1 + x];
      s += k2 * tmp[t2 + x];
      s += k3 * tmp[t3 + x];
      s += k4 * tmp[t4 + x];
      out[dst + dstCol[x]] = s;
    }
  }
}

/** One colour operation (0 brightness, 1 contrast, 2 saturation, 3 hue, 4 gamma) on one CHW image, in place. */
function jitter(img: Float32Array, c: number, plane: number, op: number, f: number): void {
  const rgb = c === 3;
  const n = img.length;
  switch (op) {
    case 0:
      for (let i = 0; i < n; i++) img[i] = clamp01(img[i] * f);
      return;
    case 1: {
      let mean = 0;
      if (rgb) {
        // torchvision's rgb_to_grayscale weights.
        for (let i = 0; i < plane; i++) mean += 0.2989 * img[i] + 0.587 * img[plane + i] + 0.114 * img[2 * plane + i];
        mean /= plane;
      } else {
        for (let i = 0; i < n; i++) mean += img[i];
        mean /= n;
      }
      const g = 1 - f;
      for (let i = 0; i < n; i++) img[i] = clamp01(f * img[i] + g * mean);
      return;
    }
    case 2: {
      if (!rgb) return;
      const g = 1 - f;
      for (let i = 0; i < plane; i++) {
        const r = img[i];
        const gr = img[plane + i];
        const b = img[2 * plane + i];
        const gray = 0.2989 * r + 0.587 * gr + 0.114 * b;
        img[i] = clamp01(f * r + g * gray);
        img[plane + i] = clamp01(f * gr + g * gray);
        img[2 * plane + i] = clamp01(f * b + g * gray);
      }
      return;
    }
    case 3:
      if (rgb) shiftHue(img, plane, f);
      return;
    default:
      for (let i = 0; i < n; i++) img[i] = clamp01(Math.pow(img[i], f));
  }
}

/** Every pixel of an RGB image: RGB -> HSV, h += shift (mod 1), -> RGB, in place. */
function shiftHue(img: Float32Array, plane: number, shift: number): void {
  for (let i = 0; i < plane; i++) {
    const r = img[i];
    const g = img[plane + i];
    const b = img[2 * plane + i];
    const max = Math.max(r, g, b);
    const min = Math.min(r, g, b);
    const d = max - min;
    if (d === 0) continue;
    let hue = max === r ? (g - b) / d : max === g ? 2 + (b - r) / d : 4 + (r - g) / d;
    hue = (((hue / 6 + shift) % 1) + 1) % 1;
    const s = d / max;
    const v = max;
    const k = Math.floor(hue * 6);
    const fr = hue * 6 - k;
    const p = v * (1 - s);
    const q = v * (1 - s * fr);
    const t = v * (1 - s * (1 - fr));
    // Sextants 0..5 give (r, g, b) = (v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q); anything else as 5.
    const sextant = k % 6;
    img[i] = sextant === 1 ? q : sextant === 2 || sextant === 3 ? p : sextant === 4 ? t : v;
    img[plane + i] = sextant === 0 ? t : sextant === 1 || sextant === 2 ? v : sextant === 3 ? q : p;
    img[2 * plane + i] = sextant === 0 || sextant === 1 ? p : sextant === 2 ? t : sextant === 3 || sextant === 4 ? v : q;
  }
}

function gaussianKernel(sigma: number): Float64Array {
  const k = new Float64Array(5);
  let sum = 0;
  for (let i = 0; i < 5; i++) sum += k[i] = Math.exp(-((i - 2) ** 2) / (2 * sigma * sigma));
  for (let i = 0; i < 5; i++) k[i] /= sum;
  return k;
}
