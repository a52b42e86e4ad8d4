/**
 * The reference's `clipped_zoom`: centre-crop ceil(n / z) pixels, upscale them by z with
 * scipy.ndimage.zoom(order=1) (bilinear, corner-aligned: output index o samples input o * (in-1)/(out-1),
 * output size round-half-even(in * z)), then centre-trim back to n.
 *
 * The reference crops a square from the image height; here each axis uses its own length, which is
 * the same on square images and keeps non-square images undistorted.
 */
import { TableCache } from './table-cache.js';
import { roundHalfEven } from './image.js';

/** Per-axis sampling table: input indices and scipy's order-1 spline weights for each output index. */
interface AxisTable {
  i0: Int32Array;
  i1: Int32Array;
  w0: Float64Array;
  w1: Float64Array;
}

const tables = new TableCache<AxisTable>(4096);

/** Sampling table for one axis of length n zoomed by z (cached: the same few factors recur). */
export function zoomAxis(n: number, z: number): AxisTable {
  return tables.get(`${n}:${z}`, () => buildZoomAxis(n, z));
}

function buildZoomAxis(n: number, z: number): AxisTable {
  const crop = Math.ceil(n / z);
  const top = Math.floor((n - crop) / 2);
  const zoomed = roundHalfEven(crop * z);
  const ratio = zoomed > 1 ? (crop - 1) / (zoomed - 1) : 1;
  const trim = Math.floor((zoomed - n) / 2);
  const t: AxisTable = { i0: new Int32Array(n), i1: new Int32Array(n), w0: new Float64Array(n), w1: new Float64Array(n) };
  for (let o = 0; o < n; o++) {
    let cc = (o + trim) * ratio;
    if (cc > crop - 1) cc = crop - 1;
    const start = Math.floor(cc);
    const w0 = 1 - (cc - start);
    // The second tap past the crop's end has weight 0; scipy mirrors its index, any valid index does.
    const next = start + 1 < crop ? start + 1 : Math.max(crop - 2, 0);
    t.i0[o] = top + start;
    t.i1[o] = top + next;
    t.w0[o] = w0;
    t.w1[o] = 1 - w0;
  }
  return t;
}

/**
 * clipped_zoom of an HWC array, written into `out` (same shape). The accumulation order follows
 * scipy's NI_ZoomShift: sum over (row tap, column tap) of value * w_row * w_col.
 */
export function clippedZoomInto(
  src: ArrayLike<number>,
  height: number,
  width: number,
  channels: number,
  z: number,
  out: Float64Array | Float32Array,
): void {
  const ty = zoomAxis(height, z);
  const tx = zoomAxis(width, z);
  const rowStride = width * channels;
  for (let y = 0; y < height; y++) {
    const r0 = ty.i0[y] * rowStride;
    const r1 = ty.i1[y] * rowStride;
    const wy0 = ty.w0[y];
    const wy1 = ty.w1[y];
    const o = y * rowStride;
    for (let x = 0; x < width; x++) {
      const c0 = tx.i0[x] * channels;
      const c1 = tx.i1[x] * channels;
      const wx0 = tx.w0[x];
      const wx1 = tx.w1[x];
      const a = r0 + c0;
      const b = r0 + c1;
      const d = r1 + c0;
      const e = r1 + c1;
      const q = o + x * channels;
      if (channels === 3) {
        // Unrolled RGB case (the hot loop of zoom_blur); same operations and order as below.
        out[q] = src[a] * wy0 * wx0 + src[b] * wy0 * wx1 + src[d] * wy1 * wx0 + src[e] * wy1 * wx1;
        out[q + 1] = src[a + 1] * wy0 * wx0 + src[b + 1] * wy0 * wx1 + src[d + 1] * wy1 * wx0 + src[e + 1] * wy1 * wx1;
        out[q + 2] = src[a + 2] * wy0 * wx0 + src[b + 2] * wy0 * wx1 + src[d + 2] * wy1 * wx0 + src[e + 2] * wy1 * wx1;
      } else {
        for (let c = 0; c < channels; c++) {
          out[q + c] = src[a + c] * wy0 * wx0 + src[b + c] * wy0 * wx1 + src[d + c] * wy1 * wx0 + src[e + c] * wy1 * wx1;
        }
      }
    }
  }
}

