import { tensorDims, tensorToFloat32, type AttrInput, type GraphBuilder, type Node } from '@edgetta/onnx';
import { inferNode, type Folded, type Shape, type ShapeInfo } from './shapes.js';

/**
 * What gradient rules emit backward nodes through: opset-aware forms of the ops they use
 * (Reduce* axes as attribute or input, Unsqueeze/Squeeze axes), constants, static shape look-ups,
 * and the one piece of shape logic every broadcasting rule needs, {@link Emitter.unbroadcast}.
 * Every emitted node gets its shape inferred, so later rules see static shapes where they exist.
 */
export class Emitter {
  private readonly shapeNodes = new Map<string, string>();

  constructor(
    readonly b: GraphBuilder,
    readonly info: ShapeInfo,
    readonly opset: number,
    private readonly scope = 'grad',
  ) {}

  node(type: string, inputs: string[], attrs: Record<string, AttrInput> = {}, outputs = 1): string[] {
    const outs = this.b.node(type, inputs, attrs, outputs, `${this.scope}/${type}`);
    const node = this.b.graph.nodes[this.b.graph.nodes.length - 1] as Node;
    inferNode(node, this.info, this.opset);
    return outs;
  }

  op(type: string, inputs: string[], attrs: Record<string, AttrInput> = {}): string {
    return this.node(type, inputs, attrs, 1)[0];
  }

  /** An int64 constant (shared). */
  i64(values: readonly number[], dims: readonly number[] = [values.length]): string {
    const name = this.b.int64(values, dims);
    this.info.shapes.set(name, [...dims]);
    this.info.values.set(name, { values: [...values], dims: [...dims], float: false });
    return name;
  }

  /** A float32 constant (shared), scalar unless `dims` says otherwise. */
  f32(value: number, dims: readonly number[] = []): string {
    const name = this.b.scalar(value, dims);
    this.info.shapes.set(name, [...dims]);
    return name;
  }

  /** A float32 initializer with the given data. */
  tensor(base: string, data: Float32Array, dims: readonly number[]): string {
    const name = this.b.initializer(base, data, dims);
    this.info.shapes.set(name, [...dims]);
    return name;
  }

  /** The data of a constant float tensor (initializer or Constant node), e.g. a frozen conv weight. */
  constTensor(v: string): { data: Float32Array; dims: number[] } | undefined {
    const g = this.b.graph;
    let t = g.initializers.get(v);
    if (!t) {
      const n = g.nodes.find((x) => x.opType === 'Constant' && x.outputs[0] === v);
      const a = n?.attrs.value;
      if (a && a.kind === 'tensor') t = a.value;
    }
    if (!t || t.dataType !== 1) return undefined;
    return { data: tensorToFloat32(t), dims: tensorDims(t) };
  }

  shape(v: string): Shape | undefined {
    return this.info.shapes.get(v);
  }

  setShape(v: string, s: Shape | undefined): void {
    if (s && !this.info.shapes.has(v)) this.info.shapes.set(v, s);
  }

  rank(v: string): number | undefined {
    return this.info.shapes.get(v)?.length;
  }

  /** The rank of `v`, or a clear error for a rule that cannot work without it. */
  needRank(v: string, why: string): number {
    const r = this.rank(v);
    if (r === undefined) throw new Error(`autodiff: the rank of '${v}' is unknown (${why}); declare the model input shapes`);
    return r;
  }

  /** A folded small constant (axes, pads, shapes), when `v` is one. */
  value(v: string): Folded | undefined {
    return this.info.values.get(v);
  }

  /** A Shape node of `v` (one per value). */
  shapeOf(v: string): string {
    let s = this.shapeNodes.get(v);
    if (!s) {
      const known = this.shape(v);
      s = known && known.every((d) => typeof d === 'number') ? this.i64(known as number[]) : this.op('Shape', [v]);
      this.shapeNodes.set(v, s);
    }
    return s;
  }

  /** Dim `axis` of `v` as an int64 [1] value (constant when static). */
  dimOf(v: string, axis: number): string {
    const d = this.shape(v)?.[axis];
    return typeof d === 'number' ? this.i64([d]) : this.op('Gather', [this.shapeOf(v), this.i64([axis])], { axis: 0 });
  }

  /** ReduceX with axes as attribute or input as the opset requires (ReduceSum since 13, the others since 18). */
  reduce(type: string, x: string, axes: readonly number[], keepDims: boolean): string {
    const inputSince = type === 'ReduceSum' ? 13 : 18;
    const keepdims = keepDims ? 1 : 0;
    if (axes.length === 0) return x;
    return this.opset >= inputSince ? this.op(type, [x, this.i64(axes)], { keepdims }) : this.op(type, [x], { axes: [...axes], keepdims });
  }

  unsqueeze(x: string, axes: readonly number[]): string {
    if (axes.length === 0) return x;
    return this.opset >= 13 ? this.op('Unsqueeze', [x, this.i64(axes)]) : this.op('Unsqueeze', [x], { axes: [...axes] });
  }

