import { decodeMessage, encodeMessage } from './codec.js';

/** Loose structural types of the decoded protobuf messages (plain objects from `codec.ts`). */
export type Int64 = number | bigint;

export interface AttributeProto {
  name: string;
  type: number;
  f?: number;
  i?: Int64;
  s?: Uint8Array;
  t?: TensorProto;
  g?: GraphProto;
  floats?: number[];
  ints?: Int64[];
  strings?: Uint8Array[];
  tensors?: TensorProto[];
  graphs?: GraphProto[];
  [key: string]: unknown;
}
export interface NodeProto {
  input: string[];
  output: string[];
  name?: string;
  opType: string;
  domain?: string;
  attribute: AttributeProto[];
  [key: string]: unknown;
}
export interface TensorProto {
  dims: Int64[];
  dataType: number;
  name?: string;
  rawData?: Uint8Array;
  floatData?: number[];
  int32Data?: number[];
  int64Data?: Int64[];
  doubleData?: number[];
  uint64Data?: Int64[];
  dataLocation?: number;
  externalData?: { key: string; value: string }[];
  [key: string]: unknown;
}
export interface TensorShapeDim {
  dimValue?: Int64;
  dimParam?: string;
}
export interface TypeProto {
  tensorType?: { elemType: number; shape?: { dim: TensorShapeDim[] } };
  [key: string]: unknown;
}
export interface ValueInfoProto {
  name: string;
  type?: TypeProto;
  [key: string]: unknown;
}
export interface GraphProto {
  node: NodeProto[];
  name?: string;
  initializer: TensorProto[];
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  valueInfo: ValueInfoProto[];
  [key: string]: unknown;
}
export interface OperatorSetId {
  domain?: string;
  version: Int64;
}
export interface ModelProto {
  irVersion: Int64;
  opsetImport: OperatorSetId[];
  producerName?: string;
  producerVersion?: string;
  graph?: GraphProto;
  [key: string]: unknown;
}

/** A decoded int64 field as a JS number (values beyond 2^53 lose precision, as ONNX's INT64_MAX sentinels may). */
export function toNumber(v: Int64 | undefined | null): number {
  if (v === undefined || v === null) return 0;
  return typeof v === 'number' ? v : Number(v);
}

/**
 * Decodes ONNX ModelProto bytes. `source` names the model in errors. Throws a clear error for
 * truncated or non-ONNX input instead of a bare "truncated input".
 */
export function decodeModelProto(bytes: Uint8Array, source = 'model'): ModelProto {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(`${source}: expected the model as a Uint8Array or a file path, got ${describe(bytes)}`);
  }
  if (bytes.length === 0) throw new Error(`${source}: the model is empty (0 bytes); expected an ONNX ModelProto`);
  let model: ModelProto;
  try {
    model = decodeMessage('onnx.ModelProto', bytes) as unknown as ModelProto;
  } catch (e) {
    throw new Error(
      `${source}: not a valid ONNX model (${bytes.length} bytes could not be decoded as an ONNX ModelProto: ${(e as Error).message}); the file is truncated or not ONNX`,
    );
  }
  const irVersion = toNumber(model.irVersion);
  if (!model.graph || irVersion <= 0 || model.opsetImport.length === 0) {
    throw new Error(
      `${source}: not a valid ONNX model (decoded, but ${!model.graph ? 'it has no graph' : irVersion <= 0 ? 'ir_version is missing' : 'opset_import is empty'}); the file is truncated or not ONNX`,
    );
  }
  return model;
}

/** Encodes a ModelProto-shaped object (decoded messages may be reused inside it) to bytes. */
export function encodeModelProto(model: ModelProto): Uint8Array {
  return encodeMessage('onnx.ModelProto', model as unknown as Record<string, unknown>);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v !== 'object') return typeof v;
  return (v as object).constructor?.name ?? 'object';
}
