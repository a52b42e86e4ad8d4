/**
 * CIFAR-10-C / CIFAR-100-C arrays (Hendrycks & Dietterich 2019): one `<corruption>.npy` per
 * corruption, uint8 [S * N, H, W, 3] (HWC RGB, 32x32 for the released files) holding severity
 * blocks in order, so with the released severities 1-5 and N = 10,000, severity s is rows
 * [(s - 1) * N, s * N). `labels.npy` holds the S * N labels (the test labels repeated per block).
 * Rows are read by byte offset on demand, so a 150 MB file is never held whole.
 */
import type { Severity } from '../corruptions/types.js';
import { DatasetError } from './errors.js';
import { labelsToInt32, type NpyReader, openNpy } from './npy-reader.js';
import type { RandomAccessReader } from './reader.js';

export const ALL_SEVERITIES: readonly Severity[] = [1, 2, 3, 4, 5];

export interface CifarCOptions {
  /** Severity blocks stored in the file, in row order (default 1-5, the released layout). */
  severities?: readonly Severity[];
}

export interface CifarCArray {
  readonly name: string;
  readonly rows: number;
  readonly height: number;
  readonly width: number;
  /** Images per severity block (N). */
  readonly perSeverity: number;
  readonly severities: readonly Severity[];
  /** Row of image `index` at `severity`. */
  rowOf(severity: Severity, index: number): number;
  /** Packed HWC images of `indices` (0..N-1) at `severity`, in the order given. */
  readImages(severity: Severity, indices: ArrayLike<number>, out?: Uint8Array): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** Checks that an `.npy` header describes uint8 [rows, H, W, 3] images; returns H and W. */
export function checkImageArrayShape(dtype: string, shape: readonly number[], source: string): { height: number; width: number } {
  if (dtype !== 'uint8') throw new DatasetError(source, `images must be uint8, got ${dtype}`);
  if (shape.length !== 4 || shape[3] !== 3 || shape[1] < 1 || shape[2] < 1) {
    throw new DatasetError(source, `unsupported image array shape [${shape.join(', ')}] (expected uint8 [N, H, W, 3], HWC RGB)`);
  }
  return { height: shape[1], width: shape[2] };
}

function checkSeverities(severities: readonly number[], source: string): void {
  if (severities.length === 0 || severities.some((s) => !Number.isInteger(s) || s < 1 || s > 5)) {
    throw new DatasetError(source, `severities must be integers in 1-5, got [${severities.join(', ')}]`);
  }
  if (new Set(severities).size !== severities.length) throw new DatasetError(source, `duplicate severities [${severities.join(', ')}]`);
}

/** Opens a CIFAR-10-C style corruption array for random-access reads by severity and index. */
export async function openCifarC(reader: RandomAccessReader, options: CifarCOptions = {}): Promise<CifarCArray> {
  const severities = options.severities ?? ALL_SEVERITIES;
  checkSeverities(severities, reader.name);
  const npy = await openNpy(reader);
  const { height, width } = checkImageArrayShape(npy.dtype, npy.shape, reader.name);
  if (npy.rows % severities.length !== 0) {
    throw new DatasetError(reader.name, `${npy.rows} rows do not split into ${severities.length} severity blocks [${severities.join(', ')}]`);
  }
  const perSeverity = npy.rows / severities.length;
  const rowOf = (severity: Severity, index: number): number => {
    const block = severities.indexOf(severity);
    if (block < 0) throw new DatasetError(reader.name, `severity ${severity} is not in this file (it holds [${severities.join(', ')}])`);
    if (!Number.isInteger(index) || index < 0 || index >= perSeverity) {
      throw new RangeError(`${reader.name}: image index ${index} outside [0, ${perSeverity})`);
    }
    return block * perSeverity + index;
  };
  return {
    name: reader.name,
    rows: npy.rows,
    height,
    width,
    perSeverity,
    severities,
    rowOf,
    readImages: (severity, indices, out) => readRowsInto(npy, indices.length, (k) => rowOf(severity, indices[k]), out),
    close: () => npy.close(),
  };
}

/** Reads rows `rowAt(0..n-1)` into `out`, one read per run of consecutive rows, all reads in flight at once. */
async function readRowsInto(npy: NpyReader, n: number, rowAt: (k: number) => number, out?: Uint8Array): Promise<Uint8Array> {
  const bytes = npy.rowBytes;
  const dst = out ?? new Uint8Array(n * bytes);
  if (dst.length < n * bytes) throw new RangeError(`${npy.reader.name}: output holds ${dst.length} bytes, ${n * bytes} needed`);
  const reads: Promise<void>[] = [];
  for (let k = 0; k < n; ) {
    const first = rowAt(k);
    let run = 1;
    while (k + run < n && rowAt(k + run) === first + run) run++;
    const at = k * bytes;
    reads.push(npy.readRowBytes(first, run).then((b) => dst.set(b, at)));
    k += run;
  }
  await Promise.all(reads);
  return dst;
}

/**
 * Reads a CIFAR-10-C `labels.npy` (any integer dtype, 1-D). With `severities` blocks of N rows
 * each, returns the N labels of the first block after checking every block repeats them.
 */
export async function readCifarCLabels(reader: RandomAccessReader, blocks = ALL_SEVERITIES.length): Promise<Int32Array> {
  const npy = await openNpy(reader);
  try {
    if (npy.shape.length !== 1) throw new DatasetError(reader.name, `labels must be 1-D, got shape [${npy.shape.join(', ')}]`);
    const all = labelsToInt32(await npy.readAll(), reader.name);
    if (all.length % blocks !== 0) {
      throw new DatasetError(reader.name, `${all.length} labels do not split into ${blocks} severity blocks`);
    }
    const n = all.length / blocks;
    for (let b = 1; b < blocks; b++) {
      for (let i = 0; i < n; i++) {
        if (all[b * n + i] !== all[i]) {
          throw new DatasetError(reader.name, `label ${b * n + i} (${all[b * n + i]}) differs from label ${i} (${all[i]}); severity blocks must repeat the same labels`);
        }
      }
    }
    return all.slice(0, n);
  } finally {
    await npy.close();
  }
}
