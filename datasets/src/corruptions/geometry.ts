/**
 * Geometric resampling as elastic_transform's reference calls it:
 * - OpenCV getAffineTransform + warpAffine(INTER_LINEAR, BORDER_REFLECT_101): the inverse map is
 *   evaluated in 1/1024 fixed point and quantised to 1/32 pixel (INTER_BITS = 5), then float32 bilinear
 *   weights from OpenCV's 32x32 table.
 * - scipy.ndimage.map_coordinates(order=1, mode='reflect'): scipy's coordinate folding (which keeps a
 *   sample within half a pixel outside the border on the border pixel) and half-sample-symmetric taps.
 * Images are HWC float32 with 3 channels.
 */
import { borderIndex } from './filters.js';

/** cv2.getAffineTransform: the 2x3 matrix mapping src[i] to dst[i] (three point pairs, [x, y] each). */
export function affineFromPoints(src: ArrayLike<number>, dst: ArrayLike<number>): Float64Array {
  // The 6x6 system OpenCV builds: rows [x, y, 1, 0, 0, 0] = u and [0, 0, 0, x, y, 1] = v.
  const a: number[][] = [];
  for (let i = 0; i < 3; i++) {
    const x = src[2 * i];
    const y = src[2 * i + 1];
    a.push([x, y, 1, 0, 0, 0, dst[2 * i]]);
    a.push([0, 0, 0, x, y, 1, dst[2 * i + 1]]);
  }
  return solve6(a);
}

/** Gaussian elimination with partial pivoting (LU, as cv::solve DECOMP_LU) on an augmented 6x7 matrix. */
function solve6(a: number[][]): Float64Array {
  const n = 6;
  for (let col = 0; col < n; col++) {
    let piv = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(a[r][col]) > Math.abs(a[piv][col])) piv = r;
    if (a[piv][col] === 0) throw new Error('getAffineTransform: the three source points are collinear');
    if (piv !== col) [a[piv], a[col]] = [a[col], a[piv]];
    for (let r = col + 1; r < n; r++) {
      const f = a[r][col] / a[col][col];
      if (f === 0) continue;
      for (let c = col; c <= n; c++) a[r][c] -= f * a[col][c];
    }
  }
  const m = new Float64Array(n);
  for (let r = n - 1; r >= 0; r--) {
    let s = a[r][n];
    for (let c = r + 1; c < n; c++) s -= a[r][c] * m[c];
    m[r] = s / a[r][r];
  }
  return m;
}

const INTER_BITS = 5;
const INTER_TAB_SIZE = 1 << INTER_BITS;
const AB_BITS = 10;
const AB_SCALE = 1 << AB_BITS;

