import type { Rng } from '@edgetta/core';

/**
 * DUA's augmentation of one CHW image into `copies` views (Mirza et al., CVPR 2022): random crop
 * with `pad`-pixel zero padding, horizontal flip with p = 0.5, and a rotation by a random multiple
 * of 90 degrees (square images only). Per copy the rng gives: crop dy, crop dx, flip, rotation.
 */
export function augmentCopies(image: Float32Array, c: number, h: number, w: number, copies: number, rng: Rng, pad = 4): Float32Array {
  const plane = h * w;
  const out = new Float32Array(copies * c * plane);
  for (let k = 0; k < copies; k++) {
    const dy = rng.int(0, 2 * pad + 1) - pad;
    const dx = rng.int(0, 2 * pad + 1) - pad;
    const flip = rng.random() < 0.5;
    const rot = h === w ? rng.int(0, 4) : 0;
    const base = k * c * plane;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        // Inverse map: output (y, x) <- rotated <- flipped <- cropped source pixel.
        let ry = y;
        let rx = x;
        for (let r = 0; r < rot; r++) {
          const t = ry;
          ry = w - 1 - rx;
          rx = t;
        }
        const fx = flip ? w - 1 - rx : rx;
        const sy = ry + dy;
        const sx = fx + dx;
        if (sy < 0 || sy >= h || sx < 0 || sx >= w) continue;
        for (let ch = 0; ch < c; ch++) out[base + ch * plane + y * w + x] = image[ch * plane + sy * w + sx];
      }
    }
  }
  return out;
}
