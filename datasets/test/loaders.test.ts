import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bytesReader,
  DatasetError,
  encodeCifar10,
  labeledImagesFromArrays,
  openCifarC,
  parseCifar10,
  parseCifar100,
  readCifarCLabels,
  toFloat32,
  writeNpy,
  type LabeledImages,
  type RandomAccessReader,
} from '@edgetta/datasets';
import {
  createNpyWriter,
  fileReader,
  openNpyFile,
  readCifar10,
  readCifar100,
  readNpyFile,
  writeNpyFile,
} from '@edgetta/datasets/node';
import * as tar from 'tar';

const SHARED = new URL('../../../shared/data/', import.meta.url).pathname;
const TEST_BATCH = join(SHARED, 'cifar10/test_batch.bin');
const SAMPLE = join(SHARED, 'cifar10-c-reference-sample');

let tmp: string;
let test: LabeledImages;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'edgetta-loaders-'));
  test = await readCifar10(TEST_BATCH, { sha256: true });
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** A small CIFAR-10 set whose pixels encode (image, position, channel), so any mix-up shows. */
function synthetic(count: number, offset = 0): LabeledImages {
  const images = new Uint8Array(count * 3072);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    labels[i] = (i + offset) % 10;
    for (let p = 0; p < 1024; p++) for (let c = 0; c < 3; c++) images[i * 3072 + p * 3 + c] = (i + offset + p * 7 + c * 101) & 255;
  }
  return { images, labels, count, height: 32, width: 32, numClasses: 10, source: { format: 'test', description: 'synthetic' } };
}

async function expectDatasetError(p: Promise<unknown> | (() => unknown), source: string, pattern: RegExp): Promise<void> {
  let error: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(DatasetError);
  expect((error as DatasetError).source).toBe(source);
  expect((error as Error).message).toMatch(pattern);
  expect((error as Error).message).not.toContain('\n');
}

describe('CIFAR-10 binary', () => {
  it('reads the shared test set: 10,000 records, 1,000 per class, sha256 recorded', () => {
    expect(test.count).toBe(10_000);
    expect(test.height).toBe(32);
    expect(test.width).toBe(32);
    expect(test.images.length).toBe(10_000 * 3072);
    const perClass = new Array(10).fill(0);
    for (const y of test.labels) {
      expect(y).toBeGreaterThanOrEqual(0);
      expect(y).toBeLessThan(10);
      perClass[y]++;
    }
    expect(perClass).toEqual(new Array(10).fill(1000));
    expect(test.source.sha256).toBe('853539eb6c9865bc80e8ddf3f3d58b4e46359594f65dabd58eecdde4d67a7a11');
    expect(test.classNames?.[0]).toBe('airplane');
  });

  it('converts planar records to HWC exactly as the reference sample stores them', async () => {
    const clean = await readNpyFile(join(SAMPLE, 'clean.npy'));
    const labels = await readNpyFile(join(SAMPLE, 'labels.npy'));
    expect(clean.shape).toEqual([16, 32, 32, 3]);
    expect(Buffer.compare(Buffer.from(test.images.subarray(0, 16 * 3072)), Buffer.from(clean.data as Uint8Array))).toBe(0);
    expect(Array.from(test.labels.subarray(0, 16))).toEqual(Array.from(labels.data as Uint8Array));
  });

  it('reads the training subset too', async () => {
    const train = await readCifar10(join(SHARED, 'cifar10/train_subset.bin'));
    expect(train.count).toBe(10_000);
  });

  it('round-trips through encodeCifar10', () => {
    const s = synthetic(7);
    const back = parseCifar10(encodeCifar10(s), 'x');
    expect(back.images).toEqual(s.images);
    expect(back.labels).toEqual(s.labels);
  });

  it('rejects a wrong file size and a label byte out of range, naming the file', async () => {
    await expectDatasetError(() => parseCifar10(new Uint8Array(3073 * 2 + 5), 'bad.bin'), 'bad.bin', /not a positive multiple of the 3073-byte record/);
    await expectDatasetError(() => parseCifar10(new Uint8Array(0), 'empty.bin'), 'empty.bin', /3073-byte record/);
    const bytes = encodeCifar10(synthetic(3));
    bytes[3073] = 12;
    await expectDatasetError(() => parseCifar10(bytes, 'labels.bin'), 'labels.bin', /record 1 has label byte 12/);
    await expectDatasetError(readCifar10(join(tmp, 'missing.bin')), join(tmp, 'missing.bin'), /no such file/);
  });

  it('reads a directory, with or without the archive folder, for both splits', async () => {
    const flat = join(tmp, 'flat');
    const nested = join(tmp, 'nested', 'cifar-10-batches-bin');
    await mkdir(flat, { recursive: true });
    await mkdir(nested, { recursive: true });
    for (const dir of [flat, nested]) {
      await writeFile(join(dir, 'test_batch.bin'), encodeCifar10(synthetic(5, 100)));
      for (let b = 1; b <= 5; b++) await writeFile(join(dir, `data_batch_${b}.bin`), encodeCifar10(synthetic(3, b * 10)));
    }
    const a = await readCifar10(flat);
    const b = await readCifar10(join(tmp, 'nested'));
    expect(a.images).toEqual(synthetic(5, 100).images);
    expect(b.images).toEqual(a.images);
    const train = await readCifar10(join(tmp, 'nested'), { split: 'train' });
    expect(train.count).toBe(15);
    expect(Array.from(train.labels)).toEqual([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2]);
    expect(train.images.subarray(3 * 3072, 4 * 3072)).toEqual(synthetic(1, 20).images);
    const empty = join(tmp, 'empty-dir');
    await mkdir(empty);
    await expectDatasetError(readCifar10(empty), empty, /no CIFAR-10 test file .*test_batch\.bin/);
  });
});

