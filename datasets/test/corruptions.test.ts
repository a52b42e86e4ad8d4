/**
 * The corruption API: the registry, argument checks, seeding, purity (inputs never modified), asset
 * loading errors, and images other than 32x32.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readNpy } from '../src/loaders/npy.js';
import { Rng } from '../src/rng.js';
import {
  BENCHMARK_CORRUPTIONS,
  CORRUPTION_NAMES,
  HELD_OUT_CORRUPTIONS,
  corrupt,
  corruptions,
  frostPicturesLoaded,
  isJpegCodecLoaded,
  loadFrostPictures,
  type CorruptionName,
  type ImageU8,
  type Severity,
} from '../src/corruptions/index.js';
import { loadShippedFrostPictures, prepareCorruptions } from '../src/corruptions/frost-assets-node.js';

const FIXTURE = new URL('../../../shared/data/cifar10-c-reference-sample/', import.meta.url);
const clean = readNpy(new Uint8Array(readFileSync(new URL('clean.npy', FIXTURE))), 'clean.npy').data as Uint8Array;
const cifar = (i: number): ImageU8 => ({ data: clean.slice(i * 3072, (i + 1) * 3072), height: 32, width: 32 });
const ALL = CORRUPTION_NAMES as CorruptionName[];
const RANDOM = ALL.filter((n) => corruptions[n].random);

/** An image of any size made of CIFAR pixels (tiled), so it has natural colours and edges. */
function tiled(height: number, width: number, from = 0): ImageU8 {
  const src = cifar(from).data;
  const data = new Uint8Array(height * width * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(src.subarray(((y % 32) * 32 + (x % 32)) * 3, ((y % 32) * 32 + (x % 32)) * 3 + 3), (y * width + x) * 3);
  return { data, height, width };
}

describe('assets that load asynchronously', () => {
  // Runs first in this file (fresh module state): nothing is loaded yet.
  it('jpeg_compression and frost explain how to load what they need', () => {
    expect(isJpegCodecLoaded()).toBe(false);
    expect(frostPicturesLoaded()).toBe(false);
    expect(() => corrupt(cifar(0), 'jpeg_compression', 3, new Rng(1))).toThrow(/loadJpegCodec/);
    expect(() => corrupt(cifar(0), 'frost', 3, new Rng(1))).toThrow(/loadFrostPictures/);
  });

  it('loadFrostPictures rejects a wrong file list and undecodable bytes, naming the file', async () => {
    await expect(loadFrostPictures([new Uint8Array(8)])).rejects.toThrow(/expected the 6 files/);
    const junk = Array.from({ length: 6 }, () => new Uint8Array([1, 2, 3, 4]));
    await expect(loadFrostPictures(junk)).rejects.toThrow(/frost1\.png: neither a PNG nor a JPEG/);
    await expect(loadShippedFrostPictures('/nonexistent/frost')).rejects.toThrow(/cannot read \/nonexistent\/frost\/frost1\.png/);
  });

  it('prepareCorruptions loads the codec and the shipped frost pictures', async () => {
    await prepareCorruptions();
    expect(isJpegCodecLoaded()).toBe(true);
    expect(frostPicturesLoaded()).toBe(true);
    expect(corrupt(cifar(0), 'jpeg_compression', 3, new Rng(1)).data.length).toBe(3072);
  });
});

describe('registry', () => {
  it('holds the 15 benchmark and 4 held-out corruptions as frozen plain objects', () => {
    expect(Object.keys(corruptions)).toEqual([...BENCHMARK_CORRUPTIONS, ...HELD_OUT_CORRUPTIONS]);
    expect(Object.isFrozen(corruptions)).toBe(true);
    for (const name of ALL) {
      const c = corruptions[name];
      expect(c.name).toBe(name);
      expect(c.heldOut).toBe((HELD_OUT_CORRUPTIONS as readonly string[]).includes(name));
      expect(Object.isFrozen(c)).toBe(true);
    }
    expect(RANDOM.sort()).toEqual(
      ['elastic_transform', 'fog', 'frost', 'gaussian_noise', 'glass_blur', 'impulse_noise', 'motion_blur', 'shot_noise', 'snow', 'spatter', 'speckle_noise'].sort(),
    );
  });
});

describe('argument checks', () => {
  it('rejects an unknown corruption, listing the valid names', () => {
    expect(() => corrupt(cifar(0), 'fisheye' as CorruptionName, 1, new Rng(0))).toThrow(/unknown corruption "fisheye"; valid names: gaussian_noise, .*saturate/);
  });

  it.each([0, 6, 2.5, -1, NaN, '3', undefined])('rejects severity %s, naming the argument', (s) => {
    expect(() => corrupt(cifar(0), 'contrast', s as unknown as Severity, new Rng(0))).toThrow(/severity must be an integer from 1 to 5/);
  });

  it('rejects images with the wrong data length or an unsupported shape', () => {
    expect(() => corrupt({ data: new Uint8Array(100), height: 32, width: 32 }, 'contrast', 1, new Rng(0))).toThrow(
      /data has 100 bytes but a 32x32 RGB image needs 3072/,
    );
    expect(() => corrupt({ data: new Uint8Array(48), height: 4, width: 4 }, 'contrast', 1, new Rng(0))).toThrow(/unsupported shape 4x4/);
    expect(() => corrupt({ data: new Uint8Array(3072), height: 32.5, width: 32 }, 'contrast', 1, new Rng(0))).toThrow(/unsupported shape/);
    expect(() => corrupt({ data: new Float32Array(3072) as unknown as Uint8Array, height: 32, width: 32 }, 'contrast', 1, new Rng(0))).toThrow(
      /must be a Uint8Array/,
    );
  });

  it('asks for an Rng for random corruptions', () => {
    expect(() => corrupt(cifar(0), 'gaussian_noise', 1, undefined as unknown as Rng)).toThrow(/pass a seeded Rng/);
  });
});

describe('seeding and purity', () => {
  it.each(ALL)('%s: same seed gives the same output; the input is never modified', async (name) => {
    await prepareCorruptions();
    for (const s of [1, 5] as Severity[]) {
      const img = cifar(3);
      const before = img.data.slice();
      const a = corrupt(img, name, s, new Rng(42));
      const b = corrupt(img, name, s, new Rng(42));
      expect(img.data).toEqual(before);
      expect(a.data).toEqual(b.data);
      expect(a.data).not.toBe(img.data);
      expect([a.height, a.width, a.data.length]).toEqual([32, 32, 3072]);
    }
  });

  it.each(RANDOM)('%s: different seeds give different outputs', async (name) => {
    await prepareCorruptions();
    const img = cifar(5);
    const a = corrupt(img, name, 3, new Rng(1)).data;
    const b = corrupt(img, name, 3, new Rng(2)).data;
    expect(a).not.toEqual(b);
  });

  it('consumes the rng: consecutive calls on one Rng differ, and replaying the seed replays the sequence', () => {
    const rng = new Rng(9);
    const first = corrupt(cifar(0), 'fog', 2, rng).data;
    const second = corrupt(cifar(0), 'fog', 2, rng).data;
    expect(first).not.toEqual(second);
    const replay = new Rng(9);
    expect(corrupt(cifar(0), 'fog', 2, replay).data).toEqual(first);
    expect(corrupt(cifar(0), 'fog', 2, replay).data).toEqual(second);
  });
});

describe('images other than 32x32', () => {
  it.each(ALL)('%s works on 48x40, 64x64 and the smallest supported (8x8, 9x13) images at every severity', async (name) => {
    await prepareCorruptions();
    for (const [h, w] of [
      [48, 40],
      [64, 64],
      [8, 8],
      [9, 13],
    ]) {
      const img = tiled(h, w, 7);
      const before = img.data.slice();
      for (const s of [1, 2, 3, 4, 5] as Severity[]) {
        const out = corrupt(img, name, s, new Rng(s));
        expect([out.height, out.width, out.data.length]).toEqual([h, w, h * w * 3]);
        expect(out.data).toBeInstanceOf(Uint8Array);
        // Every corruption visibly changes a natural image at severity 5.
        if (s === 5 && h >= 32) {
          let diff = 0;
          for (let k = 0; k < out.data.length; k++) diff += Math.abs(out.data[k] - img.data[k]);
          expect(diff / out.data.length, `${name} ${h}x${w}`).toBeGreaterThan(0.5);
        }
      }
      expect(img.data).toEqual(before);
    }
  });

  it.each(['brightness', 'contrast', 'saturate'] as CorruptionName[])('%s is per pixel: a 64x64 tiling of a CIFAR image gives the tiling of its 32x32 output', (name) => {
    const small = corrupt(cifar(7), name, 4, new Rng(0));
    const big = corrupt(tiled(64, 64, 7), name, 4, new Rng(0));
    expect(big.data).toEqual(tileOf(small, 64, 64));
  });

  it('spatial corruptions follow the image size (no 32x32 constants left)', () => {
    // A constant image stays constant (up to the reference's truncation of x/255*255) under every
    // corruption that only moves or averages pixels, at any size: no out-of-range reads or lost borders.
    const flat: ImageU8 = { data: new Uint8Array(40 * 56 * 3).fill(100), height: 40, width: 56 };
    for (const name of ['glass_blur', 'pixelate', 'zoom_blur', 'defocus_blur', 'gaussian_blur', 'motion_blur', 'elastic_transform'] as CorruptionName[]) {
      const out = corrupt(flat, name, 5, new Rng(3)).data;
      expect(Math.min(...out), name).toBeGreaterThanOrEqual(99);
      expect(Math.max(...out), name).toBeLessThanOrEqual(100);
    }
  });
});

function tileOf(img: ImageU8, height: number, width: number): Uint8Array {
  const data = new Uint8Array(height * width * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = ((y % img.height) * img.width + (x % img.width)) * 3;
      data.set(img.data.subarray(p, p + 3), (y * width + x) * 3);
    }
  }
  return data;
}
