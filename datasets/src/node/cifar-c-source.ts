/**
 * A stream source over CIFAR-10-C style arrays on disk: `<dir>/<corruption>.npy` plus
 * `<dir>/labels.npy`, the released layout (severities 1-5) or what `edgetta corrupt` writes
 * (its `edgetta-corrupt.json` says which severities each file holds). Files are opened on first
 * use and read a batch of rows at a time.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BENCHMARK_CORRUPTIONS, HELD_OUT_CORRUPTIONS, type CorruptionName, type Severity } from '../corruptions/types.js';
import { ALL_SEVERITIES, type CifarCArray, openCifarC, readCifarCLabels } from '../loaders/cifar-c.js';
import { DatasetError } from '../loaders/errors.js';
import type { DomainTag, ImageSource, SourceManifest } from '../streams/types.js';
import { fileReader, pathKind } from './files.js';

/** Sidecar written by `edgetta corrupt` next to its arrays. */
export const CORRUPT_MANIFEST_FILE = 'edgetta-corrupt.json';

export interface CorruptOutputManifest {
  format: 'edgetta.corrupt/1';
  seed: number;
  severities: Severity[];
  corruptions: CorruptionName[];
  count: number;
  height: number;
  width: number;
  seeding: string;
  input: { path: string; sha256?: string; description: string };
  files: Record<string, { sha256: string; shape: number[] }>;
  [key: string]: unknown;
}

export interface CifarCSourceOptions {
  /** Severity blocks of every file (default: from edgetta-corrupt.json, else 1-5). */
  severities?: readonly Severity[];
  /** Number of classes (default: max label + 1, at least 10). */
  numClasses?: number;
}

export interface CifarCSource extends ImageSource {
  readonly dir: string;
  readonly severities: readonly Severity[];
  /** The `edgetta corrupt` sidecar when present. */
  readonly corruptManifest: CorruptOutputManifest | null;
  close(): Promise<void>;
}

/** Opens a CIFAR-10-C directory; `<corruption>.npy` files are opened when a domain is first read. */
export async function openCifarCSource(dir: string, options: CifarCSourceOptions = {}): Promise<CifarCSource> {
  if ((await pathKind(dir)) !== 'directory') throw new DatasetError(dir, 'not a directory (expected <corruption>.npy files and labels.npy)');
  let sidecar: CorruptOutputManifest | null = null;
  const sidecarPath = join(dir, CORRUPT_MANIFEST_FILE);
  if ((await pathKind(sidecarPath)) === 'file') {
    try {
      sidecar = JSON.parse(await readFile(sidecarPath, 'utf8')) as CorruptOutputManifest;
    } catch (e) {
      throw new DatasetError(sidecarPath, `not valid JSON (${e instanceof Error ? e.message : String(e)})`);
    }
  }
  const severities = options.severities ?? sidecar?.severities ?? ALL_SEVERITIES;
  const labelsPath = join(dir, 'labels.npy');
  const labels = await readCifarCLabels(await fileReader(labelsPath), severities.length);
  let maxLabel = 0;
  for (const y of labels) maxLabel = Math.max(maxLabel, y);
  const numClasses = options.numClasses ?? Math.max(10, maxLabel + 1);
  if (maxLabel >= numClasses) throw new DatasetError(labelsPath, `label ${maxLabel} is out of range for ${numClasses} classes`);

  const open = new Map<string, Promise<CifarCArray>>();
  const arrayFor = (corruption: CorruptionName): Promise<CifarCArray> => {
    let p = open.get(corruption);
    if (!p) {
      p = (async () => {
        const path = join(dir, `${corruption}.npy`);
        const arr = await openCifarC(await fileReader(path), { severities });
        if (arr.perSeverity !== labels.length) {
          await arr.close();
          throw new DatasetError(path, `${arr.perSeverity} images per severity but labels.npy has ${labels.length} per severity`);
        }
        return arr;
      })();
      open.set(corruption, p);
    }
    return p;
  };
  // Size the source from the first array present, so height/width are known before any read.
  let first: CorruptionName | undefined = sidecar?.corruptions?.[0];
  for (const c of [...BENCHMARK_CORRUPTIONS, ...HELD_OUT_CORRUPTIONS]) {
    if (first) break;
    if ((await pathKind(join(dir, `${c}.npy`))) === 'file') first = c;
  }
  if (!first) throw new DatasetError(dir, 'no <corruption>.npy files (e.g. gaussian_noise.npy)');
  let height: number;
  let width: number;
  const firstArray = await arrayFor(first);
  height = firstArray.height;
  width = firstArray.width;
  const manifest: SourceManifest = {
    kind: 'cifar-c',
    description: dir,
    count: labels.length,
    height,
    width,
    numClasses,
    severities: [...severities],
    ...(sidecar ? { corruptionSeed: sidecar.seed, seeding: sidecar.seeding, input: sidecar.input } : {}),
    ...(sidecar?.files ? { sha256: Object.fromEntries(Object.entries(sidecar.files).map(([f, v]) => [f, v.sha256])) } : {}),
  };
  return {
    dir,
    severities,
    corruptManifest: sidecar,
    count: labels.length,
    height,
    width,
    numClasses,
    labels,
    manifest,
    async read(domain: DomainTag, indices: Int32Array, out: Uint8Array): Promise<void> {
      const arr = await arrayFor(domain.corruption);
      if (arr.height !== height || arr.width !== width) {
        throw new DatasetError(arr.name, `images are ${arr.width}x${arr.height}, other files in ${dir} hold ${width}x${height}`);
      }
      await arr.readImages(domain.severity, indices, out);
    },
    async prepare(domains: readonly DomainTag[]): Promise<void> {
      for (const d of domains) (await arrayFor(d.corruption)).rowOf(d.severity, 0);
    },
    async close() {
      const all = [...open.values()];
      open.clear();
      await Promise.all(all.map((p) => p.then((a) => a.close()).catch(() => undefined)));
    },
  };
}
