import type { Attr, Graph, Model, Node, ValueInfo } from './ir.js';
import { float32Tensor, int64Tensor } from './tensor.js';

export type AttrInput = number | number[] | string | Attr;

/**
 * Appends nodes, initializers and graph inputs/outputs to a graph with collision-free names.
 * Numbers become int attributes when integral unless wrapped as `{kind: 'float', value}`;
 * use `f(x)` for float attributes.
 */
export class GraphBuilder {
  private readonly used = new Set<string>();
  private readonly constCache = new Map<string, string>();
  private serialCount = 0;

  constructor(readonly model: Model, readonly prefix = 'edgetta') {
    const g = model.graph;
    for (const n of g.nodes) {
      this.used.add(n.name);
      for (const o of n.outputs) this.used.add(o);
      for (const i of n.inputs) this.used.add(i);
    }
    for (const k of g.initializers.keys()) this.used.add(k);
    for (const v of g.inputs) this.used.add(v.name);
    for (const v of g.outputs) this.used.add(v.name);
  }

  /** 0, 1, 2, ... per builder: distinct values for one graph, independent of what else the process built. */
  serial(): number {
    return this.serialCount++;
  }

  get graph(): Graph {
    return this.model.graph;
  }

  /** A fresh name `prefix/base` (suffixed when taken). */
  name(base: string): string {
    let candidate = `${this.prefix}/${base}`;
    let k = 1;
    while (this.used.has(candidate)) candidate = `${this.prefix}/${base}_${k++}`;
    this.used.add(candidate);
    return candidate;
  }

  /** Reserves an exact name (for graph inputs/outputs with public names); throws if taken. */
  reserve(name: string): string {
    if (this.used.has(name)) throw new Error(`GraphBuilder: name '${name}' is already used in the graph`);
    this.used.add(name);
    return name;
  }

  /** Adds a node and returns its output names. */
  node(opType: string, inputs: string[], attrs: Record<string, AttrInput> = {}, outputs: number | string[] = 1, base = opType): string[] {
    const outs = typeof outputs === 'number' ? Array.from({ length: outputs }, (_, i) => this.name(`${base}_out${i}`)) : outputs;
    const node: Node = {
      opType,
      domain: '',
      name: this.name(base),
      inputs,
      outputs: outs,
      attrs: Object.fromEntries(Object.entries(attrs).map(([k, v]) => [k, toAttr(v)])),
    };
    this.graph.nodes.push(node);
    return outs;
  }

  /** Adds a single-output node and returns the output name. */
  op(opType: string, inputs: string[], attrs: Record<string, AttrInput> = {}, base = opType): string {
    return this.node(opType, inputs, attrs, 1, base)[0];
  }

  /** A float32 initializer. */
  initializer(base: string, data: Float32Array, dims: readonly number[]): string {
    const name = this.name(base);
    this.graph.initializers.set(name, float32Tensor(name, data, dims));
    return name;
  }

  /** An int64 initializer (shared when the same values are asked again). */
  int64(values: readonly number[], dims: readonly number[] = [values.length]): string {
    const key = `i64:${dims.join('x')}:${values.join(',')}`;
    let name = this.constCache.get(key);
    if (!name) {
      name = this.name('const_i64');
      this.graph.initializers.set(name, int64Tensor(name, values, dims));
      this.constCache.set(key, name);
    }
    return name;
  }

  /** A float32 scalar (or shaped) constant, shared when asked again. */
  scalar(value: number, dims: readonly number[] = []): string {
    const key = `f32:${dims.join('x')}:${value}`;
    let name = this.constCache.get(key);
    if (!name) {
      const count = dims.reduce((a, b) => a * b, 1);
      name = this.initializer('const_f32', new Float32Array(count).fill(value), dims);
      this.constCache.set(key, name);
    }
    return name;
  }

  input(info: ValueInfo): string {
    this.reserve(info.name);
    this.graph.inputs.push(info);
    return info.name;
  }

  /** Exposes `value` as a graph output named `name` (through an Identity when the names differ). */
  output(value: string, name: string, shape: ValueInfo['shape'] = null, elemType = 1): string {
    this.reserve(name);
    this.graph.nodes.push({ opType: 'Identity', domain: '', name: this.name(`out/${name}`), inputs: [value], outputs: [name], attrs: {} });
    this.graph.outputs.push({ name, elemType, shape });
    return name;
  }
}

/** Marks a number as a float attribute. */
export function f(value: number): Attr {
  return { kind: 'float', value };
}

function toAttr(v: AttrInput): Attr {
  if (typeof v === 'object' && !Array.isArray(v)) return v;
  if (typeof v === 'string') return { kind: 'string', value: v };
  if (Array.isArray(v)) return v.every(Number.isInteger) ? { kind: 'ints', value: v } : { kind: 'floats', value: v };
  return Number.isInteger(v) ? { kind: 'int', value: v } : { kind: 'float', value: v };
}
