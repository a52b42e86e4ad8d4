import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  corruptedSource,
  createStream,
  DatasetError,
  IMAGE_SEEDING,
  takeFirst,
  type CorruptFn,
  type LabeledImages,
  type StreamBatch,
} from '@edgetta/datasets';
import { CORRUPT_MANIFEST_FILE, openCifarCSource, readCifar10, writeNpyFile } from '@edgetta/datasets/node';

const TEST_BATCH = join(new URL('../../../shared/data/', import.meta.url).pathname, 'cifar10/test_batch.bin');
let tmp: string;
let clean: LabeledImages;

const fake: CorruptFn = (image, name, severity, rng) => {
  const shift = rng.int(0, 256);
  const data = new Uint8Array(image.data.length);
  for (let i = 0; i < data.length; i++) data[i] = (image.data[i] * (severity + 1) + shift + name.length) & 255;
  return { data, height: image.height, width: image.width };
};

/** Writes `<dir>/<c>.npy` for severities 1-5 from a generated source, as `edgetta corrupt` would. */
async function writeArrays(dir: string, corruptions: ('fog' | 'snow')[], seed: number, sidecar: boolean, severities = [1, 2, 3, 4, 5] as const): Promise<void> {
  await mkdir(dir, { recursive: true });
  const source = corruptedSource(clean, { seed, corrupt: fake });
  const n = clean.count;
  const all = Int32Array.from({ length: n }, (_, i) => i);
  for (const c of corruptions) {
    const data = new Uint8Array(severities.length * n * 3072);
    for (const [b, s] of severities.entries()) await source.read({ corruption: c, severity: s }, all, data.subarray(b * n * 3072, (b + 1) * n * 3072));
    await writeNpyFile(join(dir, `${c}.npy`), data, 'uint8', [severities.length * n, 32, 32, 3]);
  }
  const labels = new BigInt64Array(severities.length * n);
  for (let i = 0; i < labels.length; i++) labels[i] = BigInt(clean.labels[i % n]);
  await writeNpyFile(join(dir, 'labels.npy'), labels, 'int64', [labels.length]);
  if (sidecar) {
    await writeFile(
      join(dir, CORRUPT_MANIFEST_FILE),
      JSON.stringify({ format: 'edgetta.corrupt/1', seed, severities, corruptions, count: n, height: 32, width: 32, seeding: IMAGE_SEEDING, input: { path: 'x', description: 'x' }, files: {} }),
    );
  }
}

async function collect(stream: AsyncIterable<StreamBatch>): Promise<StreamBatch[]> {
  const out: StreamBatch[] = [];
  for await (const b of stream) out.push(b);
  return out;
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'edgetta-cifarc-'));
  clean = takeFirst(await readCifar10(TEST_BATCH), 300);
  await writeArrays(join(tmp, 'released'), ['fog', 'snow'], 42, false);
  await writeArrays(join(tmp, 'partial'), ['fog'], 42, true, [2, 5] as never);
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('streams over CIFAR-10-C arrays on disk', () => {
  it('yield exactly the batches of the generated stream with the same seeds', async () => {
    const disk = await openCifarCSource(join(tmp, 'released'));
    expect(disk.count).toBe(300);
    expect(disk.manifest).toMatchObject({ kind: 'cifar-c', count: 300, height: 32, width: 32, numClasses: 10, severities: [1, 2, 3, 4, 5] });
    const opts = { protocol: 'dirichlet:0.1', seed: 9, batchSize: 64, corruptions: ['fog', 'snow'] as ('fog' | 'snow')[], severities: [2, 5] as (2 | 5)[] };
    const a = await collect(createStream(disk, opts));
    const b = await collect(createStream(corruptedSource(clean, { seed: 42, corrupt: fake }), opts));
    expect(a.length).toBe(b.length);
    expect(a.length).toBeGreaterThan(4);
    for (let k = 0; k < a.length; k++) {
      expect(Array.from(a[k].indices)).toEqual(Array.from(b[k].indices));
      expect(Array.from(a[k].labels)).toEqual(Array.from(b[k].labels));
      expect(Buffer.compare(Buffer.from(a[k].pixels), Buffer.from(b[k].pixels))).toBe(0);
    }
    await disk.close();
  });

  it('reads the severities an edgetta-corrupt.json sidecar declares', async () => {
    const disk = await openCifarCSource(join(tmp, 'partial'));
    expect(disk.severities).toEqual([2, 5]);
    expect(disk.manifest.corruptionSeed).toBe(42);
    const [batch] = await collect(createStream(disk, { protocol: 'continual', seed: 1, batchSize: 300, corruptions: ['fog'], severities: [5] }));
    const gen = corruptedSource(clean, { seed: 42, corrupt: fake });
    const want = new Uint8Array(300 * 3072);
    await gen.read({ corruption: 'fog', severity: 5 }, batch.indices, want);
    expect(Buffer.compare(Buffer.from(batch.pixels), Buffer.from(want))).toBe(0);
    // a severity the files do not hold is an error naming the file
    const s3 = createStream(disk, { protocol: 'continual', seed: 1, batchSize: 10, corruptions: ['fog'], severities: [3] });
    const err = await collect(s3).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect((err as Error).message).toBe(`${join(tmp, 'partial', 'fog.npy')}: severity 3 is not in this file (it holds [2, 5])`);
    await disk.close();
  });

  it('names a missing corruption file, a missing labels.npy and a labels/images count mismatch', async () => {
    const disk = await openCifarCSource(join(tmp, 'released'));
    const stream = createStream(disk, { protocol: 'continual', seed: 1, batchSize: 10, corruptions: ['fog', 'frost'] });
    const err = await stream.prepare().catch((e: unknown) => e);
    expect((err as DatasetError).source).toBe(join(tmp, 'released', 'frost.npy'));
    expect((err as Error).message).toMatch(/no such file/);
    await expect(createStream(disk, { protocol: 'continual', seed: 1, batchSize: 10, corruptions: ['fog', 'snow'] }).prepare()).resolves.toBeUndefined();
    await disk.close();
    const empty = join(tmp, 'empty');
    await mkdir(empty);
    await expect(openCifarCSource(empty)).rejects.toThrow(`${join(empty, 'labels.npy')}: no such file or directory`);
    const mismatch = join(tmp, 'mismatch');
    await writeArrays(mismatch, ['fog'], 1, false);
    await writeNpyFile(join(mismatch, 'labels.npy'), new Uint8Array(5 * 299), 'uint8', [5 * 299]);
    await expect(openCifarCSource(mismatch)).rejects.toThrow(`${join(mismatch, 'fog.npy')}: 300 images per severity but labels.npy has 299 per severity`);
  });
});
