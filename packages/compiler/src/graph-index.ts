import { tensorToFloat32, type Model, type Node, type TensorProto } from '@edgetta/onnx';

/** Lookups a pattern finder needs: who produces and who reads each value, and its constant tensor. */
export interface GraphIndex {
  producer: Map<string, Node>;
  consumers: Map<string, Node[]>;
  constants: Map<string, TensorProto>;
  /** The producer of `value` when it is a default-domain `type` node. */
  op(value: string | undefined, type: string): Node | undefined;
  /** The single reader of `value` when it is a default-domain `type` node. */
  only(value: string, type: string): Node | undefined;
  /** The float values of a constant (initializer or Constant node). */
  values(name: string | undefined): Float32Array | undefined;
}

export const isDefaultDomain = (n: Node): boolean => n.domain === '' || n.domain === 'ai.onnx';

export function indexGraph(model: Model): GraphIndex {
  const g = model.graph;
  const producer = new Map<string, Node>();
  const consumers = new Map<string, Node[]>();
  const constants = new Map<string, TensorProto>(g.initializers);
  for (const n of g.nodes) {
    for (const o of n.outputs) producer.set(o, n);
    for (const i of n.inputs) (consumers.get(i) ?? consumers.set(i, []).get(i)!).push(n);
    if (n.opType === 'Constant' && n.attrs.value?.kind === 'tensor') constants.set(n.outputs[0], n.attrs.value.value);
  }
  return {
    producer,
    consumers,
    constants,
    op(value, type) {
      const n = value === undefined ? undefined : producer.get(value);
      return n && n.opType === type && isDefaultDomain(n) ? n : undefined;
    },
    only(value, type) {
      const c = consumers.get(value) ?? [];
      return c.length === 1 && c[0].opType === type && isDefaultDomain(c[0]) ? c[0] : undefined;
    },
    values(name) {
      const t = name === undefined ? undefined : constants.get(name);
      return t ? tensorToFloat32(t) : undefined;
    },
  };
}
