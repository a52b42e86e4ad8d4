/**
 * The memory bank and the augmentation work on CHW images; models imported from Keras take NHWC
 * batches. These convert images in and memory batches back out, so an NHWC model sees exactly the
 * tensors an NCHW one would.
 */

/** `count` HWC images as CHW. */
export function nhwcToNchw(images: ArrayLike<number>, count: number, c: number, h: number, w: number): Float32Array {
  const out = new Float32Array(count * c * h * w);
  const per = c * h * w;
  for (let n = 0; n < count; n++)
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) out[n * per + (k * h + y) * w + x] = images[n * per + (y * w + x) * c + k];
  return out;
}

/** `count` CHW images as HWC. */
export function nchwToNhwc(images: ArrayLike<number>, count: number, c: number, h: number, w: number): Float32Array {
  const out = new Float32Array(count * c * h * w);
  const per = c * h * w;
  for (let n = 0; n < count; n++)
    for (let k = 0; k < c; k++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[n * per + (y * w + x) * c + k] = images[n * per + (k * h + y) * w + x];
  return out;
}

/** [N, C, H, W] of a rank-4 image batch in either layout. */
export function imageDims(dims: readonly number[], layout: 'NCHW' | 'NHWC' | undefined): [number, number, number, number] {
  if (dims.length !== 4) throw new Error(`rotta: expects a rank-4 image batch (its memory stores and augments images), got dims [${dims.join(', ')}]`);
  return layout === 'NHWC' ? [dims[0], dims[3], dims[1], dims[2]] : [dims[0], dims[1], dims[2], dims[3]];
}
