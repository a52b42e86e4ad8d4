/**
 * `.npy` files on disk: open for row reads by offset, read whole, and write atomically while
 * streaming rows (the data goes to a temporary file in the target folder, renamed over the
 * target only when every row was written; `abort()` deletes it).
 */
import { createHash } from 'node:crypto';
import { open, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { openNpy, type NpyReader } from '../loaders/npy-reader.js';
import { type NpyArray, type NpyData, type NpyDtype, npyHeaderBytes, npyItemSize, readNpy, shapeSize } from '../loaders/npy.js';
import { fileReader, readFileBytes } from './files.js';

/** Opens an `.npy` file for row reads (the data stays on disk). */
export async function openNpyFile(path: string): Promise<NpyReader> {
  const reader = await fileReader(path);
  try {
    return await openNpy(reader);
  } catch (e) {
    await reader.close();
    throw e;
  }
}

/** Reads a whole `.npy` file. */
export async function readNpyFile(path: string): Promise<NpyArray> {
  return readNpy(await readFileBytes(path), path);
}

/** A temporary name beside `path`, unique to this process and call. */
let tempCounter = 0;
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${++tempCounter}.tmp`);
}

/** Writes `bytes` to `path` through a temporary file and a rename. */
export async function writeFileAtomic(path: string, bytes: Uint8Array | string): Promise<void> {
  const tmp = tempPathFor(path);
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** Writes a whole array as `.npy`, atomically. */
export async function writeNpyFile(path: string, data: NpyData, dtype: NpyDtype, shape: readonly number[]): Promise<void> {
  const writer = await createNpyWriter(path, dtype, shape);
  try {
    await writer.write(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    await writer.commit();
  } catch (e) {
    await writer.abort();
    throw e;
  }
}

export interface NpyWriter {
  readonly path: string;
  /** The temporary file being written. */
  readonly tempPath: string;
  /** Bytes of element data written so far. */
  readonly written: number;
  /** Appends raw element bytes (little-endian), in row-major order. */
  write(bytes: Uint8Array): Promise<void>;
  /** Checks that all data was written, then renames the temporary file to `path`. Returns the file's sha256. */
  commit(): Promise<string>;
  /** Closes and deletes the temporary file (safe to call twice or after commit). */
  abort(): Promise<void>;
}

/** Starts an atomic streaming `.npy` write of an array with this dtype and shape. */
export async function createNpyWriter(path: string, dtype: NpyDtype, shape: readonly number[]): Promise<NpyWriter> {
  const header = npyHeaderBytes(dtype, shape);
  const total = shapeSize(shape) * npyItemSize(dtype);
  const tempPath = tempPathFor(path);
  const fh = await open(tempPath, 'wx');
  const hash = createHash('sha256');
  let written = 0;
  let state: 'open' | 'committed' | 'aborted' = 'open';
  try {
    await fh.write(header);
    hash.update(header);
  } catch (e) {
    await fh.close().catch(() => undefined);
    await rm(tempPath, { force: true });
    throw e;
  }
  return {
    path,
    tempPath,
    get written() {
      return written;
    },
    async write(bytes) {
      if (state !== 'open') throw new Error(`${path}: write after ${state}`);
      if (written + bytes.length > total) throw new Error(`${path}: ${written + bytes.length} data bytes exceed the ${total} of [${shape.join(', ')}]`);
      let done = 0;
      while (done < bytes.length) done += (await fh.write(bytes, done, bytes.length - done)).bytesWritten;
      hash.update(bytes);
      written += bytes.length;
    },
    async commit() {
      if (state !== 'open') throw new Error(`${path}: commit after ${state}`);
      if (written !== total) throw new Error(`${path}: only ${written} of ${total} data bytes written`);
      state = 'committed';
      await fh.sync();
      await fh.close();
      await rename(tempPath, path);
      return hash.digest('hex');
    },
    async abort() {
      if (state !== 'open') return;
      state = 'aborted';
      await fh.close().catch(() => undefined);
      await rm(tempPath, { force: true });
    },
  };
}