describe('official .tar.gz archives', () => {
  it('reads cifar-10-binary.tar.gz directly (test and train splits)', async () => {
    const root = join(tmp, 'tar10');
    await mkdir(join(root, 'cifar-10-batches-bin'), { recursive: true });
    await writeFile(join(root, 'cifar-10-batches-bin', 'test_batch.bin'), encodeCifar10(synthetic(6, 3)));
    for (let b = 1; b <= 5; b++) await writeFile(join(root, 'cifar-10-batches-bin', `data_batch_${b}.bin`), encodeCifar10(synthetic(2, b)));
    await writeFile(join(root, 'cifar-10-batches-bin', 'batches.meta.txt'), 'airplane\n');
    const archive = join(tmp, 'cifar-10-binary.tar.gz');
    await tar.c({ gzip: true, file: archive, cwd: root }, ['cifar-10-batches-bin']);
    const t = await readCifar10(archive);
    expect(t.count).toBe(6);
    expect(t.images).toEqual(synthetic(6, 3).images);
    expect(t.source.description).toBe(`${archive}:cifar-10-batches-bin/test_batch.bin`);
    const train = await readCifar10(archive, { split: 'train' });
    expect(train.count).toBe(10);
    expect(train.images.subarray(8 * 3072)).toEqual(synthetic(2, 5).images);
  });

  it('names the archive when it is not gzip, or lacks the batch', async () => {
    const fake = join(tmp, 'fake.tar.gz');
    await writeFile(fake, 'this is not gzip data at all');
    await expectDatasetError(readCifar10(fake), fake, /not a gzip-compressed tar archive/);
    const root = join(tmp, 'tar-empty');
    await mkdir(join(root, 'cifar-10-batches-bin'), { recursive: true });
    await writeFile(join(root, 'cifar-10-batches-bin', 'readme.html'), 'x');
    const archive = join(tmp, 'no-batch.tar.gz');
    await tar.c({ gzip: true, file: archive, cwd: root }, ['cifar-10-batches-bin']);
    await expectDatasetError(readCifar10(archive), archive, /archive has no test_batch\.bin/);
  });
});

