/**
 * Random access to the bytes of a file without holding it whole: a 150 MB CIFAR-10-C array is
 * read a few rows at a time. Node supplies a file-handle reader (`@edgetta/datasets/node`);
 * browsers wrap a `Blob`/`File`; tests wrap bytes in memory.
 */
export interface RandomAccessReader {
  /** Names the file in error messages. */
  readonly name: string;
  /** Total size in bytes. */
  readonly size: number;
  /** Exactly `length` bytes starting at `offset` (rejects when the range runs past the end). */
  read(offset: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

function checkRange(name: string, size: number, offset: number, length: number): void {
  if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > size) {
    throw new RangeError(`${name}: read of ${length} bytes at ${offset} outside the ${size}-byte file`);
  }
}

/** A reader over bytes already in memory. */
export function bytesReader(bytes: Uint8Array, name = '<bytes>'): RandomAccessReader {
  return {
    name,
    size: bytes.length,
    read(offset, length) {
      checkRange(name, bytes.length, offset, length);
      return Promise.resolve(bytes.subarray(offset, offset + length));
    },
    close: () => Promise.resolve(),
  };
}

/** A reader over a browser `Blob` or `File` (each read slices the blob; nothing is loaded up front). */
export function blobReader(blob: Blob, name = blob instanceof File ? blob.name : '<blob>'): RandomAccessReader {
  return {
    name,
    size: blob.size,
    async read(offset, length) {
      checkRange(name, blob.size, offset, length);
      return new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
    },
    close: () => Promise.resolve(),
  };
}
