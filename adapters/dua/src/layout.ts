/**
 * DUA augments CHW images; models imported from Keras take NHWC batches. These convert one HWC
 * image in and the augmented views back, so the views equal those of the same image given as NCHW.
 */

/** One HWC image as CHW. */
export function hwcToChw(image: Float32Array, c: number, h: number, w: number): Float32Array {
  const out = new Float32Array(image.length);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) out[(k * h + y) * w + x] = image[(y * w + x) * c + k];
  return out;
}

/** `count` CHW images as NHWC. */
export function chwToNhwc(images: Float32Array, count: number, c: number, h: number, w: number): Float32Array {
  const out = new Float32Array(images.length);
  const per = c * h * w;
  for (let n = 0; n < count; n++)
    for (let k = 0; k < c; k++)
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[n * per + (y * w + x) * c + k] = images[n * per + (k * h + y) * w + x];
  return out;
}