describe('CIFAR-100 binary', () => {
  function cifar100Bytes(count: number): Uint8Array {
    const out = new Uint8Array(count * 3074);
    for (let i = 0; i < count; i++) {
      out[i * 3074] = i % 20; // coarse
      out[i * 3074 + 1] = (i * 7) % 100; // fine
      for (let p = 0; p < 3072; p++) out[i * 3074 + 2 + p] = (i * 3 + p) & 255;
    }
    return out;
  }

  it('reads fine and coarse labels and planar pixels', () => {
    const bytes = cifar100Bytes(30);
    const fine = parseCifar100(bytes, 'test.bin');
    const coarse = parseCifar100(bytes, 'test.bin', 'coarse');
    expect(fine.count).toBe(30);
    expect(fine.numClasses).toBe(100);
    expect(coarse.numClasses).toBe(20);
    expect(fine.labels[29]).toBe((29 * 7) % 100);
    expect(coarse.labels[29]).toBe(29 % 20);
    // image 2, pixel (0, 1): R at planar offset 1, G at 1025, B at 2049
    expect(Array.from(fine.images.subarray(2 * 3072 + 3, 2 * 3072 + 6))).toEqual([(6 + 1) & 255, (6 + 1025) & 255, (6 + 2049) & 255]);
  });

  it('rejects CIFAR-10 records and out-of-range labels', async () => {
    await expectDatasetError(() => parseCifar100(new Uint8Array(3073 * 2), 'c10.bin'), 'c10.bin', /3074-byte record/);
    const bytes = cifar100Bytes(2);
    bytes[3074 + 1] = 100;
    await expectDatasetError(() => parseCifar100(bytes, 'x.bin'), 'x.bin', /fine labels are 0-99/);
  });

  it('reads cifar-100-binary.tar.gz', async () => {
    const root = join(tmp, 'tar100');
    await mkdir(join(root, 'cifar-100-binary'), { recursive: true });
    await writeFile(join(root, 'cifar-100-binary', 'test.bin'), cifar100Bytes(12));
    await writeFile(join(root, 'cifar-100-binary', 'train.bin'), cifar100Bytes(4));
    const archive = join(tmp, 'cifar-100-binary.tar.gz');
    await tar.c({ gzip: true, file: archive, cwd: root }, ['cifar-100-binary']);
    const t = await readCifar100(archive, { label: 'coarse' });
    expect(t.count).toBe(12);
    expect(Array.from(t.labels)).toEqual(Array.from({ length: 12 }, (_, i) => i % 20));
    expect((await readCifar100(archive, { split: 'train' })).count).toBe(4);
  });
});

/** Wraps a reader and records every byte range read. */
function countingReader(inner: RandomAccessReader): RandomAccessReader & { bytesRead: number; reads: number } {
  const r = {
    name: inner.name,
    size: inner.size,
    bytesRead: 0,
    reads: 0,
    async read(offset: number, length: number) {
      r.bytesRead += length;
      r.reads++;
      return inner.read(offset, length);
    },
    close: () => inner.close(),
  };
  return r;
}

