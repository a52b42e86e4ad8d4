import type { Ops } from './ops.js';

/** What a method knows about one normalization layer of the model. */
export interface LayerInfo {
  /** Position among the model's normalization layers, in graph order. */
  index: number;
  /** The ONNX node name. */
  name: string;
  channels: number;
  /** Rank of the layer's input (4 for NCHW feature maps). */
  rank: number;
  epsilon: number;
}

/** The source parameters of one BatchNormalization layer. */
export interface LayerSource extends LayerInfo {
  gamma: Float32Array;
  beta: Float32Array;
  mean: Float32Array;
  variance: Float32Array;
}

/** Arguments of a method's per-layer normalization, in the handle type `T` of an op builder. */
export interface NormArgs<T, O> {
  ops: Ops<T>;
  /** The layer input `[N, C, ...]`. */
  x: T;
  layer: LayerInfo;
  options: O;
  /** Current affine parameters `[C]`. */
  gamma: T;
  beta: T;
  /** Source running statistics `[C]` (constants). */
  source: { mean: T; variance: T };
  /** This layer's state, by the names the pass declares in `reads`. */
  state: Record<string, T>;
  /** Run-time scalars, by the names the pass declares in `hyper`. */
  hyper: Record<string, T>;
}

export interface NormResult<T> {
  /** The normalized output. */
  y: T;
  /** Updated layer state, by the names the pass declares in `writes`. */
  state?: Record<string, T>;
}

/** One compiled graph of a method: how every normalization layer behaves in it. */
export interface PassSpec<O> {
  /** Layer state names fed in as graph inputs. */
  reads?: readonly string[];
  /** Layer state names returned as graph outputs (and committed to the state store after the run). */
  writes?: readonly string[];
  /** Scalar run-time inputs shared by all layers. */
  hyper?: readonly string[];
  norm<T>(args: NormArgs<T, O>): NormResult<T>;
}

/** A batch as the host sees it: the model's main input, NCHW float32. */
export interface Batch {
  data: Float32Array;
  dims: readonly number[];
}

/** A tensor as the runtime returns it (onnxruntime's Tensor has this shape). */
export interface TensorLike {
  type: string;
  data: unknown;
  dims: readonly number[];
}

/** What one pass run returns to the method's host-side step. */
export interface PassOutput {
  /** The model's outputs by name, as the runtime returned them. */
  outputs: Record<string, TensorLike>;
  /** The first model output (the logits for a classifier). */
  logits: { data: Float32Array; dims: readonly number[] };
}

/** Named Float32Array state. Keys are `layer.<i>.<name>` for layer state and free-form for method state. */
export interface StateStore {
  get(key: string): Float32Array;
  has(key: string): boolean;
  set(key: string, value: Float32Array): void;
  keys(): string[];
}

/** The host-side context of one adaptation step. */
export interface StepContext<O> {
  options: O;
  batch: Batch;
  layers: readonly LayerSource[];
  state: StateStore;
  /** Number of batches adapted on before this one since the last reset. */
  step: number;
  /** Runs a compiled pass. The input defaults to `batch`; state writes are committed on success. */
  run(pass: string, args?: { input?: Batch; hyper?: Record<string, number> }): Promise<PassOutput>;
}

/** Documentation and validation of one numeric option. */
export interface OptionSpec {
  doc: string;
  min?: number;
  max?: number;
  /** Exclusive lower bound. */
  greaterThan?: number;
  integer?: boolean;
}

/**
 * A test-time adaptation method: a plain object. Methods are data — their normalization is
 * written once against {@link Ops}, their per-batch orchestration in `step`.
 */
export interface MethodDefinition<O extends object = Record<string, number>> {
  name: string;
  /** One line for listings. */
  summary: string;
  /** Paper citation. */
  paper: string;
  defaults: Readonly<O>;
  optionSpecs: { readonly [K in keyof O]: OptionSpec };
  /** Smallest batch size the method supports, with the reason and what works instead. */
  minBatchSize?: { size: number; reason: string };
  /** Initial per-layer state from the source parameters. */
  initLayerState?(layer: LayerSource, options: O): Record<string, Float32Array>;
  /** dims of layer state entries that are not 1-D (e.g. [K, C] components). */
  layerStateDims?(layer: LayerSource, options: O): Record<string, number[]>;
  /** Initial method-level state (counters, moving averages). */
  initState?(options: O): Record<string, Float32Array>;
  passes: Record<string, PassSpec<O>>;
  /** Adapts on one batch and returns the output to answer with. */
  step(ctx: StepContext<O>): Promise<PassOutput>;
}

/** Key of a layer's state entry in the state store. */
export function layerKey(index: number, name: string): string {
  return `layer.${index}.${name}`;
}
