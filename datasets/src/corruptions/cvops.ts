/**
 * The OpenCV 4 operations spatter's "liquid" branch chains, on single-channel H x W arrays, with
 * OpenCV's integer conventions:
 * - canny: Sobel 3x3 (BORDER_REPLICATE), L1 magnitude, non-maximum suppression along 4 directions
 *   (tan 22.5 in Q15), hysteresis from magnitude > high through 8-connected pixels > low; 255 on edges.
 * - distanceTransformL2Mask5: 5x5 chamfer distance (1, 1.4, 2.1969 in Q16) to the nearest zero pixel.
 * - boxBlur3F32 / boxBlur3U8: cv2.blur 3x3, BORDER_REFLECT_101; float sums in double, uint8 with
 *   OpenCV's fixed-point division by 9.
 * - equalizeHist: OpenCV's LUT (first occupied bin maps to 0, float scale, rounding).
 * - filter2DU8: integer kernel correlation, BORDER_REFLECT_101, saturated to uint8.
 */
import { borderIndex } from './filters.js';

const CANNY_SHIFT = 15;
const TG22 = Math.trunc(0.4142135623730950488016887242097 * (1 << CANNY_SHIFT) + 0.5);

export function canny(src: Uint8Array, h: number, w: number, low: number, high: number): Uint8Array {
  const n = h * w;
  const dx = new Int32Array(n);
  const dy = new Int32Array(n);
  const at = (y: number, x: number): number => src[(y < 0 ? 0 : y >= h ? h - 1 : y) * w + (x < 0 ? 0 : x >= w ? w - 1 : x)];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const tl = at(y - 1, x - 1), t = at(y - 1, x), tr = at(y - 1, x + 1);
      const l = at(y, x - 1), r = at(y, x + 1);
      const bl = at(y + 1, x - 1), b = at(y + 1, x), br = at(y + 1, x + 1);
      dx[y * w + x] = tr - tl + 2 * (r - l) + br - bl;
      dy[y * w + x] = bl - tl + 2 * (b - t) + br - tr;
    }
  }
  // Magnitudes with a zero frame (rows -1 and h, columns -1 and w), as OpenCV's ring buffer has.
  const W2 = w + 2;
  const mag = new Int32Array((h + 2) * W2);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) mag[(y + 1) * W2 + x + 1] = Math.abs(dx[y * w + x]) + Math.abs(dy[y * w + x]);
  // map: 0 = may be an edge, 1 = cannot, 2 = is an edge; a frame of 1s around it.
  const map = new Uint8Array((h + 2) * W2).fill(1);
  const stack: number[] = [];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const mi = (y + 1) * W2 + x + 1;
      const m = mag[mi];
      let keep = false;
      if (m > low) {
        const xs = dx[y * w + x];
        const ys = dy[y * w + x];
        const ax = Math.abs(xs);
        const ay = Math.abs(ys) * (1 << CANNY_SHIFT);
        const tg22x = ax * TG22;
        if (ay < tg22x) {
          keep = m > mag[mi - 1] && m >= mag[mi + 1];
        } else {
          const tg67x = tg22x + ax * (1 << (CANNY_SHIFT + 1));
          if (ay > tg67x) keep = m > mag[mi - W2] && m >= mag[mi + W2];
          else {
            const s = (xs ^ ys) < 0 ? -1 : 1;
            keep = m > mag[mi - W2 - s] && m > mag[mi + W2 + s];
          }
        }
      }
      if (!keep) map[mi] = 1;
      else if (m > high) {
        map[mi] = 2;
        stack.push(mi);
      } else map[mi] = 0;
    }
  }
  const nb = [-1, 1, -W2 - 1, -W2, -W2 + 1, W2 - 1, W2, W2 + 1];
  while (stack.length > 0) {
    const p = stack.pop() as number;
    for (const d of nb) {
      if (map[p + d] === 0) {
        map[p + d] = 2;
        stack.push(p + d);
      }
    }
  }
  const out = new Uint8Array(n);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[y * w + x] = map[(y + 1) * W2 + x + 1] === 2 ? 255 : 0;
  return out;
}

const DIST_SHIFT = 16;
const INIT_DIST0 = 0x7fffffff;

