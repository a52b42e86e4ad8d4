import { layerKey, ownStatisticsNorm, type LayerSource, type NormResult, type PassSpec } from '@edgetta/core';
import { cloneModel, encodeModel, GraphBuilder, type Model, type Node } from '@edgetta/onnx';
import type { NormSite } from './find.js';
import { OnnxOps } from './onnx-ops.js';
import { appendLossAndGradients, type GradientBindings } from './compile-grad.js';
import { findFeatureTap } from './features.js';

/** Graph-input/-output naming of compiled state, so a session can feed and read it by key. */
export const STATE_IN = 'edgetta.state.';
export const STATE_OUT = 'edgetta.state_out.';
export const HYPER_IN = 'edgetta.hyper.';
export const TAP = 'edgetta.tap.';
export const LAYER_OUT = 'edgetta.layer_out.';
export const FEATURES = 'edgetta.features';

export interface StateBinding {
  /** Graph input or output name. */
  name: string;
  /** State store key (`layer.<i>.<name>`). */
  key: string;
  dims: number[];
}

export interface CompileOptions<O> {
  options: O;
  /** dims of each state entry by key; entries not listed are 1-D of their layer's channel count. */
  stateDims?: Record<string, number[]>;
  /** Also output every layer's input and output (`edgetta.tap.<i>.x` / `.y`), for tests. */
  taps?: boolean;
  /**
   * Use train-mode BatchNormalization nodes for batch statistics (see `OnnxOpsLayer`); raises the
   * default-domain opset of opset-13/14 models to 15 (no op used by such models changes meaning
   * between 13 and 15). Off for models below opset 13 and when set to false.
   * @defaultValue true
   */
  fastBatchStats?: boolean;
}

export interface CompiledPass {
  /** The rewritten IR (for further transforms such as autodiff). */
  model: Model;
  stateInputs: StateBinding[];
  stateOutputs: StateBinding[];
  /** Hyper name -> graph input name (float32 scalar). */
  hyperInputs: Record<string, string>;
  /** The model's own outputs, in order. */
  modelOutputs: string[];
  /** Present when compiled with `taps`: per-layer input/output value names. */
  taps?: { x: string; y: string }[];
  /** Present when the pass has a loss: its loss, gradient and extra outputs (see compile-grad.ts). */
  grad?: GradientBindings;
  /**
   * Per-run layer values (`PassSpec.outputs`, each `[N, C]`): one graph output per name holds every
   * layer's value side by side, `[N, sum C]` (one fetch instead of one per layer); a layer's value
   * is columns [offset, offset + width) of it.
   */
  layerOutputs: { name: string; key: string; offset: number; width: number }[];
  /** Graph output of the penultimate features, for passes with `features`. */
  features?: string;
  encode(): Uint8Array;
}

/**
 * Rewrites every BatchNormalization site into the pass's normalization subgraph. State declared in
 * `reads` becomes graph inputs, state in `writes` graph outputs, `hyper` scalars graph inputs; nodes
 * other than BatchNormalization pass through untouched.
 */
