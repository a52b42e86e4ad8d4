/**
 * Model preparation for a session (`prepareModel`): loading, folded-BN recovery, which methods
 * apply to the model's sites, probe-measured shapes, the probe run that learns every site's input
 * rank and dims, and the dims of each state entry.
 */
import type { Tensor } from 'onnxruntime-common';
import { applies, describeSites, outputKindOf, type ImageLayout, type ModelInfo, type OutputKind, getMethod, layerKey, listMethods, type LayerSource, type MethodDefinition, type SiteCounts } from '@edgetta/core';
import { findFeatureTap, findSites, probeAllValues, probeModel, surveySites, withProbedShapes, type BatchNormSite, type NormSite } from '@edgetta/compiler';
import type { Model } from '@edgetta/onnx';
import { resolveEngine, type Engine, type EngineOptions } from '@edgetta/engine';
import { inputLayoutOf, loadModel, type ModelSource } from './load.js';
import { checkCalibration, recoverableConvs, recoverNorms, type CalibrationBatch, type RecoveryReport, type RestoreOptions } from './recover.js';

/** Refuses a model the method cannot adapt, naming the site kinds found and the methods that apply. */
export function assertApplies(def: MethodDefinition<any>, found: SiteCounts, source: string, recoverable = 0, output?: OutputKind, hasFeatures = true): void {
  if (applies(def.appliesTo, found, output)) return;
  const wanted = def.appliesTo?.sites ?? ['batch-norm'];
  const readsFeatures = (m: MethodDefinition<any>) => Object.values(m.passes).some((p) => p.features);
  const fitting = listMethods().filter((m) => applies(getMethod(m).appliesTo, found, output) && (hasFeatures || !readsFeatures(getMethod(m))));
  if (applies(def.appliesTo, found)) {
    throw new Error(
      `${source}: method '${def.name}' needs ${def.appliesTo!.outputs!.join(' or ')} outputs, and this model's first output is ${output} logits; methods that apply to this model: ${fitting.join(', ') || '(none)'}`,
    );
  }
  const folded = describeSites(found) === 'no normalization layer' && recoverable > 0 && (wanted === 'any' || wanted.includes('batch-norm'));
  const hint = folded
    ? ` (BatchNormalization was likely folded into its ${recoverable} unnormalized convolutions at export: pass calibration: [tensor, ...] with at least 32 clean, unlabeled training samples to recover it, or export with torch.onnx.export(..., training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False) to keep it)`
    : '';
  throw new Error(
    `${source}: method '${def.name}' adapts ${(wanted as readonly string[]).join(' or ')} sites, and this model has ${describeSites(found)}` +
      hint +
      `; methods that apply to this model: ${fitting.join(', ') || '(none)'}`,
  );
}

/**
 * Dims of every state entry: per-layer entries as the method declares them (default [length]);
 * method-level entries [length] as fed, when their length is known at create (not a buffer sized
 * on the first batch).
 */
export function stateDimsOf(def: MethodDefinition<any>, layers: LayerSource[], options: Record<string, number | boolean>, model?: ModelInfo): Record<string, number[]> {
  const dims: Record<string, number[]> = {};
  for (const [k, v] of Object.entries(def.initState?.(options, model) ?? {})) if (v.length > 0) dims[k] = [v.length];
  for (const layer of layers) {
    const s = def.initLayerState?.(layer, options, model) ?? {};
    const shapes = def.layerStateDims?.(layer, options, model) ?? {};
    for (const [k, v] of Object.entries(s)) dims[layerKey(layer.index, k)] = shapes[k] ?? [v.length];
  }
  return dims;
}

/** Default probe size of a symbolic spatial dim: big enough for a 32x-downsampling network. */
export const PROBE_SPATIAL = 64;

/**
 * Concrete dims to probe the model's input with: the batch is 1, symbolic spatial dims (H, W of a
 * rank-4 image input) take the calibration sample's size or {@link PROBE_SPATIAL}. Layer
 * statistics are per channel, so the compiled passes serve any H and W the model accepts.
 */