describe('CIFAR-10-C .npy arrays', () => {
  const N = 20;
  /** Row r = (s - 1) * N + i is filled with a value encoding severity s and image i. */
  function cifarCBytes(severities = 5): Uint8Array {
    const data = new Uint8Array(severities * N * 3072);
    for (let r = 0; r < severities * N; r++) data.fill((r * 11 + 1) & 255, r * 3072, (r + 1) * 3072);
    return writeNpy(data, 'uint8', [severities * N, 32, 32, 3]);
  }

  it('reads images by severity and index through byte offsets, never the whole file', async () => {
    const path = join(tmp, 'gaussian_noise.npy');
    await writeFile(path, cifarCBytes());
    const reader = countingReader(await fileReader(path));
    const arr = await openCifarC(reader);
    expect(arr.perSeverity).toBe(N);
    expect(arr.rowOf(3, 4)).toBe(2 * N + 4);
    const headerBytes = reader.bytesRead;
    const out = await arr.readImages(3, [4, 5, 6, 17]);
    expect(out.length).toBe(4 * 3072);
    for (const [k, i] of [4, 5, 6, 17].entries()) expect(out[k * 3072 + 100]).toBe((((2 * N + i) * 11 + 1) & 255));
    // consecutive rows 4,5,6 are one read, row 17 another
    expect(reader.bytesRead - headerBytes).toBe(4 * 3072);
    expect(reader.reads).toBe(2 + 2);
    expect(reader.bytesRead).toBeLessThan(reader.size / 10);
    await arr.close();
  });

  it('slices severities of a file that holds only some of them', async () => {
    const arr = await openCifarC(bytesReader(cifarCBytes(2), 'two.npy'), { severities: [2, 5] });
    const out = await arr.readImages(5, [0]);
    expect(out[0]).toBe(((N * 11 + 1) & 255));
    await expectDatasetError(arr.readImages(1, [0]), 'two.npy', /severity 1 is not in this file/);
  });

  it('rejects wrong size, header, shape and dtype, naming the file', async () => {
    const good = cifarCBytes(1);
    await expectDatasetError(openCifarC(bytesReader(good.subarray(0, good.length - 1), 'short.npy')), 'short.npy', /size mismatch/);
    await expectDatasetError(openCifarC(bytesReader(new TextEncoder().encode('PK\x03\x04 not numpy at all'), 'zip.npy')), 'zip.npy', /not a NumPy \.npy file/);
    const rgba = writeNpy(new Uint8Array(5 * 4 * 4 * 4), 'uint8', [5, 4, 4, 4]);
    await expectDatasetError(openCifarC(bytesReader(rgba, 'rgba.npy')), 'rgba.npy', /unsupported image array shape \[5, 4, 4, 4\]/);
    const floats = writeNpy(new Float32Array(5 * 4 * 4 * 3), 'float32', [5, 4, 4, 3]);
    await expectDatasetError(openCifarC(bytesReader(floats, 'f.npy')), 'f.npy', /must be uint8, got float32/);
    await expectDatasetError(openCifarC(bytesReader(cifarCBytes(1).subarray(0), 'odd.npy'), { severities: [1, 2, 3] }), 'odd.npy', /do not split into 3 severity blocks/);
  });

  it('reads labels.npy (int64 as released) and checks that blocks repeat', async () => {
    const labels = new BigInt64Array(5 * 4);
    for (let i = 0; i < labels.length; i++) labels[i] = BigInt((i % 4) * 2);
    expect(Array.from(await readCifarCLabels(bytesReader(writeNpy(labels, 'int64', [20]), 'labels.npy')))).toEqual([0, 2, 4, 6]);
    labels[13] = 9n;
    await expectDatasetError(readCifarCLabels(bytesReader(writeNpy(labels, 'int64', [20]), 'labels.npy')), 'labels.npy', /label 13 \(9\) differs from label 1/);
  });

  it('openNpyFile reads row ranges of any dtype', async () => {
    const path = join(tmp, 'rows.npy');
    await writeNpyFile(path, Float32Array.from({ length: 12 }, (_, i) => i / 2), 'float32', [6, 2]);
    const npy = await openNpyFile(path);
    expect(npy.rows).toBe(6);
    expect(Array.from((await npy.readRows(2, 2)) as Float32Array)).toEqual([2, 2.5, 3, 3.5]);
    await npy.close();
  });
});

