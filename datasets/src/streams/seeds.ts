/**
 * Derived seeds. A stream or a corruption run has one user seed; each consumer gets its own
 * generator seeded from (seed, purpose, ...), so adding a consumer never shifts another's
 * numbers. Seeds are 32-bit, mixed with the murmur3 finalizer; strings are hashed with FNV-1a.
 */
import { Rng } from '../rng.js';

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function absorb(h: number, word: number): number {
  return fmix32((Math.imul((h ^ word) >>> 0, 0x9e3779b1) + 0x7f4a7c15) >>> 0);
}

/** A 32-bit seed from a user seed (any safe integer) and a path of labels or integers. */
export function deriveSeed(seed: number, ...path: (string | number)[]): number {
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`);
  let h = absorb(absorb(0x243f6a88, seed >>> 0), Math.floor(seed / 4294967296) >>> 0);
  for (const p of path) {
    if (typeof p === 'string') h = absorb(absorb(h, 0x51ed27), fnv1a(p));
    else {
      if (!Number.isSafeInteger(p)) throw new RangeError(`deriveSeed: path numbers must be safe integers, got ${p}`);
      h = absorb(absorb(h, p >>> 0), Math.floor(p / 4294967296) >>> 0);
    }
  }
  return h;
}

/** Name of the per-image seeding scheme, recorded in manifests and in `edgetta corrupt` output. */
export const IMAGE_SEEDING = 'edgetta-image-seed/1: Rng(deriveSeed(seed, "image", corruption, severity, index))';

/**
 * The seed of one corrupted image: depends only on (seed, corruption, severity, base image
 * index), never on stream order, so `edgetta corrupt` files and on-the-fly streams with the same
 * seed hold identical pixels.
 */
export function imageSeed(seed: number, corruption: string, severity: number, index: number): number {
  return deriveSeed(seed, 'image', corruption, severity, index);
}

/** The generator for one corrupted image: `new Rng(imageSeed(seed, corruption, severity, index))`. */
export function imageRng(seed: number, corruption: string, severity: number, index: number): Rng {
  return new Rng(imageSeed(seed, corruption, severity, index));
}