export function compilePass<O>(
  model: Model,
  sites: readonly NormSite[],
  layers: readonly LayerSource[],
  pass: PassSpec<O>,
  opts: CompileOptions<O>,
): CompiledPass {
  const out = cloneModel(model);
  const g = out.graph;
  let opset = out.opsets.get('') ?? out.opsets.get('ai.onnx') ?? 13;
  const fastBatchStats = (opts.fastBatchStats ?? true) && opset >= 13;
  if (fastBatchStats && opset < 15) {
    opset = 15;
    out.opsets.set(out.opsets.has('ai.onnx') ? 'ai.onnx' : '', 15);
  }
  const b = new GraphBuilder(out);
  const modelOutputs = g.outputs.map((o) => o.name);
  // cloneModel keeps node order, so a site's position in the source graph finds its clone.
  const bySite = new Map<Node, NormSite>();
  for (const s of sites) {
    const at = model.graph.nodes.indexOf(s.node);
    if (at < 0) throw new Error(`compilePass: BatchNormalization '${s.name}' is not a node of this model`);
    bySite.set(g.nodes[at], s);
  }
  const original = g.nodes;
  const stateInputs: StateBinding[] = [];
  const stateOutputs: StateBinding[] = [];
  const hyperInputs: Record<string, string> = {};
  const hyper: Record<string, string> = {};
  for (const h of pass.hyper ?? []) {
    hyperInputs[h] = b.input({ name: `${HYPER_IN}${h}`, elemType: 1, shape: [] });
    hyper[h] = hyperInputs[h];
  }
  const taps: { x: string; y: string }[] = [];
  const layerOutputs: CompiledPass['layerOutputs'] = [];
  const perRun = new Map<string, { value: string; key: string; width: number }[]>();
  const dimsOf = (key: string, channels: number): number[] => opts.stateDims?.[key] ?? [channels];

  const handles: { gamma: string; beta: string; state: Record<string, string> }[] = [];
  // Nodes of a multi-node site other than its last are replaced too.
  const absorbed = new Set(sites.flatMap((s) => (s.nodes ?? []).filter((n) => n !== s.node)));
  g.nodes = [];
  for (const node of original) {
    if (absorbed.has(node)) continue;
    const site = bySite.get(node);
    if (!site) {
      g.nodes.push(node);
      continue;
    }
    const layer = layers[site.index];
    const ops = new OnnxOps(b, opset, `bn${site.index}`, { rank: layer.rank, channels: site.channels, fastBatchStats });
    const [, scale, bias, mean, variance] = node.inputs;
    const state: Record<string, string> = {};
    for (const s of pass.reads ?? []) {
      const key = layerKey(site.index, s);
      const dims = dimsOf(key, site.channels);
      state[s] = b.input({ name: `${STATE_IN}${key}`, elemType: 1, shape: dims });
      stateInputs.push({ name: state[s], key, dims });
    }
    const result = (site.kind ?? 'batch-norm') === 'batch-norm'
      ? pass.norm({
          ops,
          x: site.input,
          layer,
          options: opts.options,
          gamma: state.gamma ?? scale,
          beta: state.beta ?? bias,
          source: { mean, variance },
          state,
          hyper,
        })
      : perSampleNorm(ops, site, layer.rank, state, b);
    handles[site.index] = { gamma: state.gamma ?? scale, beta: state.beta ?? bias, state };
    for (const s of pass.writes ?? []) {
      const v = result.state?.[s];
      if (v === undefined) throw new Error(`method pass writes state '${s}' but its norm() returned none for layer ${site.index}`);
      const key = layerKey(site.index, s);
      stateOutputs.push({ name: b.output(v, `${STATE_OUT}${key}`, dimsOf(key, site.channels)), key, dims: dimsOf(key, site.channels) });
    }
    for (const s of pass.outputs ?? []) {
      const v = result.outputs?.[s];
      if (v === undefined) throw new Error(`method pass outputs '${s}' but its norm() returned none for layer ${site.index}`);
      const key = layerKey(site.index, s);
      (perRun.get(s) ?? perRun.set(s, []).get(s)!).push({ value: v, key, width: site.channels });
    }
    // Keep the original output name so downstream nodes are untouched.
    g.nodes.push({ opType: 'Identity', domain: '', name: b.name(`bn${site.index}/out`), inputs: [result.y], outputs: [site.output], attrs: {} });
    if (opts.taps) {
      taps.push({
        x: b.output(site.input, `${TAP}${site.index}.x`),
        y: b.output(site.output, `${TAP}${site.index}.y`),
      });
    }
  }
  for (const [s, parts] of perRun) {
    const joined = parts.length === 1 ? parts[0].value : b.op('Concat', parts.map((p) => p.value), { axis: { kind: 'int', value: 1 } });
    const name = b.output(joined, `${LAYER_OUT}${s}`);
    let offset = 0;
    for (const p of parts) {
      layerOutputs.push({ name, key: p.key, offset, width: p.width });
      offset += p.width;
    }
  }
  let features: string | undefined;
  if (pass.features) {
    const tap = findFeatureTap(model);
    if (tap.value === undefined) throw new FeatureTapError(tap.reason);
    features = b.output(tap.value, FEATURES);
  }
  const grad = pass.loss ? appendLossAndGradients(out, pass, { b, opset, options: opts.options, hyper, modelOutputs, layers, handles, stateDims: opts.stateDims }) : undefined;
  pruneInitializers(out);
  return {
    model: out,
    stateInputs,
    stateOutputs,
    hyperInputs,
    modelOutputs,
    layerOutputs,
    ...(features ? { features } : {}),
    ...(opts.taps ? { taps } : {}),
    ...(grad ? { grad } : {}),
    encode: () => encodeModel(out),
  };
}

/** A pass needs the penultimate features (`PassSpec.features`) and the model has no linear head to read them from. */
export class FeatureTapError extends Error {
  constructor(readonly reason: string) {
    super(`the model has no penultimate features to read: ${reason}`);
    this.name = 'FeatureTapError';
  }
}

/**
 * A site without batch statistics (LayerNorm) normalizes with its own statistics; the pass
 * chooses only its affine (state `gamma`/`beta` when it reads them, else the exported ones).
 */
function perSampleNorm(ops: OnnxOps, site: NormSite, rank: number, state: Record<string, string>, b: GraphBuilder): NormResult<string> {
  // State is flat [C]; the graph's affine has the normalized shape ([C, 1, 1] for a GroupNorm chain).
  const affine = (role: 'gamma' | 'beta'): string =>
    state[role] ? (site.affineDims.length > 1 ? ops.reshape(state[role], site.affineDims) : state[role]) : b.initializer(`site${site.index}/${role}`, site[role], site.affineDims);
  if (site.kind === 'group-norm') {
    // Statistics per sample and group on the [N, G, -1] view, then the per-channel affine.
    const grouped = ops.reshape(site.input, [0, site.groups!, -1]);
    const normalized = ownStatisticsNorm(ops, grouped, [2], b.scalar(1), b.scalar(0), site.epsilon);
    const back = b.op('Reshape', [normalized, b.op('Shape', [site.input])]);
    return { y: ops.add(ops.mul(back, affine('gamma')), affine('beta')) };
  }
  const axis = site.axis === undefined ? rank - 1 : site.axis < 0 ? site.axis + rank : site.axis;
  const axes = Array.from({ length: rank - axis }, (_, i) => axis + i);
  return { y: ownStatisticsNorm(ops, site.input, axes, affine('gamma'), affine('beta'), site.epsilon) };
}

/** Drops initializers no node reads any more (e.g. source statistics a method ignores). */
function pruneInitializers(model: Model): void {
  const used = new Set<string>();
  for (const n of model.graph.nodes) for (const i of n.inputs) used.add(i);
  for (const o of model.graph.outputs) used.add(o.name);
  for (const k of [...model.graph.initializers.keys()]) if (!used.has(k)) model.graph.initializers.delete(k);
}