  squeeze(x: string, axes: readonly number[]): string {
    if (axes.length === 0) return x;
    return this.opset >= 13 ? this.op('Squeeze', [x, this.i64(axes)]) : this.op('Squeeze', [x], { axes: [...axes] });
  }

  /** x reshaped to the shape of `like` (a constant shape when static). */
  reshapeLike(x: string, like: string): string {
    return this.op('Reshape', [x, this.shapeOf(like)]);
  }

  /** x broadcast to the shape of `like`. */
  expandLike(x: string, like: string): string {
    const sx = this.shape(x);
    const sl = this.shape(like);
    if (sx && sl && sx.length === sl.length && sx.every((d, i) => d === sl[i])) return x;
    return this.op('Expand', [x, this.shapeOf(like)]);
  }

  neg(x: string): string {
    return this.op('Neg', [x]);
  }

  /**
   * scale * t + bias per channel (axis 1) in one pass: an inference-mode BatchNormalization with mean
   * 0 and variance 1 (epsilon 0), which onnxruntime runs ~10x faster than Mul + Add with [C, 1, 1]
   * broadcasting on ResNet-sized maps.
   */
  affine(t: string, scale: string, bias?: string): string {
    const c = this.shape(scale)?.[0];
    const zeros = typeof c === 'number' ? this.f32(0, [c]) : this.op('Mul', [scale, this.f32(0)]);
    const ones = typeof c === 'number' ? this.f32(1, [c]) : this.op('Add', [zeros, this.f32(1)]);
    const out = this.op('BatchNormalization', [t, scale, bias ?? zeros, zeros, ones], { epsilon: { kind: 'float', value: 0 } });
    this.setShape(out, this.shape(t));
    return out;
  }

  /** Sum over every axis but 1 of a rank-`rank` tensor, giving `[C]`. */
  sumPerChannel(x: string, rank: number): string {
    return this.reduce('ReduceSum', x, [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2)], false);
  }

  /**
   * Reduces a gradient `g` (shaped like the broadcast output `out`) back to the shape of the operand
   * `input`: a ReduceSum over the broadcast axes when the shapes are static, else run-time arithmetic
   * on Shape values (left-pad the input shape with ones, reduce where it differs, reshape).
   */
  unbroadcast(g: string, input: string, out: string): string {
    const si = this.shape(input);
    const so = this.shape(out);
    if (si && so) {
      if (si.length === so.length && si.every((d, i) => d === so[i])) return g;
      if (si.length <= so.length) {
        const lead = so.length - si.length;
        const padded = [...Array(lead).fill(1), ...si];
        const axes = padded.flatMap((d, i) => (i < lead || (d === 1 && so[i] !== 1) ? [i] : []));
        const reduced = this.reduce('ReduceSum', g, axes, true);
        return lead > 0 ? this.squeeze(reduced, Array.from({ length: lead }, (_, i) => i)) : reduced;
      }
    }
    if (this.opset < 13) throw new Error(`autodiff: the shapes of '${input}' and '${out}' are unknown and opset ${this.opset} < 13 has no ReduceSum with run-time axes`);
    const sIn = this.op('Shape', [input]);
    const sOut = this.op('Shape', [g]);
    const lead = this.op('Sub', [this.op('Size', [sOut]), this.op('Size', [sIn])]);
    const ones = this.op('ConstantOfShape', [this.op('Reshape', [lead, this.i64([1])])], { value: { kind: 'tensor', value: { dims: [1], dataType: 7, rawData: new Uint8Array(new BigInt64Array([1n]).buffer) } } });
    const padded = this.op('Concat', [ones, sIn], { axis: 0 });
    const differ = this.op('Not', [this.op('Equal', [padded, sOut])]);
    const axes = this.op('Reshape', [this.op('NonZero', [differ]), this.i64([-1])]);
    const reduced = this.op('ReduceSum', [g, axes], { keepdims: 1, noop_with_empty_axes: 1 });
    return this.op('Reshape', [reduced, sIn]);
  }

  /**
   * Pads `t` at the end of axes [from, rank) up to the shape of `like` (negative amounts crop), for
   * transposed convolutions whose output extent is only known at run time.
   */
  padEndTo(t: string, like: string, from: number, rank: number): string {
    const st = this.shape(t);
    const sl = this.shape(like);
    if (st && sl && st.every((d, i) => i < from || d === sl[i])) return t;
    if (st && sl && st.every((d, i) => i < from || (typeof d === 'number' && typeof sl[i] === 'number'))) {
      const ends = st.map((d, i) => (i < from ? 0 : (sl[i] as number) - (d as number)));
      return this.op('Pad', [t, this.i64([...Array(rank).fill(0), ...ends])], { mode: 'constant' });
    }
    const diff = this.op('Sub', [this.op('Shape', [like]), this.op('Shape', [t])]);
    return this.op('Pad', [t, this.op('Concat', [this.i64(Array(rank).fill(0)), diff], { axis: 0 })], { mode: 'constant' });
  }

  /** Sum of gradient contributions (all of one shape). */
  sum(parts: string[]): string {
    if (parts.length === 1) return parts[0];
    return parts.length === 2 ? this.op('Add', parts) : this.op('Sum', parts);
  }
}
