import type { Rng } from '@edgetta/core';

/**
 * Test reference: the plain, stage-by-stage implementation of the memory-batch augmentation
 * (tta-spec 4.4; the pipeline and RNG order are documented in ../src/augment.ts, which tabulates
 * the shared geometry and must reproduce this function value for value). It materialises the
 * edge-padded image, warps and blurs the whole padded image, then crops and flips.
 */
export function augmentBatchReference(images: Float32Array, dims: readonly [number, number, number, number], rng: Rng): Float32Array {
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

  const out = new Float32Array(m * per);
  const img = new Float32Array(per);
  const padded = new Float32Array(c * H * W);
  const warped = new Float32Array(c * H * W);
  const kernel = gaussianKernel(sigma);
  for (let n = 0; n < m; n++) {
    for (let i = 0; i < per; i++) img[i] = clamp01(images[n * per + i]);
    for (const op of order) jitter(img, c, h * w, op, factors[op]);
    edgePad(img, c, h, w, ph, pw, padded);
    affine(padded, c, H, W, angle, tx, ty, scale, warped);
    blur(warped, c, H, W, kernel, padded);
    for (let k = 0; k < c; k++) {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const sx = flip ? w - 1 - x : x;
          out[n * per + (k * h + y) * w + x] = padded[(k * H + y + ph) * W + sx + pw];
        }
      }
    }
  }
  for (let i = 0; i < out.length; i++) out[i] = clamp01(out[i] + rng.normal(0, 0.005));
  return out;
}

function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

/** torchvision's rgb_to_grayscale weights. */
const gray = (r: number, g: number, b: number) => 0.2989 * r + 0.587 * g + 0.114 * b;

/** One colour operation (0 brightness, 1 contrast, 2 saturation, 3 hue, 4 gamma) on one CHW image, in place. */
function jitter(img: Float32Array, c: number, plane: number, op: number, f: number): void {
  const rgb = c === 3;
  switch (op) {
    case 0:
      for (let i = 0; i < img.length; i++) img[i] = clamp01(img[i] * f);
      return;
    case 1: {
      let mean = 0;
      if (rgb) {
        for (let i = 0; i < plane; i++) mean += gray(img[i], img[plane + i], img[2 * plane + i]);
        mean /= plane;
      } else {
        for (let i = 0; i < img.length; i++) mean += img[i];
        mean /= img.length;
      }
      for (let i = 0; i < img.length; i++) img[i] = clamp01(f * img[i] + (1 - f) * mean);
      return;
    }
    case 2:
      if (!rgb) return;
      for (let i = 0; i < plane; i++) {
        const g = gray(img[i], img[plane + i], img[2 * plane + i]);
        for (let k = 0; k < 3; k++) img[k * plane + i] = clamp01(f * img[k * plane + i] + (1 - f) * g);
      }
      return;
    case 3:
      if (!rgb) return;
      for (let i = 0; i < plane; i++) {
        const [r, g, b] = shiftHue(img[i], img[plane + i], img[2 * plane + i], f);
        img[i] = r;
        img[plane + i] = g;
        img[2 * plane + i] = b;
      }
      return;
    default:
      for (let i = 0; i < img.length; i++) img[i] = clamp01(Math.pow(img[i], f));
  }
}

/** RGB -> HSV, h += shift (mod 1), -> RGB. */
function shiftHue(r: number, g: number, b: number, shift: number): [number, number, number] {
  const max = Math.max(r, g, b);
  const min = Math.min(r, g, b);
  const d = max - min;
  if (d === 0) return [r, g, b];
  let hue = max === r ? (g - b) / d : max === g ? 2 + (b - r) / d : 4 + (r - g) / d;
  hue = (((hue / 6 + shift) % 1) + 1) % 1;
  const s = d / max;
  const v = max;
  const i = Math.floor(hue * 6);
  const fr = hue * 6 - i;
  const p = v * (1 - s);
  const q = v * (1 - s * fr);
  const t = v * (1 - s * (1 - fr));
  switch (i % 6) {
    case 0:
      return [v, t, p];
    case 1:
      return [q, v, p];
    case 2:
      return [p, v, t];
    case 3:
      return [p, q, v];
    case 4:
      return [t, p, v];
    default:
      return [v, p, q];
  }
}

