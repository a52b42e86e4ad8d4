/** Node file access: random-access readers over file handles, whole-file reads, sha256. */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { DatasetError } from '../loaders/errors.js';
import type { RandomAccessReader } from '../loaders/reader.js';

/** Reads a whole file, turning "not found"/"is a directory" into a {@link DatasetError} naming it. */
export async function readFileBytes(path: string): Promise<Uint8Array> {
  try {
    const b = await readFile(path);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    throw fileError(path, e);
  }
}

/** A {@link RandomAccessReader} over a file handle: each read is one positional read, nothing is cached. */
export async function fileReader(path: string): Promise<RandomAccessReader> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (e) {
    throw fileError(path, e);
  }
  const size = (await handle.stat()).size;
  if (!(await handle.stat()).isFile()) {
    await handle.close();
    throw new DatasetError(path, 'not a regular file');
  }
  const fh = handle;
  return {
    name: path,
    size,
    async read(offset, length) {
      if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > size) {
        throw new RangeError(`${path}: read of ${length} bytes at ${offset} outside the ${size}-byte file`);
      }
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await fh.read(out, done, length - done, offset + done);
        if (bytesRead === 0) throw new DatasetError(path, `file ended at ${offset + done} while reading ${length} bytes at ${offset} (changed while reading?)`);
        done += bytesRead;
      }
      return out;
    },
    close: () => fh.close(),
  };
}

/** sha256 (hex) of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  } catch (e) {
    throw fileError(path, e);
  }
  return hash.digest('hex');
}

/** 'file' | 'directory' | null (missing). */
export async function pathKind(path: string): Promise<'file' | 'directory' | null> {
  try {
    const s = await stat(path);
    return s.isDirectory() ? 'directory' : 'file';
  } catch {
    return null;
  }
}

export function fileError(path: string, e: unknown): Error {
  if (e instanceof DatasetError) return e;
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT') return new DatasetError(path, 'no such file or directory');
  if (code === 'EISDIR') return new DatasetError(path, 'is a directory, expected a file');
  if (code === 'EACCES') return new DatasetError(path, 'permission denied');
  return e instanceof Error ? e : new Error(String(e));
}
