import type { Rng } from '../rng.js';

/** An 8-bit RGB image in HWC layout (row-major, 3 interleaved channels), as CIFAR-10-C stores it. */
export interface ImageU8 {
  data: Uint8Array;
  height: number;
  width: number;
}

/** The 15 benchmark corruptions (tta-spec section 2.1 order) and the 4 held-out ones. */
export const BENCHMARK_CORRUPTIONS = [
  'gaussian_noise',
  'shot_noise',
  'impulse_noise',
  'defocus_blur',
  'glass_blur',
  'motion_blur',
  'zoom_blur',
  'snow',
  'frost',
  'fog',
  'brightness',
  'contrast',
  'elastic_transform',
  'pixelate',
  'jpeg_compression',
] as const;
export const HELD_OUT_CORRUPTIONS = ['speckle_noise', 'gaussian_blur', 'spatter', 'saturate'] as const;

export type CorruptionName = (typeof BENCHMARK_CORRUPTIONS)[number] | (typeof HELD_OUT_CORRUPTIONS)[number];
export type Severity = 1 | 2 | 3 | 4 | 5;

/** One corruption: a plain object in the corruption registry. */
export interface Corruption {
  name: CorruptionName;
  /** True for the 4 held-out corruptions meant for hyperparameter selection. */
  heldOut: boolean;
  /** True when the output depends on random numbers (then `rng` is consumed). */
  random: boolean;
  /** Returns a new image; never modifies `image`. Deterministic given the rng state. */
  apply(image: ImageU8, severity: Severity, rng: Rng): ImageU8;
}