function edgePad(img: Float32Array, c: number, h: number, w: number, ph: number, pw: number, out: Float32Array): void {
  const H = h + 2 * ph;
  const W = w + 2 * pw;
  for (let k = 0; k < c; k++) {
    for (let y = 0; y < H; y++) {
      const sy = Math.min(h - 1, Math.max(0, y - ph));
      for (let x = 0; x < W; x++) out[(k * H + y) * W + x] = img[(k * h + sy) * w + Math.min(w - 1, Math.max(0, x - pw))];
    }
  }
}

/** Inverse-maps every output pixel: src = centre + R(-angle) (p - centre - t) / scale, bilinear, 0 outside. */
function affine(src: Float32Array, c: number, H: number, W: number, angle: number, tx: number, ty: number, scale: number, out: Float32Array): void {
  const cx = (W - 1) / 2;
  const cy = (H - 1) / 2;
  const cos = Math.cos(angle) / scale;
  const sin = Math.sin(angle) / scale;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const dx = x - cx - tx;
      const dy = y - cy - ty;
      const sx = cx + cos * dx + sin * dy;
      const sy = cy - sin * dx + cos * dy;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      // The four taps' weights, zeroed outside the image; computed once per pixel for every channel.
      const inX0 = x0 >= 0 && x0 < W;
      const inX1 = x0 + 1 >= 0 && x0 + 1 < W;
      const inY0 = y0 >= 0 && y0 < H;
      const inY1 = y0 + 1 >= 0 && y0 + 1 < H;
      const w00 = inY0 && inX0 ? (1 - fy) * (1 - fx) : 0;
      const w01 = inY0 && inX1 ? (1 - fy) * fx : 0;
      const w10 = inY1 && inX0 ? fy * (1 - fx) : 0;
      const w11 = inY1 && inX1 ? fy * fx : 0;
      const i00 = y0 * W + x0;
      for (let k = 0; k < c; k++) {
        const base = k * H * W;
        let v = 0;
        if (w00) v += w00 * src[base + i00];
        if (w01) v += w01 * src[base + i00 + 1];
        if (w10) v += w10 * src[base + i00 + W];
        if (w11) v += w11 * src[base + i00 + W + 1];
        out[base + y * W + x] = v;
      }
    }
  }
}

function gaussianKernel(sigma: number): Float64Array {
  const k = new Float64Array(5);
  let sum = 0;
  for (let i = 0; i < 5; i++) sum += k[i] = Math.exp(-((i - 2) ** 2) / (2 * sigma * sigma));
  for (let i = 0; i < 5; i++) k[i] /= sum;
  return k;
}

/** Separable 5-tap blur with reflect padding (torchvision's gaussian_blur); `out` receives the result. */
function blur(src: Float32Array, c: number, H: number, W: number, kernel: Float64Array, out: Float32Array): void {
  // Clamped after reflecting so images narrower than the kernel stay in range.
  const reflect = (i: number, n: number) => Math.min(n - 1, Math.max(0, i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i));
  const tmp = new Float32Array(src.length);
  for (let k = 0; k < c; k++) {
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        let s = 0;
        for (let j = -2; j <= 2; j++) s += kernel[j + 2] * src[(k * H + y) * W + reflect(x + j, W)];
        tmp[(k * H + y) * W + x] = s;
      }
    }
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        let s = 0;
        for (let j = -2; j <= 2; j++) s += kernel[j + 2] * tmp[(k * H + reflect(y + j, H)) * W + x];
        out[(k * H + y) * W + x] = s;
      }
    }
  }
}
