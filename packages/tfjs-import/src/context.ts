import type { GraphBuilder, Node } from '@edgetta/onnx';
import { channelsFirst, identity, transposeBetween, type Perm } from './layout.js';
import type { LayerSpec } from './topology.js';
import type { Weight } from './weights.js';

/** A Keras dimension: a size, or null when unknown (the batch). */
export type Dim = number | null;

/**
 * A Keras tensor during conversion: the ONNX value holding it, its Keras shape (batch first), and
 * its physical layout against that shape. Spatial maps live as NCHW inside the graph while their
 * Keras shape stays NHWC, so layers reason in Keras terms and ask for the layout they need.
 */
export interface KTensor {
  value: string;
  shape: Dim[];
  perm: number[];
}

/** Options the layer converters read. */
export interface ConvertOptions {
  /** Where errors say the model came from. */
  source: string;
  /** The Keras version that wrote the topology ('' when unknown); a few defaults differ in Keras 3. */
  kerasVersion: string;
}

/**
 * What the graph conversion shares across layers: the builder, the decoded weights, and caches
 * so that a value is transposed to a given layout once and a weight becomes one initializer.
 */
export class Converter {
  private readonly transposes = new Map<string, string>();
  private readonly initializers = new Map<string, string>();
  private readonly byName = new Map<string, Weight>();
  /** Manifest weights some layer consumed (the rest are reported as unused). */
  readonly used = new Set<string>();

  constructor(
    readonly b: GraphBuilder,
    weights: ReadonlyMap<string, Weight>,
    readonly options: ConvertOptions,
  ) {
    // Keras 2 writers may keep TF variable suffixes (':0').
    for (const w of weights.values()) this.byName.set(w.name.replace(/:\d+$/, ''), w);
  }

  /** The value of `t` in physical layout `perm` (a Transpose, made once per value and layout). */
  layout(t: KTensor, perm: Perm): string {
    if (t.perm.every((v, i) => v === perm[i])) return t.value;
    const key = `${t.value}|${perm.join(',')}`;
    let out = this.transposes.get(key);
    if (!out) {
      out = this.b.op('Transpose', [t.value], { perm: transposeBetween(t.perm, perm) });
      this.transposes.set(key, out);
    }
    return out;
  }

  /**
   * A manifest weight of a layer: `<path>/<short>` exactly, else `<layer>/<short>`, else the one
   * weight whose name ends in `/<layer>/<short>` (converters prefix nested models differently).
   */
  findWeight(path: readonly string[], short: string): Weight | undefined {
    const layer = path[path.length - 1];
    for (const name of [`${path.join('/')}/${short}`, `${layer}/${short}`]) {
      const w = this.byName.get(name);
      if (w) return w;
    }
    const suffix = `/${layer}/${short}`;
    const hits = [...this.byName.entries()].filter(([n]) => n.endsWith(suffix));
    const inPath = hits.filter(([n]) => path.slice(0, -1).every((p) => n.includes(`${p}/`)));
    const pick = inPath.length === 1 ? inPath : hits;
    return pick.length === 1 ? pick[0][1] : undefined;
  }

  /** Names of the manifest weights whose name mentions the layer (for error messages). */
  weightsMentioning(layer: string): string[] {
    return [...this.byName.keys()].filter((n) => n.split('/').includes(layer));
  }

  /** A float32 initializer made once per key. */
  initializer(key: string, base: string, make: () => { data: Float32Array; dims: number[] }): string {
    let name = this.initializers.get(key);
    if (!name) {
      const { data, dims } = make();
      name = this.b.initializer(base, data, dims);
      this.initializers.set(key, name);
    }
    return name;
  }
}

/** One layer call: the layer's config and weights, and layout helpers. Converters receive this. */
export class LayerContext {
  constructor(
    readonly conv: Converter,
    readonly spec: LayerSpec,
    /** Names of the enclosing models (outermost first) and the layer. */
    readonly path: readonly string[],
  ) {}

  get b(): GraphBuilder {
    return this.conv.b;
  }

