/**
 * The training-time augmentation of the CIFAR models this project ships (random crops of the
 * image zero-padded by `pad` pixels, and horizontal flips: He et al. 2016, section 4.2). BatchNorm
 * running statistics are averages over such augmented batches, so calibration samples meant to
 * reproduce them (folded-BN recovery) should be drawn the same way.
 */
import { Rng } from '../rng.js';
import { imageBytes, type LabeledImages } from './types.js';

export interface PadCropFlipOptions {
  /** Zero padding on each side before the crop. @defaultValue 4 */
  pad?: number;
  /** Probability of a horizontal flip. @defaultValue 0.5 */
  flip?: number;
  /** Seed of the crop offsets and flips. @defaultValue 0 */
  seed?: number;
}

/** A new set: every image randomly shifted by up to `pad` pixels (zero fill) and maybe mirrored. */
export function padCropFlip(set: LabeledImages, options: PadCropFlipOptions = {}): LabeledImages {
  const { pad = 4, flip = 0.5, seed = 0 } = options;
  if (!Number.isInteger(pad) || pad < 0) throw new RangeError(`padCropFlip: pad must be a non-negative integer, got ${pad}`);
  if (!(flip >= 0 && flip <= 1)) throw new RangeError(`padCropFlip: flip must be a probability in [0, 1], got ${flip}`);
  const { height: h, width: w } = set;
  const n = imageBytes(h, w);
  const out = new Uint8Array(set.count * n);
  const rng = new Rng(seed);
  for (let i = 0; i < set.count; i++) {
    const dy = Math.floor(rng.random() * (2 * pad + 1)) - pad;
    const dx = Math.floor(rng.random() * (2 * pad + 1)) - pad;
    const mirror = rng.random() < flip;
    const src = set.images.subarray(i * n, (i + 1) * n);
    const dst = out.subarray(i * n, (i + 1) * n);
    for (let y = 0; y < h; y++) {
      const sy = y + dy;
      if (sy < 0 || sy >= h) continue;
      for (let x = 0; x < w; x++) {
        // The crop is taken from the padded image, then mirrored.
        const cx = mirror ? w - 1 - x : x;
        const sx = cx + dx;
        if (sx < 0 || sx >= w) continue;
        for (let c = 0; c < 3; c++) dst[(y * w + x) * 3 + c] = src[(sy * w + sx) * 3 + c];
      }
    }
  }
  return { ...set, images: out, source: { ...set.source, description: `${set.source.description} (pad-${pad} crops, flips p=${flip}, seed ${seed})` } };
}