export function probeDims(shape: readonly (number | string | null)[], name: string, source: string, layout: ImageLayout = 'NCHW', sample?: readonly number[]): number[] {
  const spatial = shape.length === 4 ? (layout === 'NHWC' ? [1, 2] : [2, 3]) : [];
  return shape.map((d, i) => {
    if (typeof d === 'number') return d;
    if (i === 0) return 1;
    if (!spatial.includes(i)) {
      throw new Error(`${source}: input '${name}' has a symbolic dimension ${i} ('${d ?? '?'}'); edgetta accepts a dynamic batch and dynamic height and width of a rank-4 image input, so export this dimension with a fixed size`);
    }
    return sample?.[i - 1] ?? PROBE_SPATIAL;
  });
}

/** Runs the model once on a zero batch to learn every normalization layer's input rank. */
export async function probeLayers(engine: Engine, model: Model, sites: BatchNormSite[], source: string, layout: ImageLayout, sample?: readonly number[]): Promise<LayerSource[]> {
  const input = model.graph.inputs[0];
  if (!input?.shape) throw new Error(`${source}: the model's input '${input?.name}' has no declared shape`);
  const dims = probeDims(input.shape, input.name, source, layout, sample);
  for (const inp of model.graph.inputs) {
    if (inp.elemType !== 1) throw new Error(`${source}: input '${inp.name}' is ${inp.elemType}; edgetta adapts models with float32 inputs`);
  }
  // Nothing to probe (e.g. `source` on a model without normalization layers).
  if (sites.length === 0) return [];
  const { bytes, outputs } = probeModel(model, sites);
  const session = await engine.createSession(bytes);
  try {
    const feeds: Record<string, Tensor> = {};
    for (const inp of model.graph.inputs) {
      const d = inp === input ? dims : (inp.shape ?? []).map((x) => (typeof x === 'number' ? x : 1));
      feeds[inp.name] = new engine.ort.Tensor('float32', new Float32Array(d.reduce((a, b) => a * b, 1)), d);
    }
    const res = await session.run(feeds, outputs);
    return sites.map((s, i) => {
      const { node: _n, input: _i, output: _o, ...rest } = s;
      return { ...rest, rank: res[outputs[i]].dims.length, inputDims: [...res[outputs[i]].dims] };
    });
  } finally {
    await session.release();
  }
}

/**
 * The model annotated with the dims of its float32 intermediate values, measured by runs of a
 * zero batch of 1 and 2 samples (and, with a dynamic H or W, of 1 sample at twice the size). For
 * gradient methods: the backward graph of ops such as Resize, and of exporters' shape arithmetic,
 * needs sizes that exports do not record.
 */
export async function annotateShapes(engine: Engine, model: Model, source: string, layout: ImageLayout, sample?: readonly number[]): Promise<Model> {
  const input = model.graph.inputs[0];
  if (!input?.shape || model.graph.inputs.length !== 1) return model;
  const dims = probeDims(input.shape, input.name, source, layout, sample);
  const dynamic = input.shape.slice(1).some((d) => typeof d !== 'number');
  const fixedBatch = typeof input.shape[0] === 'number';
  const { bytes, outputs } = probeAllValues(model);
  const session = await engine.createSession(bytes);
  try {
    const run = async (d: number[]): Promise<Map<string, number[]>> => {
      const res = await session.run({ [input.name]: new engine.ort.Tensor('float32', new Float32Array(d.reduce((a, b) => a * b, 1)), d) as Tensor }, [...outputs.values()]);
      const m = new Map<string, number[]>();
      for (const [value, out] of outputs) if (res[out].type === 'float32') m.set(value, [...res[out].dims]);
      return m;
    };
    const first = fixedBatch ? (input.shape[0] as number) : 1;
    const one = await run([first, ...dims.slice(1)]);
    const two = fixedBatch ? one : await run([2, ...dims.slice(1)]);
    const resized = dynamic ? await run([first, ...dims.slice(1).map((d, i) => (typeof input.shape![i + 1] === 'number' ? d : 2 * d))]) : undefined;
    return withProbedShapes(model, { one, two, resized }, input.shape[0] ?? 1);
  } finally {
    await session.release();
  }
}