  get config(): Record<string, any> {
    return this.spec.config;
  }

  get options(): ConvertOptions {
    return this.conv.options;
  }

  /** How errors name this layer: `layer 'conv1' (Conv2D)`. */
  get where(): string {
    return `${this.options.source}: layer '${this.path.join('/')}' (${this.spec.className})`;
  }

  fail(message: string): never {
    throw new Error(`${this.where}: ${message}`);
  }

  /** A weight of this layer; a missing one is an error naming the layer, the weight and what the manifest has. */
  weight(short: string): Weight {
    const w = this.optionalWeight(short);
    if (w) return w;
    const near = this.conv.weightsMentioning(this.spec.name);
    this.fail(
      `weight '${this.spec.name}/${short}' is not in the weights manifest` +
        (near.length ? ` (weights of this layer found: ${near.join(', ')})` : ' (no weight of this layer was found; do the weight files belong to this model.json?)'),
    );
  }

  optionalWeight(short: string): Weight | undefined {
    const w = this.conv.findWeight(this.path, short);
    if (w) this.conv.used.add(w.name);
    return w;
  }

  /** A weight as an initializer, transformed once (e.g. transposed to ONNX layout), shared by every call of the layer. */
  param(short: string, transform: (w: Weight) => { data: Float32Array; dims: number[] } = (w) => ({ data: w.data, dims: w.shape })): string {
    const w = this.weight(short);
    return this.conv.initializer(`${this.path.join('/')}/${short}`, `${this.spec.name}/${short}`, () => {
      const out = transform(w);
      if (out.data.length !== out.dims.reduce((a, b) => a * b, 1)) this.fail(`weight '${w.name}' has ${out.data.length} values for shape [${out.dims.join(', ')}]`);
      return out;
    });
  }

  /** A constant made for this layer (shared by its calls). */
  constant(key: string, data: Float32Array, dims: number[]): string {
    return this.conv.initializer(`${this.path.join('/')}#${key}`, `${this.spec.name}/${key}`, () => ({ data, dims }));
  }

  layout(t: KTensor, perm: Perm): string {
    return this.conv.layout(t, perm);
  }

  /** The node that computes a value (undefined for graph inputs and initializers). */
  producer(value: string): Node | undefined {
    return this.b.graph.nodes.find((n) => n.outputs.includes(value));
  }

  /** The value in its Keras layout. */
  keras(t: KTensor): string {
    return this.conv.layout(t, identity(t.shape.length));
  }

  /**
   * A spatial map with channels on axis 1 (what ONNX Conv/Pool expect), for the layer's
   * `data_format`; also its channel count and spatial sizes, and how to wrap an NC... result.
   */
  spatial(t: KTensor, rankWanted = 4) {
    const rank = t.shape.length;
    if (rank !== rankWanted) this.fail(`expects a rank-${rankWanted} input (batch included), got shape [${t.shape.map(String).join(', ')}]`);
    const last = (this.config.data_format ?? 'channels_last') !== 'channels_first';
    const perm = last ? channelsFirst(rank) : identity(rank);
    const shapeNC = perm.map((k) => t.shape[k]);
    return {
      value: this.layout(t, perm),
      channels: shapeNC[1],
      sizes: shapeNC.slice(2),
      /** A KTensor for an ONNX result [N, C, ...sizes] in this data format. */
      wrap: (value: string, channels: Dim, sizes: Dim[]): KTensor => {
        const nc: Dim[] = [t.shape[0], channels, ...sizes];
        const shape = new Array<Dim>(rank);
        perm.forEach((k, i) => (shape[k] = nc[i]));
        return { value, shape, perm };
      },
    };
  }
}

/** A tensor with the same shape and layout as `t`, held by `value` (elementwise ops). */
export function like(t: KTensor, value: string): KTensor {
  return { value, shape: [...t.shape], perm: [...t.perm] };
}

/** The physical axis that holds Keras axis `axis` of `t`. */
export function physicalAxis(t: KTensor, axis: number): number {
  return t.perm.indexOf(axis);
}