describe('atomic .npy writer', () => {
  it('streams rows to a temporary file and renames it only on commit', async () => {
    const dir = join(tmp, 'atomic');
    await mkdir(dir);
    const w = await createNpyWriter(join(dir, 'a.npy'), 'uint8', [2, 3]);
    await w.write(new Uint8Array([1, 2, 3]));
    expect(await readdir(dir)).toEqual([w.tempPath.slice(dir.length + 1)]);
    await expect(w.commit()).rejects.toThrow(/only 3 of 6 data bytes/);
    await w.abort();
    expect(await readdir(dir)).toEqual([]);
    const w2 = await createNpyWriter(join(dir, 'a.npy'), 'uint8', [2, 3]);
    await w2.write(new Uint8Array([1, 2, 3]));
    await w2.write(new Uint8Array([4, 5, 6]));
    const sha = await w2.commit();
    expect(sha).toMatch(/^[0-9a-f]{64}$/);
    expect(await readdir(dir)).toEqual(['a.npy']);
    const back = await readNpyFile(join(dir, 'a.npy'));
    expect(back.shape).toEqual([2, 3]);
    expect(Array.from(back.data as Uint8Array)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

describe('generic arrays', () => {
  it('builds a set from NHWC uint8 images and labels; expands grayscale', () => {
    const rgb = labeledImagesFromArrays({ data: new Uint8Array(2 * 2 * 3 * 3).fill(9), dtype: 'uint8', shape: [2, 2, 3, 3] }, [1, 4]);
    expect(rgb.count).toBe(2);
    expect(rgb.height).toBe(2);
    expect(rgb.width).toBe(3);
    expect(rgb.numClasses).toBe(5);
    const gray = labeledImagesFromArrays({ data: Uint8Array.from([10, 20, 30, 40]), dtype: 'uint8', shape: [1, 2, 2] }, [0]);
    expect(Array.from(gray.images)).toEqual([10, 10, 10, 20, 20, 20, 30, 30, 30, 40, 40, 40]);
  });

  it('rejects a labels/images count mismatch and unsupported shapes', async () => {
    const img = { data: new Uint8Array(3 * 2 * 2 * 3), dtype: 'uint8' as const, shape: [3, 2, 2, 3] };
    await expectDatasetError(
      () => labeledImagesFromArrays(img, { data: Int32Array.from([0, 1]), shape: [2] }, { imagesName: 'x.npy', labelsName: 'y.npy' }),
      'y.npy',
      /2 labels for 3 images in x\.npy/,
    );
    await expectDatasetError(
      () => labeledImagesFromArrays({ data: new Uint8Array(8), dtype: 'uint8', shape: [2, 2, 2] as number[] }, [0, 1, 0], { labelsName: 'l' }),
      'l',
      /3 labels for 2 images/,
    );
    await expectDatasetError(
      () => labeledImagesFromArrays({ data: new Uint8Array(2 * 4 * 4 * 2), dtype: 'uint8', shape: [2, 4, 4, 2] }, [0, 1], { imagesName: 'la.npy' }),
      'la.npy',
      /unsupported image array shape \[2, 4, 4, 2\]/,
    );
    await expectDatasetError(() => labeledImagesFromArrays(img, [0, -1, 2], { labelsName: 'neg' }), 'neg', /label 1 is -1/);
  });
});

describe('preprocessing to float tensors', () => {
  // two 1x2 images: pixels (r, g, b)
  const px = Uint8Array.from([0, 51, 102, 255, 204, 153, 10, 20, 30, 40, 50, 60]);

  it('defaults to NCHW float32 RGB in [0, 1]', () => {
    const t = toFloat32(px, 2, 1, 2);
    const want = [0, 255, 51, 204, 102, 153, 10, 40, 20, 50, 30, 60].map((v) => Math.fround(v / 255));
    expect(Array.from(t)).toEqual(want);
  });

  it('applies mean/std, NHWC layout and BGR order', () => {
    const t = toFloat32(px, 1, 1, 2, { layout: 'nhwc', channelOrder: 'bgr', scale: 1, mean: [100, 0, 0], std: [2, 1, 1] });
    expect(Array.from(t)).toEqual([(102 - 100) / 2, 51, 0, (153 - 100) / 2, 204, 255]);
    expect(() => toFloat32(px, 1, 1, 2, { std: [1, 0, 1] })).toThrow(/std must be finite and non-zero/);
  });

  it('matches a direct computation on a real CIFAR image', () => {
    const t = toFloat32(test.images.subarray(0, 3072), 1, 32, 32, { mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.243, 0.261] });
    // pixel (5, 7), green channel
    const v = test.images[(5 * 32 + 7) * 3 + 1];
    expect(t[1024 + 5 * 32 + 7]).toBeCloseTo((v / 255 - 0.4822) / 0.243, 5);
  });
});

describe('copying files keeps loaders honest', () => {
  it('reads a copy of test_batch.bin given as a directory', async () => {
    const dir = join(tmp, 'copy');
    await mkdir(dir);
    await copyFile(TEST_BATCH, join(dir, 'test_batch.bin'));
    const again = await readCifar10(dir, { sha256: true });
    expect(again.source.sha256).toBe(test.source.sha256);
    expect(again.labels).toEqual(test.labels);
  });
});
