/**
 * Image sources for streams. `corruptedSource` applies corruptions on the fly to clean images
 * held in memory (browser-safe); the Node subpath adds `openCifarCSource` over released or
 * `edgetta corrupt` arrays on disk.
 */
import type { CorruptionName, ImageU8, Severity } from '../corruptions/types.js';
import { DatasetError } from '../loaders/errors.js';
import { imageAt, type LabeledImages } from '../loaders/types.js';
import type { Rng } from '../rng.js';
import { IMAGE_SEEDING, imageRng } from './seeds.js';
import type { DomainTag, ImageSource, SourceManifest } from './types.js';

/** The corruption registry's `corrupt(image, name, severity, rng)`. */
export type CorruptFn = (image: ImageU8, name: CorruptionName, severity: Severity, rng: Rng) => ImageU8;

export interface CorruptedSourceOptions {
  /** Seed of the corruptions' random numbers (`imageSeed(seed, corruption, severity, index)` per image). */
  seed: number;
  /** The corruption function, normally `corrupt` from the corruption registry. */
  corrupt: CorruptFn;
}

/**
 * Corrupts image i for domain (c, s) with a fresh `Rng(imageSeed(seed, c, s, i))`, so the pixels
 * depend on nothing but (seed, c, s, i): not on the protocol, the batch size or the order, and
 * they equal what `edgetta corrupt --seed <seed>` writes.
 */
export function corruptedSource(clean: LabeledImages, options: CorruptedSourceOptions): ImageSource {
  const { seed, corrupt } = options;
  if (!Number.isSafeInteger(seed)) throw new DatasetError('seed', `seed must be an integer, got ${String(seed)}`);
  const px = clean.height * clean.width * 3;
  const manifest: SourceManifest = {
    kind: 'generated',
    description: clean.source.description,
    count: clean.count,
    height: clean.height,
    width: clean.width,
    numClasses: clean.numClasses,
    ...(clean.source.sha256 ? { sha256: clean.source.sha256 } : {}),
    corruptionSeed: seed,
    seeding: IMAGE_SEEDING,
  };
  return {
    count: clean.count,
    height: clean.height,
    width: clean.width,
    numClasses: clean.numClasses,
    labels: clean.labels,
    manifest,
    read(domain: DomainTag, indices: Int32Array, out: Uint8Array): Promise<void> {
      for (let k = 0; k < indices.length; k++) {
        const i = indices[k];
        const img = corrupt(imageAt(clean, i), domain.corruption, domain.severity, imageRng(seed, domain.corruption, domain.severity, i));
        if (img.height !== clean.height || img.width !== clean.width || img.data.length !== px) {
          throw new Error(`${domain.corruption}: returned a ${img.width}x${img.height} image (${img.data.length} bytes) for a ${clean.width}x${clean.height} input`);
        }
        out.set(img.data, k * px);
      }
      return Promise.resolve();
    },
  };
}
