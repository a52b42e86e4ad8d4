/**
 * NumPy `.npy` (format versions 1.0-3.0) reader and writer for the dtypes datasets use.
 * Spec: numpy/lib/format.py — magic `\x93NUMPY`, version, little-endian header length, a
 * Python-literal dict `{'descr': ..., 'fortran_order': ..., 'shape': (...), }` padded to 64 bytes.
 */

import { DatasetError } from './errors.js';

export type NpyDtype = 'uint8' | 'int8' | 'int32' | 'int64' | 'float32' | 'float64';

export type NpyData = Uint8Array | Int8Array | Int32Array | BigInt64Array | Float32Array | Float64Array;

export interface NpyHeader {
  dtype: NpyDtype;
  shape: number[];
  /** Byte offset of the first data byte. */
  dataOffset: number;
}

export interface NpyArray extends NpyHeader {
  data: NpyData;
}

const DESCR: Record<string, NpyDtype> = {
  '|u1': 'uint8',
  '<u1': 'uint8',
  '|i1': 'int8',
  '<i1': 'int8',
  '<i4': 'int32',
  '<i8': 'int64',
  '<f4': 'float32',
  '<f8': 'float64',
};
const BYTES: Record<NpyDtype, number> = { uint8: 1, int8: 1, int32: 4, int64: 8, float32: 4, float64: 8 };
const DESCR_OF: Record<NpyDtype, string> = {
  uint8: '|u1',
  int8: '|i1',
  int32: '<i4',
  int64: '<i8',
  float32: '<f4',
  float64: '<f8',
};
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];

/** Bytes per element of a dtype. */
export function npyItemSize(dtype: NpyDtype): number {
  return BYTES[dtype];
}

/**
 * Parses the header of an `.npy` file from its first bytes (at least the whole header; 4 KiB is
 * always enough for the arrays datasets hold). `source` names the file in error messages.
 */
export function parseNpyHeader(bytes: Uint8Array, source = '<bytes>'): NpyHeader {
  if (bytes.length < 10 || MAGIC.some((m, i) => bytes[i] !== m)) {
    throw new DatasetError(source, `not a NumPy .npy file (missing the \\x93NUMPY magic)`);
  }
  const major = bytes[6];
  let headerLen: number;
  let start: number;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new DatasetError(source, `truncated .npy header`);
    headerLen = view.getUint32(8, true);
    start = 12;
  } else {
    throw new DatasetError(source, `unsupported .npy format version ${major}.${bytes[7]} (1.0, 2.0 and 3.0 are read)`);
  }
  if (bytes.length < start + headerLen) throw new DatasetError(source, `truncated .npy header`);
  const header = new TextDecoder('latin1').decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new DatasetError(source, `malformed .npy header: ${JSON.stringify(header.trim())}`);
  }
  const dtype = DESCR[descr];
  if (!dtype) {
    throw new DatasetError(source, `unsupported .npy dtype '${descr}' (supported: ${Object.keys(DESCR).join(', ')})`);
  }
  if (fortran === 'True') throw new DatasetError(source, `Fortran-ordered .npy arrays are not supported`);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => Number(s.replace(/L$/, '')));
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new DatasetError(source, `malformed .npy shape (${shapeText})`);
  return { dtype, shape, dataOffset: start + headerLen };
}

/** Number of elements of a shape. */
export function shapeSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Parses a whole `.npy` file held in memory. The data is copied into an aligned typed array. */
export function readNpy(bytes: Uint8Array, source = '<bytes>'): NpyArray {
  const header = parseNpyHeader(bytes, source);
  const count = shapeSize(header.shape);
  const need = header.dataOffset + count * BYTES[header.dtype];
  if (bytes.length !== need) {
    throw new DatasetError(
      source,
      `.npy size mismatch: header says ${header.dtype}[${header.shape.join(', ')}] = ${need} bytes, file has ${bytes.length}`,
    );
  }
  // Uint8Array.prototype.slice copies even when `bytes` is a Node Buffer (whose slice is a view).
  const raw = Uint8Array.prototype.slice.call(bytes, header.dataOffset, need);
  return { ...header, data: typedView(header.dtype, raw.buffer, 0, count) };
}

/** A typed array of `dtype` over `buffer` (which must be aligned for multi-byte dtypes). */
export function typedView(dtype: NpyDtype, buffer: ArrayBufferLike, byteOffset: number, length: number): NpyData {
  switch (dtype) {
    case 'uint8':
      return new Uint8Array(buffer, byteOffset, length);
    case 'int8':
      return new Int8Array(buffer, byteOffset, length);
    case 'int32':
      return new Int32Array(buffer, byteOffset, length);
    case 'int64':
      return new BigInt64Array(buffer, byteOffset, length);
    case 'float32':
      return new Float32Array(buffer, byteOffset, length);
    case 'float64':
      return new Float64Array(buffer, byteOffset, length);
  }
}

/** The header bytes (format 1.0, padded to a multiple of 64) for an array of this dtype and shape. */
export function npyHeaderBytes(dtype: NpyDtype, shape: readonly number[]): Uint8Array {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '${DESCR_OF[dtype]}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = 10 + dict.length + 1;
  dict += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + dict.length);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, dict.length, true);
  for (let i = 0; i < dict.length; i++) out[10 + i] = dict.charCodeAt(i);
  return out;
}

/** Serializes a typed array as a `.npy` file. */
export function writeNpy(data: NpyData, dtype: NpyDtype, shape: readonly number[]): Uint8Array {
  if (data.length !== shapeSize(shape)) {
    throw new Error(`writeNpy: data has ${data.length} elements but shape [${shape.join(', ')}] needs ${shapeSize(shape)}`);
  }
  const header = npyHeaderBytes(dtype, shape);
  const body = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(header.length + body.length);
  out.set(header, 0);
  out.set(body, header.length);
  return out;
}
