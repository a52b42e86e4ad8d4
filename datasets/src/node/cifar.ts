/**
 * CIFAR-10 / CIFAR-100 from disk: a binary batch file, a directory holding the batches (or the
 * official archive's `cifar-10-batches-bin/` / `cifar-100-binary/` folder), or the official
 * `.tar.gz` read directly.
 */
import { basename, join } from 'node:path';
import { concatLabeledImages, parseCifar10, parseCifar100, type Cifar100Label } from '../loaders/cifar.js';
import { DatasetError } from '../loaders/errors.js';
import type { LabeledImages } from '../loaders/types.js';
import { pathKind, readFileBytes, sha256File } from './files.js';
import { readTarGzMembers } from './tar.js';

export type CifarSplit = 'test' | 'train';

export interface ReadCifarOptions {
  /** Which split to take from a directory or an archive (a single .bin file is read as is). @defaultValue 'test' */
  split?: CifarSplit;
  /** Compute the input file's sha256 into `source.sha256` (for manifests). @defaultValue false */
  sha256?: boolean;
}

const CIFAR10_FILES: Record<CifarSplit, string[]> = {
  test: ['test_batch.bin'],
  train: ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'],
};
const CIFAR100_FILES: Record<CifarSplit, string[]> = { test: ['test.bin'], train: ['train.bin'] };

export function isTarGz(path: string): boolean {
  return /\.(tar\.gz|tgz)$/i.test(path);
}

/** Reads CIFAR-10 from `test_batch.bin` (or any batch), a directory, or `cifar-10-binary.tar.gz`. */
export async function readCifar10(path: string, options: ReadCifarOptions = {}): Promise<LabeledImages> {
  return readCifar(path, options, CIFAR10_FILES, 'cifar-10-batches-bin', (b, s) => parseCifar10(b, s), 'CIFAR-10');
}

/** Reads CIFAR-100 from `test.bin`/`train.bin`, a directory, or `cifar-100-binary.tar.gz`. */
export async function readCifar100(
  path: string,
  options: ReadCifarOptions & { label?: Cifar100Label } = {},
): Promise<LabeledImages> {
  const label = options.label ?? 'fine';
  return readCifar(path, options, CIFAR100_FILES, 'cifar-100-binary', (b, s) => parseCifar100(b, s, label), 'CIFAR-100');
}

async function readCifar(
  path: string,
  options: ReadCifarOptions,
  files: Record<CifarSplit, string[]>,
  folder: string,
  parse: (bytes: Uint8Array, source: string) => LabeledImages,
  kind: string,
): Promise<LabeledImages> {
  const split = options.split ?? 'test';
  const wanted = files[split];
  const kindOfPath = await pathKind(path);
  if (kindOfPath === null) throw new DatasetError(path, 'no such file or directory');
  let parts: LabeledImages[];
  let sources: string[];
  let hashed: string | undefined = path;
  if (kindOfPath === 'directory') {
    const dir = (await pathKind(join(path, folder, wanted[0]))) === 'file' ? join(path, folder) : path;
    sources = wanted.map((f) => join(dir, f));
    for (const f of sources) {
      if ((await pathKind(f)) !== 'file') {
        throw new DatasetError(path, `no ${kind} ${split} file ${f} (expected ${wanted.join(', ')} here or in ${folder}/)`);
      }
    }
    parts = [];
    for (const f of sources) parts.push(parse(await readFileBytes(f), f));
    hashed = sources.length === 1 ? sources[0] : undefined;
  } else if (isTarGz(path)) {
    const members = await readTarGzMembers(path, (p) => wanted.includes(basename(p)));
    parts = [];
    sources = [];
    for (const f of wanted) {
      const entry = [...members.entries()].find(([p]) => basename(p) === f);
      if (!entry) throw new DatasetError(path, `archive has no ${f} (expected the official ${kind} binary archive)`);
      const name = `${path}:${entry[0]}`;
      parts.push(parse(entry[1], name));
      sources.push(name);
    }
  } else {
    parts = [parse(await readFileBytes(path), path)];
    sources = [path];
  }
  const set =
    parts.length === 1
      ? parts[0]
      : concatLabeledImages(parts, { format: parts[0].source.format, description: `${path} (${split})` });
  set.source = {
    ...set.source,
    description: parts.length === 1 ? parts[0].source.description : `${path} (${split}: ${wanted.join(', ')})`,
    files: sources,
    ...(options.sha256 && hashed ? { sha256: await sha256File(hashed) } : {}),
  };
  return set;
}
