/**
 * CIFAR-10 / CIFAR-100 binary format (https://www.cs.toronto.edu/~kriz/cifar.html).
 * A file is a sequence of fixed-size records: the label byte(s), then 3,072 bytes of a 32x32
 * image stored planar (1,024 R, then 1,024 G, then 1,024 B, each row-major). CIFAR-10 records
 * have one label byte; CIFAR-100 records have a coarse (0-19) then a fine (0-99) label byte.
 * Images are converted to the packed HWC layout of {@link LabeledImages}.
 */
import { DatasetError } from './errors.js';
import type { LabeledImages, SourceInfo } from './types.js';

export const CIFAR_SIDE = 32;
const PLANE = CIFAR_SIDE * CIFAR_SIDE;
const PIXELS = 3 * PLANE;

export const CIFAR10_CLASSES = [
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
] as const;

export type Cifar100Label = 'fine' | 'coarse';

/** Parses a CIFAR-10 binary batch (`data_batch_N.bin`, `test_batch.bin`). */
export function parseCifar10(bytes: Uint8Array, source = '<bytes>'): LabeledImages {
  return parseRecords(bytes, source, 1, 0, 10, { format: 'cifar10', description: source });
}

/** Parses a CIFAR-100 binary file (`train.bin`, `test.bin`); `label` picks fine (100) or coarse (20) labels. */
export function parseCifar100(bytes: Uint8Array, source = '<bytes>', label: Cifar100Label = 'fine'): LabeledImages {
  const set = parseRecords(bytes, source, 2, label === 'fine' ? 1 : 0, label === 'fine' ? 100 : 20, {
    format: 'cifar100',
    description: `${source} (${label} labels)`,
  });
  return set;
}

function parseRecords(
  bytes: Uint8Array,
  source: string,
  labelBytes: number,
  labelOffset: number,
  numClasses: number,
  info: SourceInfo,
): LabeledImages {
  const record = labelBytes + PIXELS;
  const kind = labelBytes === 1 ? 'CIFAR-10' : 'CIFAR-100';
  if (bytes.length === 0 || bytes.length % record !== 0) {
    throw new DatasetError(
      source,
      `not a ${kind} binary file: its ${bytes.length} bytes are not a positive multiple of the ${record}-byte record (${labelBytes} label byte${labelBytes > 1 ? 's' : ''} + 3072 pixels)`,
    );
  }
  const count = bytes.length / record;
  const labels = new Int32Array(count);
  const images = new Uint8Array(count * PIXELS);
  for (let i = 0; i < count; i++) {
    const base = i * record;
    for (let b = 0; b < labelBytes; b++) {
      const max = labelBytes === 1 ? 10 : b === 0 ? 20 : 100;
      if (bytes[base + b] >= max) {
        throw new DatasetError(
          source,
          `record ${i} has label byte ${bytes[base + b]} (${kind} ${labelBytes === 1 ? '' : b === 0 ? 'coarse ' : 'fine '}labels are 0-${max - 1}); not a ${kind} binary file`,
        );
      }
    }
    labels[i] = bytes[base + labelOffset];
    planarToHwc(bytes, base + labelBytes, images, i * PIXELS);
  }
  return {
    images,
    labels,
    count,
    height: CIFAR_SIDE,
    width: CIFAR_SIDE,
    numClasses,
    ...(labelBytes === 1 ? { classNames: [...CIFAR10_CLASSES] } : {}),
    source: info,
  };
}

/** Planar RRR..GGG..BBB (32x32) at `src[from]` to interleaved RGB at `dst[to]`. */
function planarToHwc(src: Uint8Array, from: number, dst: Uint8Array, to: number): void {
  const g = from + PLANE;
  const b = from + 2 * PLANE;
  for (let p = 0, o = to; p < PLANE; p++, o += 3) {
    dst[o] = src[from + p];
    dst[o + 1] = src[g + p];
    dst[o + 2] = src[b + p];
  }
}

/** Encodes images as CIFAR-10 records (the inverse of {@link parseCifar10}); used to build test files. */
export function encodeCifar10(set: Pick<LabeledImages, 'images' | 'labels' | 'count' | 'height' | 'width'>): Uint8Array {
  if (set.height !== CIFAR_SIDE || set.width !== CIFAR_SIDE) {
    throw new RangeError(`encodeCifar10: CIFAR records hold 32x32 images, got ${set.height}x${set.width}`);
  }
  const record = 1 + PIXELS;
  const out = new Uint8Array(set.count * record);
  for (let i = 0; i < set.count; i++) {
    const base = i * record;
    out[base] = set.labels[i];
    const img = i * PIXELS;
    for (let p = 0; p < PLANE; p++) {
      out[base + 1 + p] = set.images[img + 3 * p];
      out[base + 1 + PLANE + p] = set.images[img + 3 * p + 1];
      out[base + 1 + 2 * PLANE + p] = set.images[img + 3 * p + 2];
    }
  }
  return out;
}

/** Concatenates sets of the same image size (e.g. the five CIFAR-10 training batches). */
export function concatLabeledImages(parts: readonly LabeledImages[], source: SourceInfo): LabeledImages {
  if (parts.length === 0) throw new RangeError('concatLabeledImages: no parts');
  const { height, width, numClasses } = parts[0];
  let count = 0;
  for (const p of parts) {
    if (p.height !== height || p.width !== width) {
      throw new DatasetError(p.source.description, `image size ${p.height}x${p.width} differs from ${height}x${width}`);
    }
    count += p.count;
  }
  const images = new Uint8Array(count * height * width * 3);
  const labels = new Int32Array(count);
  let at = 0;
  for (const p of parts) {
    images.set(p.images, at * height * width * 3);
    labels.set(p.labels, at);
    at += p.count;
  }
  const classNames = parts[0].classNames;
  return { images, labels, count, height, width, numClasses, ...(classNames ? { classNames } : {}), source };
}
