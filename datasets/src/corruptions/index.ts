/**
 * CIFAR-10-C corruptions in TypeScript (Hendrycks & Dietterich, ICLR 2019; reference implementation
 * hendrycks/robustness make_cifar_c.py): the 15 benchmark corruptions and the 4 held-out ones at
 * severities 1-5, seeded, for 32x32 CIFAR images and larger RGB images.
 *
 * `corruptions` is a frozen table name -> Corruption; `corrupt()` validates its arguments and applies one.
 * Two corruptions need assets loaded once, asynchronously: jpeg_compression (`await loadJpegCodec()`)
 * and frost (`await loadFrostPictures(bytes)`, or in Node `prepareCorruptions()` from
 * `frost-assets-node.ts`). See docs/corruptions.md.
 */
import type { Rng } from '../rng.js';
import { defocusBlur, gaussianBlur, glassBlur, motionBlur, zoomBlur } from './blur.js';
import { brightness, contrast, elasticTransform, jpegCompression, pixelate, saturate } from './digital.js';
import { assertImage } from './image.js';
import { gaussianNoise, impulseNoise, shotNoise, speckleNoise } from './noise.js';
import { BENCHMARK_CORRUPTIONS, HELD_OUT_CORRUPTIONS, type Corruption, type CorruptionName, type ImageU8, type Severity } from './types.js';
import { fog, frost, snow, spatter } from './weather.js';

export type { Corruption, CorruptionName, ImageU8, Severity } from './types.js';
export { BENCHMARK_CORRUPTIONS, HELD_OUT_CORRUPTIONS } from './types.js';
export { loadJpegCodec, isJpegCodecLoaded } from './jpeg-codec.js';
export { loadFrostPictures, frostPicturesLoaded, FROST_FILES } from './frost-assets.js';
export { MIN_SIDE } from './image.js';

/** Every corruption by name, in tta-spec order (15 benchmark, then the 4 held out). */
export const corruptions: Readonly<Record<CorruptionName, Corruption>> = Object.freeze({
  gaussian_noise: Object.freeze(gaussianNoise),
  shot_noise: Object.freeze(shotNoise),
  impulse_noise: Object.freeze(impulseNoise),
  defocus_blur: Object.freeze(defocusBlur),
  glass_blur: Object.freeze(glassBlur),
  motion_blur: Object.freeze(motionBlur),
  zoom_blur: Object.freeze(zoomBlur),
  snow: Object.freeze(snow),
  frost: Object.freeze(frost),
  fog: Object.freeze(fog),
  brightness: Object.freeze(brightness),
  contrast: Object.freeze(contrast),
  elastic_transform: Object.freeze(elasticTransform),
  pixelate: Object.freeze(pixelate),
  jpeg_compression: Object.freeze(jpegCompression),
  speckle_noise: Object.freeze(speckleNoise),
  gaussian_blur: Object.freeze(gaussianBlur),
  spatter: Object.freeze(spatter),
  saturate: Object.freeze(saturate),
});

/** All 19 names. */
export const CORRUPTION_NAMES: readonly CorruptionName[] = Object.freeze([...BENCHMARK_CORRUPTIONS, ...HELD_OUT_CORRUPTIONS]);

/** True when `name` is one of the 19 corruption names. */
export function isCorruptionName(name: unknown): name is CorruptionName {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(corruptions, name);
}

/** Throws unless `severity` is an integer from 1 to 5. */
export function assertSeverity(severity: unknown): asserts severity is Severity {
  if (typeof severity !== 'number' || !Number.isInteger(severity) || severity < 1 || severity > 5) {
    throw new RangeError(`severity must be an integer from 1 to 5, got ${JSON.stringify(severity) ?? String(severity)}`);
  }
}

/**
 * Applies corruption `name` at `severity` (1-5) to an HWC RGB uint8 image and returns a new image;
 * `image` is never modified. Random corruptions draw from `rng` in the order their module documents.
 */
export function corrupt(image: ImageU8, name: CorruptionName, severity: Severity, rng: Rng): ImageU8 {
  if (!isCorruptionName(name)) {
    throw new RangeError(`unknown corruption ${JSON.stringify(name)}; valid names: ${CORRUPTION_NAMES.join(', ')}`);
  }
  assertSeverity(severity);
  assertImage(image);
  const c = corruptions[name];
  if (c.random && (rng === null || typeof rng !== 'object' || typeof (rng as Rng).random !== 'function')) {
    throw new TypeError(`${name} is random: pass a seeded Rng as the rng argument`);
  }
  return c.apply(image, severity, rng);
}
