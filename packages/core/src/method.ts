import type { Ops } from './ops.js';
import type { Applicability, SiteKind } from './sites.js';

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
  /**
   * What the layer normalizes over: `batch-norm` (statistics over N and the spatial axes, with
   * running statistics) or a per-sample kind (`layer-norm`, over the axes from {@link axis} on).
   * @defaultValue 'batch-norm'
   */
  kind?: SiteKind;
  /** Channel groups of a `group-norm` site (statistics per sample and group). */
  groups?: number;
  /** First normalized axis of a `layer-norm` site (ONNX LayerNormalization's `axis`, made non-negative once the rank is known). */
  axis?: number;
  /** dims of the layer input in a batch-1 probe run, when the host probed them (e.g. [1, C, H, W]). */
  inputDims?: readonly number[];
}

/**
 * The source parameters of one normalization layer. `mean`/`variance` are its running statistics;
 * sites without them (`layer-norm`, `group-norm`, `instance-norm`) have empty arrays, and methods
 * that read them declare `appliesTo: { sites: ['batch-norm'] }` so they never see such a site.
 */
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
  /**
   * Per-run values returned to the host step, by the names the pass declares in `outputs`
   * (e.g. instance statistics `[N, C]` that a host-side update keys by pseudo-label).
   */
  outputs?: Record<string, T>;
}

/** One compiled graph of a method: how every normalization layer behaves in it. */
export interface PassSpec<O> {
  /** Layer state names fed in as graph inputs. */
  reads?: readonly string[];
  /** Layer state names returned as graph outputs (and committed to the state store after the run). */
  writes?: readonly string[];
  /** Scalar run-time inputs shared by all layers. */
  hyper?: readonly string[];
  /** Per-run layer values returned to the step (`PassOutput.layerOutputs`), not kept as state; each `[N, C]`. */
  outputs?: readonly string[];
  /**
   * Also return the classifier's penultimate features (`PassOutput.features`, `[N, D]`): the input
   * of the linear head that computes the first output. The session refuses a model without one.
   */
  features?: boolean;
  norm<T>(args: NormArgs<T, O>): NormResult<T>;
  /**
   * A scalar loss built on the model's outputs; with `grads`, the pass also returns the gradients
   * of the loss (reverse-mode autodiff on the compiled graph, `@edgetta/autodiff`).
   */
  loss?: LossSpec<O>;
  /** Layer state names to differentiate the loss with respect to (they must be in `reads`). */
  grads?: readonly string[];
  /** Which layers get gradients (default all; e.g. SAR leaves the deepest stage out). `layers` lists them all. */
  trainable?(layer: LayerSource, options: O, layers: readonly LayerSource[]): boolean;
}

/** A pass's loss: which method-level state and per-run tensors it reads, and how it is built. */
export interface LossSpec<O> {
  /** Method-level state entries (keys of `initState`) fed to the loss as graph inputs. */
  reads?: readonly string[];
  /** Per-run float32 tensors the step passes to `run` (e.g. a sample mask, teacher targets). */
  inputs?: readonly string[];
  /**
   * Dims of the per-run inputs, when fixed by the batch ('batch' stands for the model input's batch
   * dim): declared on the graph input so shape inference, and the backward graph, use static forms.
   * @defaultValue unknown dims
   */
  inputDims?: Readonly<Record<string, readonly (number | 'batch')[]>>;
  build<T>(args: LossArgs<T, O>): LossResult<T>;
}

export interface LossArgs<T, O> {
  ops: Ops<T>;
  /** The first model output (a classifier's logits `[N, K]`). */
  logits: T;
  /** All model outputs by name. */
  outputs: Record<string, T>;
  options: O;
  hyper: Record<string, T>;
  /** Method-level state by the names in `reads`. */
  state: Record<string, T>;
  /** Per-run tensors by the names in `inputs`. */
  inputs: Record<string, T>;
  /** Every normalization layer's affine parameters and read state (for anchor penalties). */
  layers: readonly { gamma: T; beta: T; state: Record<string, T> }[];
}

export interface LossResult<T> {
  /** The scalar loss. */
  loss: T;
  /** Extra values returned to the step by name (masks, counts, per-sample entropies). */
  outputs?: Record<string, T>;
}

/** A batch as the host sees it: the model's main input, float32 (NCHW unless `layout` says otherwise). */
export interface Batch {
  data: Float32Array;
  dims: readonly number[];
  /**
   * Layout of an image batch: imported TF.js/Keras models take NHWC. Methods that touch pixels
   * (augmentations) read it; absent means NCHW.
   */
  layout?: ImageLayout;
}

