import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode as encodePng } from 'fast-png';
import jpeg from 'jpeg-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetError, writeNpy } from '@edgetta/datasets';
import { readImageFolder, readNpyImages } from '@edgetta/datasets/node';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'edgetta-images-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function rgb(h: number, w: number, seed: number): Uint8Array {
  const a = new Uint8Array(h * w * 3);
  for (let i = 0; i < a.length; i++) a[i] = (i * 37 + seed * 11) & 255;
  return a;
}

describe('image folder', () => {
  it('labels images by sorted sub-folder name and decodes PNG (RGB, RGBA, gray) exactly and JPEG closely', async () => {
    const root = join(tmp, 'folder');
    for (const c of ['dog', 'cat', 'zebra']) await mkdir(join(root, c), { recursive: true });
    const a = rgb(6, 5, 1);
    await writeFile(join(root, 'dog', 'b.png'), encodePng({ width: 5, height: 6, data: a, channels: 3, depth: 8 }));
    const rgba = new Uint8Array(6 * 5 * 4);
    for (let p = 0; p < 30; p++) rgba.set([p, 2 * p, 3 * p, 128], p * 4);
    await writeFile(join(root, 'dog', 'a.png'), encodePng({ width: 5, height: 6, data: rgba, channels: 4, depth: 8 }));
    const gray = Uint8Array.from({ length: 30 }, (_, i) => i * 8);
    await writeFile(join(root, 'cat', 'g.png'), encodePng({ width: 5, height: 6, data: gray, channels: 1, depth: 8 }));
    const smooth = new Uint8Array(6 * 5 * 4).fill(120);
    await writeFile(join(root, 'zebra', 'z.jpg'), jpeg.encode({ width: 5, height: 6, data: smooth }, 95).data);
    await writeFile(join(root, 'zebra', 'notes.txt'), 'ignored');

    const set = await readImageFolder(root);
    expect(set.classNames).toEqual(['cat', 'dog', 'zebra']);
    expect(Array.from(set.labels)).toEqual([0, 1, 1, 2]);
    expect([set.count, set.height, set.width]).toEqual([4, 6, 5]);
    const img = (i: number) => set.images.subarray(i * 90, (i + 1) * 90);
    expect(Array.from(img(0).subarray(0, 6))).toEqual([0, 0, 0, 8, 8, 8]);
    expect(Array.from(img(1).subarray(3, 6))).toEqual([1, 2, 3]); // a.png, alpha dropped
    expect(img(2)).toEqual(a); // b.png
    for (const v of img(3)) expect(Math.abs(v - 120)).toBeLessThanOrEqual(2);
  });

  it('names the file whose size differs, and the folder without classes', async () => {
    const root = join(tmp, 'mixed-size');
    await mkdir(join(root, 'a'), { recursive: true });
    await writeFile(join(root, 'a', '1.png'), encodePng({ width: 4, height: 4, data: rgb(4, 4, 0), channels: 3, depth: 8 }));
    await writeFile(join(root, 'a', '2.png'), encodePng({ width: 8, height: 4, data: rgb(4, 8, 0), channels: 3, depth: 8 }));
    const err = await readImageFolder(root).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect((err as DatasetError).source).toBe(join(root, 'a', '2.png'));
    expect((err as Error).message).toMatch(/image is 8x4 but the first image \(a\/1\.png\) is 4x4/);
    await writeFile(join(root, 'a', '3.png'), 'not a png');
    const empty = join(tmp, 'no-classes');
    await mkdir(empty);
    await expect(readImageFolder(empty)).rejects.toThrow(/no class sub-folders/);
  });

  it('names a corrupt image file', async () => {
    const root = join(tmp, 'corrupt');
    await mkdir(join(root, 'a'), { recursive: true });
    await writeFile(join(root, 'a', 'x.jpg'), 'definitely not a jpeg');
    const err = await readImageFolder(root).catch((e: unknown) => e);
    expect((err as DatasetError).source).toBe(join(root, 'a', 'x.jpg'));
    expect((err as Error).message).toMatch(/cannot decode image/);
  });
});

describe('NumPy images + labels files', () => {
  it('reads a uint8 NHWC array with int64 labels', async () => {
    const images = join(tmp, 'images.npy');
    const labels = join(tmp, 'labels.npy');
    await writeFile(images, writeNpy(rgb(3 * 8, 8, 2), 'uint8', [3, 8, 8, 3]));
    await writeFile(labels, writeNpy(BigInt64Array.from([2n, 0n, 1n]), 'int64', [3]));
    const set = await readNpyImages(images, labels);
    expect([set.count, set.height, set.width, set.numClasses]).toEqual([3, 8, 8, 3]);
    expect(Array.from(set.labels)).toEqual([2, 0, 1]);
    expect(set.images).toEqual(rgb(3 * 8, 8, 2));
  });

  it('names the labels file on a count mismatch', async () => {
    const images = join(tmp, 'images2.npy');
    const labels = join(tmp, 'labels2.npy');
    await writeFile(images, writeNpy(new Uint8Array(2 * 4 * 4 * 3), 'uint8', [2, 4, 4, 3]));
    await writeFile(labels, writeNpy(Int32Array.from([0, 1, 2]), 'int32', [3]));
    await expect(readNpyImages(images, labels)).rejects.toThrow(`${labels}: 3 labels for 2 images in ${images}`);
  });
});
