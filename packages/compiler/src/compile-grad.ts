import { differentiate, STOP_GRADIENT } from '@edgetta/autodiff';
import { layerKey, type LayerSource, type PassSpec } from '@edgetta/core';
import { attrFloat, attrInt, type GraphBuilder, type Model } from '@edgetta/onnx';
import { OnnxOps } from './onnx-ops.js';

/** Graph-input/-output naming of a pass's loss, gradients and per-run inputs. */
export const LOSS_OUT = 'edgetta.loss';
export const GRAD_OUT = 'edgetta.grad.';
export const EXTRA_OUT = 'edgetta.extra.';
export const RUN_IN = 'edgetta.input.';
const METHOD_STATE_IN = 'edgetta.state.';

/** Where a pass with a loss puts the loss, the gradients (by state key) and its extra outputs. */
export interface GradientBindings {
  /** Graph output of the scalar loss. */
  loss: string;
  /** Gradient outputs: graph output name, state key (`layer.<i>.gamma`), dims. */
  grads: { name: string; key: string; dims: number[] }[];
  /** The loss's extra outputs: graph output name and the name the method gave it. */
  extras: { name: string; key: string }[];
  /** Method-level state fed to the loss: graph input name and state key. */
  stateInputs: { name: string; key: string }[];
  /** Per-run tensors: graph input name and the name the method passes them under. */
  inputs: { name: string; key: string }[];
  /** Backward nodes appended by the autodiff. */
  backwardNodes: number;
}

export interface LossContext<O> {
  b: GraphBuilder;
  opset: number;
  options: O;
  hyper: Record<string, string>;
  modelOutputs: readonly string[];
  layers: readonly LayerSource[];
  /** Dims of state entries when known (a loss read declared with its shape lets shape inference pick static forms). */
  stateDims?: Record<string, number[]>;
  /** Per layer (by index): the affine parameters and state inputs the norm subgraph used. */
  handles: readonly { gamma: string; beta: string; state: Record<string, string> }[];
}

/**
 * Builds the pass's loss on the compiled forward graph (with {@link OnnxOps}, like the norm
 * subgraphs), exposes it and its extras as outputs, and appends the backward graph of the
 * requested layer parameters (`@edgetta/autodiff`), one gradient output per parameter.
 */
export function appendLossAndGradients<O>(model: Model, pass: PassSpec<O>, ctx: LossContext<O>): GradientBindings {
  const spec = pass.loss!;
  const { b } = ctx;
  const ops = new OnnxOps(b, ctx.opset, 'loss');
  const stateInputs: GradientBindings['stateInputs'] = [];
  const state: Record<string, string> = {};
  for (const key of spec.reads ?? []) {
    state[key] = b.input({ name: `${METHOD_STATE_IN}${key}`, elemType: 1, shape: ctx.stateDims?.[key] ?? null });
    stateInputs.push({ name: state[key], key });
  }
  const inputs: GradientBindings['inputs'] = [];
  const runInputs: Record<string, string> = {};
  const batch = model.graph.inputs[0]?.shape?.[0] ?? null;
  for (const key of spec.inputs ?? []) {
    const dims = spec.inputDims?.[key]?.map((d) => (d === 'batch' ? batch : d));
    runInputs[key] = b.input({ name: `${RUN_IN}${key}`, elemType: 1, shape: dims && !dims.includes(null) ? dims : null });
    inputs.push({ name: runInputs[key], key });
  }
  const result = spec.build({
    ops,
    logits: ctx.modelOutputs[0],
    outputs: Object.fromEntries(ctx.modelOutputs.map((o) => [o, o])),
    options: ctx.options,
    hyper: ctx.hyper,
    state,
    inputs: runInputs,
    layers: ctx.handles,
  });
  const loss = b.output(result.loss, LOSS_OUT, []);
  const extras = Object.entries(result.outputs ?? {}).map(([key, v]) => ({ name: b.output(v, `${EXTRA_OUT}${key}`), key }));

  const wrt: string[] = [];
  const grads: GradientBindings['grads'] = [];
  const outputNames: Record<string, string> = {};
  for (const layer of ctx.layers) {
    const names = pass.trainable && !pass.trainable(layer, ctx.options, ctx.layers) ? [] : (pass.grads ?? []);
    for (const n of names) {
      const input = ctx.handles[layer.index]?.state[n];
      if (!input) throw new Error(`method pass asks for the gradient of '${n}' but does not read it: add '${n}' to the pass's reads`);
      const key = layerKey(layer.index, n);
      wrt.push(input);
      outputNames[input] = `${GRAD_OUT}${key}`;
      const shape = model.graph.inputs.find((v) => v.name === input)?.shape;
      grads.push({ name: outputNames[input], key, dims: shape?.every((d) => typeof d === 'number') ? (shape as number[]) : [layer.channels] });
    }
  }
  let backwardNodes = 0;
  if (wrt.length) {
    perRunRunningInputs(model, b);
    backwardNodes = differentiate(model, { loss: result.loss, wrt, outputNames }).nodes;
  }
  return { loss, grads, extras, stateInputs, inputs, backwardNodes };
}

/**
 * Gives the train-mode BatchNormalization nodes (momentum 0, batch statistics) running inputs
 * computed each run (zeros from the per-run scale input) instead of constant initializers.
 * onnxruntime writes the running outputs in place into the running inputs; with constants, one
 * non-finite batch would leave them NaN (0 * NaN) for every later run. With per-run inputs the
 * outputs are exactly this batch's mean and variance, and the BatchNormalization gradient rule
 * reuses them instead of recomputing the statistics.
 */
function perRunRunningInputs(model: Model, b: GraphBuilder): void {
  const g = model.graph;
  const graphInputs = new Set(g.inputs.map((v) => v.name));
  const added: typeof g.nodes = [];
  for (const n of g.nodes) {
    if (n.source || n.opType !== 'BatchNormalization' || attrInt(n, 'training_mode', 0) !== 1 || attrFloat(n, 'momentum', 0.9) !== 0) continue;
    const scale = n.inputs[1];
    if (!graphInputs.has(scale) || !g.initializers.has(n.inputs[3]) || !g.initializers.has(n.inputs[4])) continue;
    // Two different ops, so no pass merges them into one buffer written twice; behind a
    // StopGradient, as their values never reach an output at momentum 0.
    const zero = (op: string, inputs: string[]) => {
      const v = b.name(`bn_running_${op}`);
      const out = b.name(`bn_running_${op}_sg`);
      added.push(
        { opType: op, domain: '', name: b.name(`bn_running_${op}`), inputs, outputs: [v], attrs: {} },
        { opType: 'Identity', domain: '', name: b.name(`bn_running/${STOP_GRADIENT}`), inputs: [v], outputs: [out], attrs: {} },
      );
      return out;
    };
    const mean = zero('Mul', [scale, b.scalar(0)]);
    const variance = zero('Sub', [scale, scale]);
    n.inputs = [n.inputs[0], n.inputs[1], n.inputs[2], mean, variance];
  }
  g.nodes = [...added, ...g.nodes];
}