/** cv2.distanceTransform(src, DIST_L2, 5): float32 distance of each non-zero pixel to the nearest zero. */
export function distanceTransformL2Mask5(src: Uint8Array, h: number, w: number): Float32Array {
  const fix = (v: number): number => Math.round(Math.fround(v) * (1 << DIST_SHIFT));
  const HV = fix(1);
  const DIAG = fix(1.4);
  const LONG = fix(2.1969);
  const B = 2;
  const step = w + 2 * B;
  // Unsigned 32-bit arithmetic on values <= INT_MAX + a few chamfer steps: exact in doubles.
  const tmp = new Float64Array((h + 2 * B) * step).fill(INIT_DIST0);
  for (let i = 0; i < h; i++) {
    const row = (i + B) * step + B;
    for (let j = 0; j < w; j++) {
      const p = row + j;
      if (!src[i * w + j]) {
        tmp[p] = 0;
        continue;
      }
      let t0 = tmp[p - 2 * step - 1] + LONG;
      t0 = Math.min(t0, tmp[p - 2 * step + 1] + LONG);
      t0 = Math.min(t0, tmp[p - step - 2] + LONG);
      t0 = Math.min(t0, tmp[p - step - 1] + DIAG);
      t0 = Math.min(t0, tmp[p - step] + HV);
      t0 = Math.min(t0, tmp[p - step + 1] + DIAG);
      t0 = Math.min(t0, tmp[p - step + 2] + LONG);
      t0 = Math.min(t0, tmp[p - 1] + HV);
      tmp[p] = t0;
    }
  }
  const out = new Float32Array(h * w);
  const scale = Math.fround(1 / (1 << DIST_SHIFT));
  for (let i = h - 1; i >= 0; i--) {
    const row = (i + B) * step + B;
    for (let j = w - 1; j >= 0; j--) {
      const p = row + j;
      let t0 = tmp[p];
      if (t0 > HV) {
        t0 = Math.min(t0, tmp[p + 2 * step + 1] + LONG);
        t0 = Math.min(t0, tmp[p + 2 * step - 1] + LONG);
        t0 = Math.min(t0, tmp[p + step + 2] + LONG);
        t0 = Math.min(t0, tmp[p + step + 1] + DIAG);
        t0 = Math.min(t0, tmp[p + step] + HV);
        t0 = Math.min(t0, tmp[p + step - 1] + DIAG);
        t0 = Math.min(t0, tmp[p + step - 2] + LONG);
        t0 = Math.min(t0, tmp[p + 1] + HV);
        tmp[p] = t0;
      }
      out[i * w + j] = t0 * scale;
    }
  }
  return out;
}

/** cv2.blur(float32, (3, 3)): mean of the 3x3 neighbourhood (sums in double), BORDER_REFLECT_101. */
export function boxBlur3F32(src: Float32Array, h: number, w: number): Float32Array {
  const out = new Float32Array(h * w);
  const rows = new Float64Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      rows[y * w + x] = src[y * w + borderIndex(x - 1, w, 'mirror')] + src[y * w + x] + src[y * w + borderIndex(x + 1, w, 'mirror')];
    }
  }
  const scale = 1 / 9;
  for (let y = 0; y < h; y++) {
    const a = borderIndex(y - 1, h, 'mirror') * w;
    const b = borderIndex(y + 1, h, 'mirror') * w;
    for (let x = 0; x < w; x++) out[y * w + x] = (rows[a + x] + rows[y * w + x] + rows[b + x]) * scale;
  }
  return out;
}

/** cv2.blur(uint8, (3, 3)): integer 3x3 sum s, then OpenCV's (s + 4) * 7282 >> 16 (s / 9 rounded). */
export function boxBlur3U8(src: Uint8Array, h: number, w: number): Uint8Array {
  const out = new Uint8Array(h * w);
  for (let y = 0; y < h; y++) {
    const ys = [borderIndex(y - 1, h, 'mirror'), y, borderIndex(y + 1, h, 'mirror')];
    for (let x = 0; x < w; x++) {
      const xs = [borderIndex(x - 1, w, 'mirror'), x, borderIndex(x + 1, w, 'mirror')];
      let s = 0;
      for (const yy of ys) for (const xx of xs) s += src[yy * w + xx];
      out[y * w + x] = ((s + 4) * 7282) >> 16;
    }
  }
  return out;
}

/** cv2.equalizeHist. */
export function equalizeHist(src: Uint8Array): Uint8Array {
  const hist = new Int32Array(256);
  for (let i = 0; i < src.length; i++) hist[src[i]]++;
  let i = 0;
  while (!hist[i]) i++;
  const total = src.length;
  const out = new Uint8Array(src.length);
  if (hist[i] === total) return out.fill(i);
  const lut = new Uint8Array(256);
  const scale = Math.fround(255 / (total - hist[i]));
  let sum = 0;
  lut[i++] = 0;
  for (; i < 256; i++) {
    sum += hist[i];
    const v = Math.fround(sum * scale);
    lut[i] = Math.min(255, Math.max(0, roundEven(v)));
  }
  for (let k = 0; k < src.length; k++) out[k] = lut[src[k]];
  return out;
}

function roundEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** cv2.filter2D(src, CV_8U, kernel) with a small integer kernel (correlation, anchor at the centre). */
export function filter2DU8(src: Uint8Array, h: number, w: number, kernel: number[][]): Uint8Array {
  const kr = kernel.length >> 1;
  const kc = kernel[0].length >> 1;
  const out = new Uint8Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let i = 0; i < kernel.length; i++) {
        const yy = borderIndex(y + i - kr, h, 'mirror');
        for (let j = 0; j < kernel[0].length; j++) s += kernel[i][j] * src[yy * w + borderIndex(x + j - kc, w, 'mirror')];
      }
      out[y * w + x] = s < 0 ? 0 : s > 255 ? 255 : s;
    }
  }
  return out;
}