/** cvRound: round half to even on doubles. */
function cvRound(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** OpenCV's bilinear weight table (float32): for fraction (fy, fx) in 1/32 steps, [w00, w01, w10, w11]. */
const BILINEAR_TAB = (() => {
  const f = Math.fround;
  const tab = new Float32Array(INTER_TAB_SIZE * INTER_TAB_SIZE * 4);
  for (let i = 0; i < INTER_TAB_SIZE; i++) {
    const fy = f(i / INTER_TAB_SIZE);
    for (let j = 0; j < INTER_TAB_SIZE; j++) {
      const fx = f(j / INTER_TAB_SIZE);
      const o = (i * INTER_TAB_SIZE + j) * 4;
      tab[o] = f(f(1 - fy) * f(1 - fx));
      tab[o + 1] = f(f(1 - fy) * fx);
      tab[o + 2] = f(fy * f(1 - fx));
      tab[o + 3] = f(fy * fx);
    }
  }
  return tab;
})();

/** cv2.warpAffine(src, M, (width, height)) with INTER_LINEAR and BORDER_REFLECT_101, 3-channel float32. */
export function warpAffineReflect101(src: Float32Array, height: number, width: number, m: Float64Array): Float32Array {
  // Invert M (warpAffine samples the source at M^-1 * dst).
  const M = Float64Array.from(m);
  let D = M[0] * M[4] - M[1] * M[3];
  D = D !== 0 ? 1 / D : 0;
  const A11 = M[4] * D;
  const A22 = M[0] * D;
  M[0] = A11;
  M[1] *= -D;
  M[3] *= -D;
  M[4] = A22;
  const b1 = -M[0] * M[2] - M[1] * M[5];
  const b2 = -M[3] * M[2] - M[4] * M[5];
  M[2] = b1;
  M[5] = b2;

  const f = Math.fround;
  const out = new Float32Array(height * width * 3);
  const adelta = new Int32Array(width);
  const bdelta = new Int32Array(width);
  for (let x = 0; x < width; x++) {
    adelta[x] = cvRound(M[0] * x * AB_SCALE);
    bdelta[x] = cvRound(M[3] * x * AB_SCALE);
  }
  const roundDelta = AB_SCALE / INTER_TAB_SIZE / 2;
  const stride = width * 3;
  for (let y = 0; y < height; y++) {
    const X0 = cvRound((M[1] * y + M[2]) * AB_SCALE) + roundDelta;
    const Y0 = cvRound((M[4] * y + M[5]) * AB_SCALE) + roundDelta;
    for (let x = 0; x < width; x++) {
      const X = (X0 + adelta[x]) >> (AB_BITS - INTER_BITS);
      const Y = (Y0 + bdelta[x]) >> (AB_BITS - INTER_BITS);
      const sx = X >> INTER_BITS;
      const sy = Y >> INTER_BITS;
      const w = ((Y & (INTER_TAB_SIZE - 1)) * INTER_TAB_SIZE + (X & (INTER_TAB_SIZE - 1))) * 4;
      const w0 = BILINEAR_TAB[w];
      const w1 = BILINEAR_TAB[w + 1];
      const w2 = BILINEAR_TAB[w + 2];
      const w3 = BILINEAR_TAB[w + 3];
      let x0: number;
      let x1: number;
      let y0: number;
      let y1: number;
      if (sx >= 0 && sx < width - 1 && sy >= 0 && sy < height - 1) {
        x0 = sx;
        x1 = sx + 1;
        y0 = sy;
        y1 = sy + 1;
      } else {
        x0 = borderIndex(sx, width, 'mirror');
        x1 = borderIndex(sx + 1, width, 'mirror');
        y0 = borderIndex(sy, height, 'mirror');
        y1 = borderIndex(sy + 1, height, 'mirror');
      }
      const p00 = y0 * stride + x0 * 3;
      const p01 = y0 * stride + x1 * 3;
      const p10 = y1 * stride + x0 * 3;
      const p11 = y1 * stride + x1 * 3;
      const o = y * stride + x * 3;
      for (let c = 0; c < 3; c++) {
        out[o + c] = f(f(f(f(src[p00 + c] * w0) + f(src[p01 + c] * w1)) + f(src[p10 + c] * w2)) + f(src[p11 + c] * w3));
      }
    }
  }
  return out;
}

/** scipy map_coordinate() for mode 'reflect': folds a coordinate that lies outside [0, len-1]. */
export function foldReflect(cc: number, len: number): number {
  if (cc < 0) {
    if (len <= 1) return 0;
    const sz2 = 2 * len;
    if (cc < -sz2) cc = sz2 * Math.trunc(-cc / sz2) + cc;
    cc = cc < -len ? cc + sz2 : -cc - 1;
  }
  if (cc > len - 1) {
    if (len <= 1) return 0;
    const sz2 = 2 * len;
    cc -= sz2 * Math.trunc(cc / sz2);
    if (cc >= len) cc = sz2 - cc - 1;
  }
  return cc;
}

/**
 * map_coordinates(image, (row + dy, col + dx, channel), order=1, mode='reflect') for every pixel of
 * a 3-channel float32 image: bilinear per channel, taps outside the image reflected (half-sample);
 * returned as the reference's float32 result converted to uint8 (clip, * 255 in float32, truncate:
 * unitToU8f32), fused into the same loop.
 */
export function remapReflectU8(src: Float32Array, height: number, width: number, dy: Float32Array, dx: Float32Array): Uint8Array {
  const out = new Uint8Array(src.length);
  const stride = width * 3;
  const lastY = height - 1;
  const lastX = width - 1;
  const f = Math.fround;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = y * width + x;
      let cy = y + dy[p];
      let cx = x + dx[p];
      // foldReflect leaves coordinates inside [0, len - 1] unchanged.
      if (!(cy >= 0 && cy <= lastY)) cy = foldReflect(cy, height);
      if (!(cx >= 0 && cx <= lastX)) cx = foldReflect(cx, width);
      const sy = Math.floor(cy);
      const sx = Math.floor(cx);
      const wy0 = 1 - (cy - sy);
      const wy1 = 1 - wy0;
      const wx0 = 1 - (cx - sx);
      const wx1 = 1 - wx0;
      // Taps inside the image need no reflection (borderIndex returns in-range indices unchanged).
      const r0 = (sy >= 0 && sy < height ? sy : borderIndex(sy, height, 'reflect')) * stride;
      const r1 = (sy + 1 >= 0 && sy + 1 < height ? sy + 1 : borderIndex(sy + 1, height, 'reflect')) * stride;
      const c0 = (sx >= 0 && sx < width ? sx : borderIndex(sx, width, 'reflect')) * 3;
      const c1 = (sx + 1 >= 0 && sx + 1 < width ? sx + 1 : borderIndex(sx + 1, width, 'reflect')) * 3;
      const a = r0 + c0;
      const b = r0 + c1;
      const d = r1 + c0;
      const e = r1 + c1;
      const o = p * 3;
      const v0 = f(src[a] * wy0 * wx0 + src[b] * wy0 * wx1 + src[d] * wy1 * wx0 + src[e] * wy1 * wx1);
      const v1 = f(src[a + 1] * wy0 * wx0 + src[b + 1] * wy0 * wx1 + src[d + 1] * wy1 * wx0 + src[e + 1] * wy1 * wx1);
      const v2 = f(src[a + 2] * wy0 * wx0 + src[b + 2] * wy0 * wx1 + src[d + 2] * wy1 * wx0 + src[e + 2] * wy1 * wx1);
      out[o] = v0 > 0 ? (v0 < 1 ? f(v0 * 255) | 0 : 255) : 0;
      out[o + 1] = v1 > 0 ? (v1 < 1 ? f(v1 * 255) | 0 : 255) : 0;
      out[o + 2] = v2 > 0 ? (v2 < 1 ? f(v2 * 255) | 0 : 255) : 0;
    }
  }
  return out;
}
