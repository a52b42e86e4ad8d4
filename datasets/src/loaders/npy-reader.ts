/**
 * Row-wise reads of a `.npy` array through a {@link RandomAccessReader}: the header is parsed
 * once, then any run of rows (first-axis slices) is read by byte offset.
 */
import { DatasetError } from './errors.js';
import { type NpyData, type NpyHeader, npyItemSize, parseNpyHeader, shapeSize, typedView } from './npy.js';
import type { RandomAccessReader } from './reader.js';

export interface NpyReader extends NpyHeader {
  readonly reader: RandomAccessReader;
  /** Number of rows (first dimension). */
  readonly rows: number;
  /** Bytes of one row. */
  readonly rowBytes: number;
  /** Rows [start, start + count) as raw bytes (little-endian element data). */
  readRowBytes(start: number, count: number): Promise<Uint8Array>;
  /** Rows [start, start + count) as a typed array of the file's dtype (copied, aligned). */
  readRows(start: number, count: number): Promise<NpyData>;
  /** The whole array as a typed array. */
  readAll(): Promise<NpyData>;
  close(): Promise<void>;
}

/** Opens an `.npy` file: parses and checks its header against the file size. */
export async function openNpy(reader: RandomAccessReader): Promise<NpyReader> {
  const name = reader.name;
  if (reader.size < 12) throw new DatasetError(name, `not a NumPy .npy file (${reader.size} bytes)`);
  const prefix = await reader.read(0, 12);
  // Magic, version and header length come first; then read exactly the whole header.
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (magic.some((m, i) => prefix[i] !== m)) parseNpyHeader(prefix, name); // throws the "missing magic" error
  const major = prefix[6];
  const view = new DataView(prefix.buffer, prefix.byteOffset, prefix.byteLength);
  const headerLen = major === 1 ? 10 + view.getUint16(8, true) : 12 + view.getUint32(8, true);
  const headerBytes = await reader.read(0, Math.min(reader.size, Math.max(12, headerLen)));
  const header = parseNpyHeader(headerBytes, name);
  if (header.shape.length === 0) throw new DatasetError(name, 'a 0-d .npy array has no rows');
  const item = npyItemSize(header.dtype);
  const need = header.dataOffset + shapeSize(header.shape) * item;
  if (reader.size !== need) {
    throw new DatasetError(
      name,
      `.npy size mismatch: header says ${header.dtype}[${header.shape.join(', ')}] = ${need} bytes, file has ${reader.size}`,
    );
  }
  const rows = header.shape[0];
  const rowBytes = shapeSize(header.shape.slice(1)) * item;
  const readRowBytes = (start: number, count: number): Promise<Uint8Array> => {
    if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || start + count > rows) {
      throw new RangeError(`${name}: rows [${start}, ${start + count}) outside [0, ${rows})`);
    }
    return reader.read(header.dataOffset + start * rowBytes, count * rowBytes);
  };
  const readRows = async (start: number, count: number): Promise<NpyData> => {
    const raw = (await readRowBytes(start, count)).slice();
    return typedView(header.dtype, raw.buffer, 0, (count * rowBytes) / item);
  };
  return {
    ...header,
    reader,
    rows,
    rowBytes,
    readRowBytes,
    readRows,
    readAll: () => readRows(0, rows),
    close: () => reader.close(),
  };
}

/** Labels of any numeric dtype (integer-valued) as an Int32Array; rejects negative, fractional or huge values. */
export function labelsToInt32(data: ArrayLike<number | bigint>, source: string): Int32Array {
  const out = new Int32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = Number(data[i]);
    if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff) {
      throw new DatasetError(source, `label ${i} is ${String(data[i])}; labels must be non-negative integers`);
    }
    out[i] = v;
  }
  return out;
}
