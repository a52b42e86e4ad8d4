import { toNumber, type TensorProto } from './proto.js';

/** ONNX TensorProto.DataType values used by edgetta. */
export const DataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  DOUBLE: 11,
} as const;

const TYPE_NAMES: Record<number, string> = {
  0: 'undefined', 1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 8: 'string',
  9: 'bool', 10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64', 16: 'bfloat16',
};

/** The onnxruntime-style name of an ONNX element type ("float32", "int64", ...). */
export function dataTypeName(t: number): string {
  return TYPE_NAMES[t] ?? `type ${t}`;
}

export function tensorDims(t: TensorProto): number[] {
  return t.dims.map((d) => toNumber(d));
}

/** Reads a float tensor (float32 or float64 storage) as Float32Array. */
export function tensorToFloat32(t: TensorProto): Float32Array {
  const count = tensorDims(t).reduce((a, b) => a * b, 1);
  if (t.dataLocation === 1) throw new Error(`tensor '${t.name}': external data is not supported; save the model with weights inside`);
  if (t.dataType === DataType.FLOAT) {
    if (t.rawData && t.rawData.length > 0) {
      if (t.rawData.length !== count * 4) throw new Error(`tensor '${t.name}': raw_data has ${t.rawData.length} bytes, expected ${count * 4}`);
      return new Float32Array(copyBytes(t.rawData));
    }
    const out = Float32Array.from(t.floatData ?? []);
    if (out.length !== count) throw new Error(`tensor '${t.name}': float_data has ${out.length} values, expected ${count}`);
    return out;
  }
  if (t.dataType === DataType.DOUBLE) {
    if (t.rawData && t.rawData.length > 0) return Float32Array.from(new Float64Array(copyBytes(t.rawData)));
    return Float32Array.from(t.doubleData ?? []);
  }
  throw new Error(`tensor '${t.name}': expected float32 data, got ${dataTypeName(t.dataType)}`);
}

/** Reads an integer tensor (int32/int64) as plain numbers. */
export function tensorToInts(t: TensorProto): number[] {
  if (t.dataType === DataType.INT64) {
    if (t.rawData && t.rawData.length > 0) return Array.from(new BigInt64Array(copyBytes(t.rawData)), (v) => Number(v));
    return (t.int64Data ?? []).map((v) => toNumber(v));
  }
  if (t.dataType === DataType.INT32) {
    if (t.rawData && t.rawData.length > 0) return Array.from(new Int32Array(copyBytes(t.rawData)));
    return t.int32Data ?? [];
  }
  throw new Error(`tensor '${t.name}': expected integer data, got ${dataTypeName(t.dataType)}`);
}

/** A float32 TensorProto with raw little-endian data. */
export function float32Tensor(name: string, data: Float32Array, dims: readonly number[]): TensorProto {
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new Error(`float32Tensor '${name}': ${data.length} values for dims [${dims.join(', ')}]`);
  return {
    name,
    dataType: DataType.FLOAT,
    dims: [...dims],
    rawData: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)),
  };
}

/** An int64 TensorProto with raw little-endian data. */
export function int64Tensor(name: string, values: readonly number[], dims: readonly number[] = [values.length]): TensorProto {
  const data = BigInt64Array.from(values, (v) => BigInt(v));
  return { name, dataType: DataType.INT64, dims: [...dims], rawData: new Uint8Array(data.buffer) };
}

/** A fresh, aligned copy of bytes (decoded bytes fields are views into the model file). */
function copyBytes(bytes: Uint8Array): ArrayBuffer {
  const out = new Uint8Array(bytes.length);
  out.set(bytes);
  return out.buffer;
}