export interface PrepareOptions extends EngineOptions {
  calibration?: readonly CalibrationBatch[];
  recovery?: 'auto' | false | RestoreOptions;
  /** The session's own refusals of the loaded model (guard, window), run before anything else opens. */
  checks?: (model: Model) => void;
}

export interface PreparedModel {
  engine: Engine;
  /** The model as the passes compile it: recovered BN, probe-measured shapes for gradient methods. */
  ir: Model;
  source: string;
  sites: NormSite[];
  layers: LayerSource[];
  modelInfo: ModelInfo;
  recovered: RecoveryReport | undefined;
}

/**
 * Everything before compiling a method's passes: load, check the session's options against the
 * model, recover folded BN from calibration samples, refuse a method that does not apply, measure
 * shapes for gradient methods, find the sites and probe their ranks and dims.
 */
export async function prepareModel(model: ModelSource, def: MethodDefinition<any>, options: PrepareOptions): Promise<PreparedModel> {
  const loaded = await loadModel(model);
  const source = loaded.source;
  let ir = loaded.ir;
  options.checks?.(ir);
  let found = surveySites(ir);
  const recovery = options.recovery ?? 'auto';
  const recover = options.calibration !== undefined && recovery !== false && (recovery !== 'auto' || (!found['layer-norm'] && !found['group-norm'] && !found['instance-norm']));
  const calibrated = options.calibration !== undefined ? checkCalibration(options.calibration, ir, typeof recovery === 'object' ? recovery.minSamples : undefined) : undefined;
  if (typeof recovery === 'object' && options.calibration === undefined) {
    throw new Error('recovery: recovering folded BatchNorm needs calibration: pass calibration: [tensor, ...] of clean, unlabeled training samples');
  }
  let recovered: RecoveryReport | undefined;
  const engine = await resolveEngine(options);
  if (recover && (typeof recovery === 'object' || recoverableConvs(ir) > 0)) {
    ({ model: ir, report: recovered } = await recoverNorms(engine, ir, source, options.calibration!, typeof recovery === 'object' ? recovery : {}, calibrated));
    found = surveySites(ir);
  }
  const tap = findFeatureTap(ir);
  assertApplies(def, found, source, recoverableConvs(ir), outputKindOf(ir.graph.outputs[0]?.shape?.length), tap.value !== undefined);
  if (Object.values(def.passes).some((p) => p.features)) {
    if (tap.value === undefined) throw new Error(`${source}: method '${def.name}' reads the classifier's penultimate features (the input of its linear head), and this model has none: ${tap.reason}`);
  }
  const layout = inputLayoutOf(ir);
  const sample = options.calibration?.[0] ? [...options.calibration[0].dims].slice(1) : undefined;
  // Backward graphs need static shapes the export did not record (before finding sites: it copies the graph).
  if (Object.values(def.passes).some((p) => p.grads?.length)) ir = await annotateShapes(engine, ir, source, layout, sample);
  // The sites the method adapts (`source`, which applies to any model, runs BN layers in eval form).
  const wanted = def.appliesTo?.sites ?? ['batch-norm'];
  const sites = findSites(ir, (wanted === 'any' ? ['batch-norm' as const] : wanted).filter((k) => (found[k] ?? 0) > 0), source);
  const layers = await probeLayers(engine, ir, sites, source, layout, sample);
  const modelInfo: ModelInfo = {
    outputs: ir.graph.outputs.map((o) => ({ name: o.name, dims: o.shape })),
    inputLayout: layout,
    sampleDims: layers.length ? (ir.graph.inputs[0].shape ?? []).slice(1).map((d) => (typeof d === 'number' ? d : 0)) : [],
  };
  return { engine, ir, source, sites, layers, modelInfo, recovered };
}
