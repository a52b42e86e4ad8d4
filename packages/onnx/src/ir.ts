import {
  decodeModelProto,
  encodeModelProto,
  toNumber,
  type AttributeProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from './proto.js';

/** A decoded node attribute. `other` keeps attribute kinds edgetta never reads (graphs, sparse tensors). */
export type Attr =
  | { kind: 'float'; value: number }
  | { kind: 'int'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'floats'; value: number[] }
  | { kind: 'ints'; value: number[] }
  | { kind: 'strings'; value: string[] }
  | { kind: 'tensor'; value: TensorProto }
  | { kind: 'other'; proto: AttributeProto };

/** One graph node. `source` is the decoded proto of an untouched node, re-encoded as is. */
export interface Node {
  opType: string;
  domain: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, Attr>;
  source?: NodeProto;
}

/** A dimension: a number, a symbolic name, or unknown (null). */
export type Dim = number | string | null;

export interface ValueInfo {
  name: string;
  /** ONNX element type (1 = float32). */
  elemType: number;
  /** null when the rank is unknown. */
  shape: Dim[] | null;
}

export interface Graph {
  name: string;
  nodes: Node[];
  /** Real inputs (graph inputs that are not initializers). */
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  initializers: Map<string, TensorProto>;
  /** Intermediate value infos carried through unchanged. */
  valueInfo: ValueInfoProto[];
}

/** A model: its graph as IR, its opsets, and the rest of the ModelProto kept for re-encoding. */
export interface Model {
  graph: Graph;
  /** domain ('' for ai.onnx) -> opset version. */
  opsets: Map<string, number>;
  proto: ModelProto;
}

const ATTR = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;
const utf8 = new TextDecoder();
const utf8Enc = new TextEncoder();

function decodeAttr(a: AttributeProto): Attr {
  switch (a.type) {
    case ATTR.FLOAT:
      return { kind: 'float', value: a.f ?? 0 };
    case ATTR.INT:
      return { kind: 'int', value: toNumber(a.i) };
    case ATTR.STRING:
      return { kind: 'string', value: utf8.decode(a.s ?? new Uint8Array()) };
    case ATTR.FLOATS:
      return { kind: 'floats', value: [...(a.floats ?? [])] };
    case ATTR.INTS:
      return { kind: 'ints', value: (a.ints ?? []).map((v) => toNumber(v)) };
    case ATTR.STRINGS:
      return { kind: 'strings', value: (a.strings ?? []).map((s) => utf8.decode(s)) };
    case ATTR.TENSOR:
      return a.t ? { kind: 'tensor', value: a.t } : { kind: 'other', proto: a };
    default:
      return { kind: 'other', proto: a };
  }
}

function encodeAttr(name: string, a: Attr): AttributeProto {
  switch (a.kind) {
    case 'float':
      return { name, type: ATTR.FLOAT, f: a.value };
    case 'int':
      return { name, type: ATTR.INT, i: a.value };
    case 'string':
      return { name, type: ATTR.STRING, s: utf8Enc.encode(a.value) };
    case 'floats':
      return { name, type: ATTR.FLOATS, floats: a.value };
    case 'ints':
      return { name, type: ATTR.INTS, ints: a.value };
    case 'strings':
      return { name, type: ATTR.STRINGS, strings: a.value.map((s) => utf8Enc.encode(s)) };
    case 'tensor':
      return { name, type: ATTR.TENSOR, t: a.value };
    case 'other':
      return a.proto;
  }
}

function decodeValueInfo(v: ValueInfoProto): ValueInfo {
  const tt = v.type?.tensorType;
  const shape = tt?.shape ? tt.shape.dim.map((d): Dim => (d.dimParam ? d.dimParam : d.dimValue !== undefined && d.dimValue !== null ? toNumber(d.dimValue) : null)) : null;
  return { name: v.name, elemType: tt?.elemType ?? 0, shape };
}

function encodeValueInfo(v: ValueInfo): ValueInfoProto {
  const shape = v.shape ? { dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : typeof d === 'string' ? { dimParam: d } : {})) } : undefined;
  return { name: v.name, type: { tensorType: { elemType: v.elemType, ...(shape ? { shape } : {}) } } };
}

