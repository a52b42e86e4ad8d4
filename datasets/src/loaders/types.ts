import type { ImageU8 } from '../corruptions/types.js';

/** Where a set of images came from: plain JSON, copied into every stream manifest. */
export interface SourceInfo {
  /** Loader that produced the set: 'cifar10', 'cifar100', 'npy', 'image-folder', ... */
  format: string;
  /** Human-readable origin: a file, a directory, an archive member. */
  description: string;
  /** Files read, in order (Node loaders only). */
  files?: string[];
  /** sha256 (hex) of the input file when the loader computed it. */
  sha256?: string;
}

/**
 * A labelled image set held in memory: `count` RGB images of `height` x `width`, packed HWC
 * uint8 (image i is `images.subarray(i * H * W * 3, (i + 1) * H * W * 3)`, rows top to bottom,
 * channels interleaved R, G, B: the layout of CIFAR-10-C arrays and of {@link ImageU8}).
 */
export interface LabeledImages {
  images: Uint8Array;
  labels: Int32Array;
  count: number;
  height: number;
  width: number;
  /** Number of classes; labels are in [0, numClasses). */
  numClasses: number;
  /** Class names in label order when the format carries them. */
  classNames?: string[];
  source: SourceInfo;
}

/** Bytes of one packed HWC RGB image. */
export function imageBytes(height: number, width: number): number {
  return height * width * 3;
}

/** Image `i` of a set as an {@link ImageU8} view (no copy). */
export function imageAt(set: LabeledImages, i: number): ImageU8 {
  if (!Number.isInteger(i) || i < 0 || i >= set.count) throw new RangeError(`imageAt: index ${i} outside [0, ${set.count})`);
  const n = imageBytes(set.height, set.width);
  return { data: set.images.subarray(i * n, (i + 1) * n), height: set.height, width: set.width };
}

/** The first `limit` images of a set (views, no copy). */
export function takeFirst(set: LabeledImages, limit: number): LabeledImages {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`takeFirst: limit must be a positive integer, got ${limit}`);
  if (limit >= set.count) return set;
  const n = imageBytes(set.height, set.width);
  return {
    ...set,
    images: set.images.subarray(0, limit * n),
    labels: set.labels.subarray(0, limit),
    count: limit,
    source: { ...set.source, description: `${set.source.description} (first ${limit})` },
  };
}