/**
 * zoom_blur's accumulation for an RGB image of float32 values (held in a Float64Array, exactly, so the
 * inner loop reads doubles): `acc[i] = float32(acc[i] + float32(clipped_zoom(x, z)[i]))` for each factor
 * in `zs`, in order, starting from `acc` as given. The same arithmetic as clippedZoomInto into a float32
 * array followed by a float32 sum (same products, same order, same roundings), fused into one
 * monomorphic pass; factors that are the identity on both axes (crop = n and zoomed = n: z = 1 and 1.01
 * at 32 px) add `x` itself, which is what the bilinear formula gives there (weights 1 and exactly 0,
 * finite non-negative inputs).
 */
export function zoomBlurAccumulate(x: Float64Array, height: number, width: number, zs: readonly number[], acc: Float32Array): void {
  const rowStride = width * 3;
  const f = Math.fround;
  for (let k = 0; k < zs.length; k++) {
    const ty = zoomAxis(height, zs[k]);
    const tx = zoomAxis(width, zs[k]);
    if (isIdentity(ty) && isIdentity(tx)) {
      for (let i = 0; i < acc.length; i++) acc[i] += x[i];
      continue;
    }
    const cols = columnTable(tx);
    const ci0 = cols.c0;
    const ci1 = cols.c1;
    const wx0s = tx.w0;
    const wx1s = tx.w1;
    for (let y = 0; y < height; y++) {
      const r0 = ty.i0[y] * rowStride;
      const r1 = ty.i1[y] * rowStride;
      const wy0 = ty.w0[y];
      const wy1 = ty.w1[y];
      let q = y * rowStride;
      for (let xx = 0; xx < width; xx++, q += 3) {
        const wx0 = wx0s[xx];
        const wx1 = wx1s[xx];
        const a = r0 + ci0[xx];
        const b = r0 + ci1[xx];
        const d = r1 + ci0[xx];
        const e = r1 + ci1[xx];
        acc[q] += f(x[a] * wy0 * wx0 + x[b] * wy0 * wx1 + x[d] * wy1 * wx0 + x[e] * wy1 * wx1);
        acc[q + 1] += f(x[a + 1] * wy0 * wx0 + x[b + 1] * wy0 * wx1 + x[d + 1] * wy1 * wx0 + x[e + 1] * wy1 * wx1);
        acc[q + 2] += f(x[a + 2] * wy0 * wx0 + x[b + 2] * wy0 * wx1 + x[d + 2] * wy1 * wx0 + x[e + 2] * wy1 * wx1);
      }
    }
  }
}

const identity = new WeakMap<AxisTable, boolean>();

/** True when the axis table samples every index with weights exactly (1, 0). */
function isIdentity(t: AxisTable): boolean {
  let hit = identity.get(t);
  if (hit === undefined) {
    hit = true;
    for (let o = 0; o < t.i0.length; o++) if (t.i0[o] !== o || t.w0[o] !== 1 || t.w1[o] !== 0) hit = false;
    identity.set(t, hit);
  }
  return hit;
}

const columnTables = new WeakMap<AxisTable, { c0: Int32Array; c1: Int32Array }>();

/** The column indices of an axis table premultiplied by 3 (RGB). */
function columnTable(t: AxisTable): { c0: Int32Array; c1: Int32Array } {
  let hit = columnTables.get(t);
  if (!hit) {
    hit = { c0: t.i0.map((i) => i * 3), c1: t.i1.map((i) => i * 3) };
    columnTables.set(t, hit);
  }
  return hit;
}

/** numpy.arange(start, stop, step) for floats: length ceil((stop - start) / step), values start + i * (start + step - start). */
export function numpyArange(start: number, stop: number, step: number): number[] {
  const n = Math.ceil((stop - start) / step);
  const delta = start + step - start;
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(start + i * delta);
  return out;
}