/** How a rank-4 image batch is laid out. */
export type ImageLayout = 'NCHW' | 'NHWC';

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
  /** The loss value, for passes with a loss. */
  loss?: number;
  /** Gradients of the loss by state key (`layer.<i>.gamma`), for passes with `grads`. */
  grads?: Record<string, Float32Array>;
  /** The loss's extra outputs by name. */
  extras?: Record<string, { data: Float32Array; dims: readonly number[] }>;
  /** What the step did with the parameters (gradient methods); recorded in the session's stats. */
  update?: UpdateReport;
  /** The penultimate features `[N, D]`, for passes with `features`. */
  features?: { data: Float32Array; dims: readonly number[] };
  /** Per-run layer values by key (`layer.<i>.<name>`), for passes with `outputs`. */
  layerOutputs?: Record<string, { data: Float32Array; dims: readonly number[] }>;
}

/** The outcome of one adaptation step of a gradient method. */
export interface UpdateReport {
  /** Whether the parameters changed. */
  applied: boolean;
  /** Why the update was skipped (non-finite loss or step, no sample selected, ...). */
  skipped?: string;
  /** The loss the update was computed from. */
  loss?: number;
  /** Samples that contributed to the loss (sample-selective methods). */
  samples?: number;
  /** Method-specific events, e.g. 'reset' when SAR recovers the model. */
  events?: string[];
}

/** What the host knows about the model as a whole. */
export interface ModelInfo {
  /** The model outputs with their declared dims (symbolic or unknown dims as strings/null). */
  outputs: readonly { name: string; dims: readonly (number | string | null)[] | null }[];
  /** Layout of the main (image) input, from the model's `edgetta.input_layout` metadata. @defaultValue 'NCHW' */
  inputLayout?: ImageLayout;
  /** Dims of one sample of the main input (without the batch dim), e.g. [3, 32, 32]. */
  sampleDims?: readonly number[];
}

/** The number of classes of a classifier: the last dim of its first output, when declared. */
export function classCount(model: ModelInfo | undefined): number | undefined {
  const dims = model?.outputs[0]?.dims;
  const k = dims?.[dims.length - 1];
  return typeof k === 'number' ? k : undefined;
}

/**
 * Named Float32Array state. Keys are `layer.<i>.<name>` for layer state and free-form for method
 * state. The rule that makes rollback cheap: an array returned by `get` is never mutated. A method
 * replaces an entry with `set`, or changes part of it in place through `write`, which hands out a
 * mutable view and lets the host keep only the overwritten range for rollback (a memory bank's
 * one slot, not the bank).
 */
export interface StateStore {
  /** The entry, read-only by the rule above. */
  get(key: string): Float32Array;
  has(key: string): boolean;
  /** Replaces the entry (the array is owned by the store from now on). */
  set(key: string, value: Float32Array): void;
  /** A mutable view of elements [start, end) of the entry (default the whole entry). */
  write(key: string, start?: number, end?: number): Float32Array;
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
  run(pass: string, args?: RunArgs): Promise<PassOutput>;
}

export interface RunArgs {
  input?: Batch;
  hyper?: Record<string, number>;
  /** Per-run tensors of the pass's loss (`LossSpec.inputs`). */
  inputs?: Record<string, Batch>;
}

/** Documentation and validation of one option (numeric unless `type` says otherwise). */
export interface OptionSpec {
  doc: string;
  /** @defaultValue 'number' */
  type?: 'number' | 'boolean';
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
  /**
   * What the method adapts: the normalization site kinds it needs (the session refuses a model
   * without any, naming the kinds found and the methods that apply). @defaultValue { sites: ['batch-norm'] }
   */
  appliesTo?: Applicability;
  /** Smallest batch size the method supports, with the reason and what works instead. */
  minBatchSize?: { size: number; reason: string };
  /** Initial per-layer state from the source parameters (`model` tells e.g. the number of classes). */
  initLayerState?(layer: LayerSource, options: O, model?: ModelInfo): Record<string, Float32Array>;
  /** dims of layer state entries that are not 1-D (e.g. [K, C] components). */
  layerStateDims?(layer: LayerSource, options: O, model?: ModelInfo): Record<string, number[]>;
  /** Initial method-level state (counters, moving averages, optimizer step counts). */
  initState?(options: O, model?: ModelInfo): Record<string, Float32Array>;
  passes: Record<string, PassSpec<O>>;
  /** Adapts on one batch and returns the output to answer with. */
  step(ctx: StepContext<O>): Promise<PassOutput>;
  /**
   * Answers a batch from the current state without adapting (`AdaptiveSession.infer`, serving
   * while adapting). The host discards every state write made here. Define it when the 'predict'
   * pass is not the plain answer (e.g. it also computes gradients).
   * @defaultValue runs the 'predict' pass
   */
  infer?(ctx: StepContext<O>): Promise<PassOutput>;
  /**
   * Optional calibration on clean source batches before adaptation (EATA: the Fisher information
   * and its anchors). Returns state entries to set; the host keeps them across reset().
   */
  calibrate?(ctx: StepContext<O>, batches: readonly Batch[]): Promise<Record<string, Float32Array>>;
}

/** Key of a layer's state entry in the state store. */
export function layerKey(index: number, name: string): string {
  return `layer.${index}.${name}`;
}
