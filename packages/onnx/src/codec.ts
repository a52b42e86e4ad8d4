import { onnxSchema } from './schema.js';
import { Reader, WIRE, Writer } from './wire.js';

/**
 * A schema-driven protobuf message codec over `schema.ts`: messages decode to plain objects with
 * camelCase field names (repeated fields default to []), bytes fields are views into the input,
 * 64-bit integers are numbers (bigint beyond 2^53), and fields the schema does not know are kept
 * as raw bytes and written back, so a decode/encode round trip loses nothing.
 */

type Scalar = 'int32' | 'int64' | 'uint64' | 'float' | 'double' | 'string' | 'bytes';
interface FieldSpec {
  name: string;
  id: number;
  type: string;
  repeated: boolean;
  packed: boolean;
}
interface MessageSpec {
  name: string;
  byId: Map<number, FieldSpec>;
  fields: FieldSpec[];
}

const UNKNOWN = '$unknown';
const SCALARS = new Set(['int32', 'int64', 'uint64', 'float', 'double', 'string', 'bytes']);
const messages = new Map<string, MessageSpec>();
const enums = new Set<string>();

type Node = { fields?: Record<string, { type: string; id: number; rule?: string; options?: { packed?: boolean } }>; values?: object; nested?: Record<string, Node> };
function collect(prefix: string, nested: Record<string, Node>): void {
  for (const [name, node] of Object.entries(nested)) {
    const full = prefix ? `${prefix}.${name}` : name;
    if (node.values) enums.add(full);
    if (node.fields) {
      const fields = Object.entries(node.fields).map(([fname, f]) => ({
        name: fname,
        id: f.id,
        type: f.type,
        repeated: f.rule === 'repeated',
        packed: f.options?.packed === true,
      }));
      messages.set(full, { name: full, fields, byId: new Map(fields.map((f) => [f.id, f])) });
    }
    if (node.nested) collect(full, node.nested);
  }
}
collect('', onnxSchema.nested as unknown as Record<string, Node>);

/** Resolves a field type name relative to its message, as protobuf scoping does. */
function resolve(type: string, scope: string): string {
  if (SCALARS.has(type)) return type;
  let s = scope;
  for (;;) {
    const candidate = s ? `${s}.${type}` : type;
    if (messages.has(candidate) || enums.has(candidate)) return candidate;
    if (!s) throw new Error(`schema: unknown type '${type}' in '${scope}'`);
    s = s.includes('.') ? s.slice(0, s.lastIndexOf('.')) : '';
  }
}
for (const m of messages.values()) for (const f of m.fields) f.type = resolve(f.type, m.name);

function wireOf(type: string): number {
  if (type === 'float') return WIRE.I32;
  if (type === 'double') return WIRE.I64;
  if (type === 'string' || type === 'bytes' || messages.has(type)) return WIRE.LEN;
  return WIRE.VARINT;
}

function readScalar(r: Reader, type: string): unknown {
  switch (type as Scalar) {
    case 'float':
      return r.float();
    case 'double':
      return r.double();
    case 'string':
      return r.string();
    case 'bytes':
      return r.bytes();
    case 'int32': {
      const v = r.varint();
      return Number(BigInt.asIntN(32, BigInt(v)));
    }
    default:
      return r.varint(); // int64, uint64, enums
  }
}

export function decodeMessage(typeName: string, buf: Uint8Array): Record<string, unknown> {
  return decodeInto(messages.get(typeName)!, new Reader(buf));
}

function decodeInto(spec: MessageSpec, r: Reader): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of spec.fields) if (f.repeated) out[f.name] = [];
  while (r.pos < r.end) {
    const tagStart = r.pos;
    const tag = r.uint32();
    const id = tag >>> 3;
    const wire = tag & 7;
    const f = spec.byId.get(id);
    if (!f || (wire !== wireOf(f.type) && !(f.repeated && wire === WIRE.LEN && wireOf(f.type) !== WIRE.LEN))) {
      r.skip(wire);
      ((out[UNKNOWN] ??= []) as Uint8Array[]).push(r.buf.subarray(tagStart, r.pos));
      continue;
    }
    const sub = messages.get(f.type);
    let value: unknown;
    if (sub) {
      const payload = r.bytes();
      value = decodeInto(sub, new Reader(payload));
    } else if (f.repeated && wire === WIRE.LEN && wireOf(f.type) !== WIRE.LEN) {
      // A packed run of scalars.
      const payload = r.bytes();
      const pr = new Reader(payload);
      const list = out[f.name] as unknown[];
      while (pr.pos < pr.end) list.push(readScalar(pr, f.type));
      continue;
    } else {
      value = readScalar(r, f.type);
    }
    if (f.repeated) (out[f.name] as unknown[]).push(value);
    else out[f.name] = value;
  }
  return out;
}

export function encodeMessage(typeName: string, value: Record<string, unknown>): Uint8Array {
  const w = new Writer();
  encodeInto(messages.get(typeName)!, value, w);
  return w.finish();
}

function writeScalar(w: Writer, type: string, v: unknown): void {
  switch (type as Scalar) {
    case 'float':
      return w.float(v as number);
    case 'double':
      return w.double(v as number);
    case 'string':
      return w.string(v as string);
    case 'bytes':
      return w.bytes(v as Uint8Array);
    default:
      return w.varint(toInteger(v));
  }
}

function toInteger(v: unknown): number | bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new TypeError(`protobuf: expected an integer, got ${v}`);
    return Number.isSafeInteger(v) ? v : BigInt(v);
  }
  if (typeof v === 'boolean') return v ? 1 : 0;
  throw new TypeError(`protobuf: expected an integer, got ${typeof v}`);
}

function encodeInto(spec: MessageSpec, value: Record<string, unknown>, w: Writer): void {
  for (const f of spec.fields) {
    const v = value[f.name];
    if (v === undefined || v === null) continue;
    const sub = messages.get(f.type);
    const items = f.repeated ? (v as unknown[]) : [v];
    if (f.repeated && items.length === 0) continue;
    if (!sub && f.repeated && f.packed) {
      const inner = new Writer();
      for (const item of items) writeScalar(inner, f.type, item);
      w.tag(f.id, WIRE.LEN);
      w.bytes(inner.finish());
      continue;
    }
    for (const item of items) {
      w.tag(f.id, wireOf(f.type));
      if (sub) {
        const inner = new Writer();
        encodeInto(sub, item as Record<string, unknown>, inner);
        w.bytes(inner.finish());
      } else {
        writeScalar(w, f.type, item);
      }
    }
  }
  for (const raw of (value[UNKNOWN] as Uint8Array[] | undefined) ?? []) w.raw(raw);
}
