/**
 * Image plumbing shared by the corruptions: argument checks, the [0,1] float view the reference
 * works in, and the reference's output conversion (clip, scale by 255, `uint8` truncation).
 */
import type { ImageU8 } from './types.js';

/** Smallest side a corruption accepts (glass blur, pixelate and the 3x3 kernels need a few pixels). */
export const MIN_SIDE = 8;

/** Throws a clear error unless `image` is an HWC RGB uint8 image of a supported shape. */
export function assertImage(image: ImageU8, who = 'image'): void {
  if (image === null || typeof image !== 'object') throw new TypeError(`${who}: expected an { data, height, width } image, got ${String(image)}`);
  const { data, height, width } = image;
  if (!(data instanceof Uint8Array)) throw new TypeError(`${who}: data must be a Uint8Array (HWC RGB uint8)`);
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < MIN_SIDE || width < MIN_SIDE) {
    throw new RangeError(`${who}: unsupported shape ${height}x${width}: height and width must be integers >= ${MIN_SIDE}`);
  }
  if (data.length !== height * width * 3) {
    throw new RangeError(
      `${who}: data has ${data.length} bytes but a ${height}x${width} RGB image needs ${height * width * 3} (HWC, 3 channels)`,
    );
  }
}

/** x / 255 as float64, exactly as numpy's `np.array(x) / 255.`. */
export function toUnitFloat(data: Uint8Array): Float64Array {
  const out = new Float64Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i] / 255;
  return out;
}

/** `np.uint8(np.clip(v, 0, 1) * 255)`: clip, scale, then truncate (the reference never rounds). */
export function unitToU8(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    // NaN (only possible from a degenerate 0/0 in the reference) becomes 0, as numpy's cast does here.
    out[i] = v > 0 ? (v < 1 ? (v * 255) | 0 : 255) : 0;
  }
  return out;
}

/** Same as `unitToU8` but in float32, for the corruptions whose reference arrays are float32. */
export function unitToU8f32(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    out[i] = v > 0 ? (v < 1 ? Math.fround(Math.fround(v) * 255) | 0 : 255) : 0;
  }
  return out;
}

/** A new image of the same shape. */
export function withData(image: ImageU8, data: Uint8Array): ImageU8 {
  return { data, height: image.height, width: image.width };
}

/** Python's round(): half to even (used by scipy and OpenCV when they size outputs). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