/** Decodes ONNX bytes into the IR. `source` names the model in error messages. */
export function decodeModel(bytes: Uint8Array, source = 'model'): Model {
  const proto = decodeModelProto(bytes, source);
  const g = proto.graph!;
  const initializers = new Map<string, TensorProto>();
  for (const t of g.initializer) initializers.set(t.name ?? '', t);
  const nodes: Node[] = g.node.map((n, i) => ({
    opType: n.opType,
    domain: n.domain ?? '',
    name: n.name || `${n.opType}_${i}`,
    inputs: [...n.input],
    outputs: [...n.output],
    attrs: Object.fromEntries(n.attribute.map((a) => [a.name, decodeAttr(a)])),
    source: n,
  }));
  const opsets = new Map<string, number>();
  for (const o of proto.opsetImport) opsets.set(o.domain ?? '', toNumber(o.version));
  return {
    graph: {
      name: g.name ?? 'graph',
      nodes,
      inputs: g.input.filter((v) => !initializers.has(v.name)).map(decodeValueInfo),
      outputs: g.output.map(decodeValueInfo),
      initializers,
      valueInfo: g.valueInfo ?? [],
    },
    opsets,
    proto,
  };
}

function encodeNode(n: Node): NodeProto {
  if (n.source) return n.source;
  return {
    input: n.inputs,
    output: n.outputs,
    name: n.name,
    opType: n.opType,
    domain: n.domain,
    attribute: Object.entries(n.attrs).map(([k, a]) => encodeAttr(k, a)),
  };
}

/** Encodes the IR back to ONNX bytes. Untouched nodes and all other model fields are kept as decoded. */
export function encodeModel(model: Model): Uint8Array {
  const g = model.graph;
  const graph = {
    ...model.proto.graph,
    name: g.name,
    node: g.nodes.map(encodeNode),
    initializer: [...g.initializers.values()],
    input: g.inputs.map(encodeValueInfo),
    output: g.outputs.map(encodeValueInfo),
    valueInfo: g.valueInfo,
  };
  const opsetImport = [...model.opsets].map(([domain, version]) => ({ domain, version }));
  return encodeModelProto({ ...model.proto, opsetImport, graph: graph as ModelProto['graph'] });
}

/** A deep-enough copy of a model for rewriting: new node/initializer containers, shared tensor data. */
export function cloneModel(model: Model): Model {
  const g = model.graph;
  return {
    proto: model.proto,
    opsets: new Map(model.opsets),
    graph: {
      name: g.name,
      nodes: g.nodes.map((n) => ({ ...n, inputs: [...n.inputs], outputs: [...n.outputs], attrs: { ...n.attrs } })),
      inputs: g.inputs.map((v) => ({ ...v, shape: v.shape ? [...v.shape] : null })),
      outputs: g.outputs.map((v) => ({ ...v, shape: v.shape ? [...v.shape] : null })),
      initializers: new Map(g.initializers),
      valueInfo: [...g.valueInfo],
    },
  };
}

/** Reads an int attribute with a default. */
export function attrInt(n: Node, name: string, fallback: number): number {
  const a = n.attrs[name];
  return a && a.kind === 'int' ? a.value : fallback;
}
export function attrFloat(n: Node, name: string, fallback: number): number {
  const a = n.attrs[name];
  return a && a.kind === 'float' ? a.value : fallback;
}
export function attrInts(n: Node, name: string): number[] | undefined {
  const a = n.attrs[name];
  return a && a.kind === 'ints' ? a.value : undefined;
}
export function attrString(n: Node, name: string, fallback: string): string {
  const a = n.attrs[name];
  return a && a.kind === 'string' ? a.value : fallback;
}

/** Metadata key under which importers record the image input's layout ('NHWC' for Keras models). */
export const INPUT_LAYOUT_KEY = 'edgetta.input_layout';
