/**
 * The benchmark's test data: clean CIFAR-10 corrupted on the fly (`--cifar10`) or CIFAR-10-C
 * arrays on disk (`--cifar10c`), as one {@link ImageSource} per seed, plus what the manifest
 * records about it (paths and sha256).
 */
import { join } from 'node:path';
import { corrupt, corruptedSource, takeFirst, type CorruptionName, type ImageSource, type LabeledImages, type StreamPlan } from '@edgetta/datasets';
import { openCifarCSource, pathKind, prepareCorruptions, readCifar10, sha256File, type CifarCSource } from '@edgetta/datasets/node';
import { UsageError } from '../cli-io.js';
import { prefetchSource } from './prefetch.js';

/** A source for one seed; `beginPass` (when present) is told each time a pass over the plan starts. */
export interface PassSource extends ImageSource {
  beginPass?(plan: StreamPlan): void;
  close?(): Promise<void>;
}

export interface BenchData {
  /** Plain JSON for the results manifest. */
  manifest: DataManifest;
  /** Images per domain available (after --limit). */
  count: number;
  sourceFor(seed: number): Promise<PassSource>;
  close(): Promise<void>;
}

export interface DataManifest {
  kind: 'cifar10' | 'cifar10c';
  path: string;
  /** sha256 of the data file, or of each file used (name -> hash) for a directory of arrays. */
  sha256: string | Record<string, string> | null;
  /** Images per domain used. */
  count: number;
  /** Only the first `limit` images were used. */
  limit: number | null;
  /** cifar10: corruptions are generated with the stream's seed; cifar10c: the seed the arrays were written with, if known. */
  corruptionSeed: number | 'stream seed' | null;
  description: string;
}

/** Clean CIFAR-10 (test_batch.bin, a directory, or the .tar.gz); corruptions generated per seed. */
export async function openGenerated(
  path: string,
  options: { limit?: number; corruptions: readonly CorruptionName[]; prefetch: boolean },
): Promise<BenchData> {
  let clean: LabeledImages = await readCifar10(path, { sha256: true });
  if (options.limit !== undefined) clean = takeFirst(clean, options.limit);
  const needsAssets = options.corruptions.some((c) => c === 'frost' || c === 'jpeg_compression');
  if (needsAssets) await prepareCorruptions();
  const open: PassSource[] = [];
  return {
    count: clean.count,
    manifest: {
      kind: 'cifar10',
      path,
      sha256: clean.source.sha256 ?? null,
      count: clean.count,
      limit: options.limit ?? null,
      corruptionSeed: 'stream seed',
      description: clean.source.description,
    },
    async sourceFor(seed: number): Promise<PassSource> {
      const s = options.prefetch ? await prefetchSource(clean, { seed, needsAssets }) : corruptedSource(clean, { seed, corrupt });
      open.push(s);
      return s;
    },
    async close() {
      await Promise.all(open.splice(0).map((s) => s.close?.()));
    },
  };
}

/** CIFAR-10-C style arrays: `<dir>/<corruption>.npy` + `labels.npy` (released, or from `edgetta corrupt`). */
export async function openArrays(dir: string, options: { limit?: number; corruptions: readonly CorruptionName[] }): Promise<BenchData> {
  const source = await openCifarCSource(dir);
  for (const c of options.corruptions) {
    if ((await pathKind(join(dir, `${c}.npy`))) !== 'file') {
      await source.close();
      throw new UsageError('--cifar10c', `${dir} has no ${c}.npy (asked for by --corruptions)`);
    }
  }
  const view = options.limit !== undefined && options.limit < source.count ? firstImages(source, options.limit) : source;
  // The arrays written by `edgetta corrupt` carry their hashes; released ones are hashed here.
  let sha256: Record<string, string>;
  const known = source.manifest.sha256;
  if (known && typeof known === 'object' && ['labels.npy', ...options.corruptions.map((c) => `${c}.npy`)].every((f) => f in known)) {
    sha256 = Object.fromEntries(['labels.npy', ...options.corruptions.map((c) => `${c}.npy`)].map((f) => [f, known[f]]));
  } else {
    sha256 = {};
    for (const f of ['labels.npy', ...options.corruptions.map((c) => `${c}.npy`)]) sha256[f] = await sha256File(join(dir, f));
  }
  return {
    count: view.count,
    manifest: {
      kind: 'cifar10c',
      path: dir,
      sha256,
      count: view.count,
      limit: options.limit ?? null,
      corruptionSeed: source.corruptManifest?.seed ?? null,
      description: source.corruptManifest ? `edgetta corrupt output (seed ${source.corruptManifest.seed}) of ${source.corruptManifest.input.description}` : `${dir} (CIFAR-10-C arrays)`,
    },
    sourceFor: () => Promise.resolve(view),
    close: () => source.close(),
  };
}

/** The first `limit` base images of a source (same pixels and labels, smaller count). */
function firstImages(source: CifarCSource, limit: number): ImageSource {
  return {
    count: limit,
    height: source.height,
    width: source.width,
    numClasses: source.numClasses,
    labels: source.labels.subarray(0, limit),
    manifest: { ...source.manifest, count: limit, description: `${source.manifest.description} (first ${limit})` },
    read: (domain, indices, out) => source.read(domain, indices, out),
    prepare: async (domains) => source.prepare?.(domains),
  };
}
