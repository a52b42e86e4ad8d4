/**
 * Recovery of BatchNorm folded into convolutions at export (the IR half; the calibration run that
 * measures the statistics lives with the engine, in the sdk).
 *
 * A folded Conv computes z = a*u + c, where u is the pre-BN output, a = gamma/sigma and
 * c = beta - a*mu. A BatchNormalization after it with source statistics (mean_s(z), var_s(z))
 * measured on clean samples and affine gamma' = sqrt(var_s(z) + eps), beta' = mean_s(z) is the
 * identity on the source model, and test-batch normalization of z equals that of u (the sign of a
 * moves into gamma'), up to the estimation error of the source statistics. Every method then runs
 * as on the unfolded model.
 */
import { cloneModel, float32Tensor, GraphBuilder, type Model, type Node } from '@edgetta/onnx';
import { indexGraph, isDefaultDomain } from './graph-index.js';

/** Ops after which a conv output counts as normalized already. */
const NORM_OPS = new Set(['BatchNormalization', 'LayerNormalization', 'GroupNormalization', 'InstanceNormalization']);
/** Ops that start a new linear stage: a path through one of them does not make a conv the head. */
const LINEAR_OPS = new Set(['Conv', 'ConvTranspose', 'Gemm', 'MatMul']);
const CONV_OPS = new Set(['Conv', 'ConvTranspose']);

export interface RecoveryOptions {
  /** Conv node names (or output names) that keep no recovered site. @defaultValue [] */
  exclude?: readonly string[];
  /** Epsilon of the inserted BatchNormalization nodes. @defaultValue 1e-5 */
  epsilon?: number;
}

/** Why a convolution gets no recovered site. */
export type SkipReason = 'normalized' | 'head' | 'excluded' | 'pooled';

/** A convolution considered for recovery. */
export interface RecoveryCandidate {
  conv: Node;
  /** The conv's output value (the inserted norm's input after the rewrite keeps this name downstream). */
  output: string;
  skip?: SkipReason;
}

/**
 * Every Conv/ConvTranspose of the model, each marked with why it gets no site: its output already
 * feeds a normalization op (`normalized`), it reaches a graph output through no further linear
 * layer (`head`: normalizing logits is not what the source did), or the caller excluded it.
 * Convs on pooled [N, C, 1, 1] features (squeeze-excitation) are marked after the probe, by
 * {@link markPooled}.
 */
export function planRecovery(model: Model, options: RecoveryOptions = {}): RecoveryCandidate[] {
  const g = model.graph;
  const { consumers } = indexGraph(model);
  const outputs = new Set(g.outputs.map((o) => o.name));
  const exclude = new Set(options.exclude ?? []);
  // True when `value` reaches a graph output along a path with no linear layer on it.
  const memo = new Map<string, boolean>();
  const reachesOutput = (value: string): boolean => {
    const known = memo.get(value);
    if (known !== undefined) return known;
    memo.set(value, false); // graphs are acyclic; this guards against malformed ones
    let r = outputs.has(value);
    for (const c of consumers.get(value) ?? []) {
      if (r) break;
      if (LINEAR_OPS.has(c.opType) || NORM_OPS.has(c.opType)) continue;
      r = c.outputs.some(reachesOutput);
    }
    memo.set(value, r);
    return r;
  };
  return g.nodes
    .filter((n) => CONV_OPS.has(n.opType) && isDefaultDomain(n))
    .map((conv): RecoveryCandidate => {
      const output = conv.outputs[0];
      const users = consumers.get(output) ?? [];
      let skip: SkipReason | undefined;
      if (exclude.has(conv.name) || exclude.has(output)) skip = 'excluded';
      else if (users.some((u) => NORM_OPS.has(u.opType) && u.inputs[0] === output)) skip = 'normalized';
      else if (reachesOutput(output)) skip = 'head';
      return skip ? { conv, output, skip } : { conv, output };
    });
}

/** Marks the candidates whose probed output has no spatial extent (convs on pooled features). */
export function markPooled(candidates: RecoveryCandidate[], dims: ReadonlyMap<string, readonly number[]>): void {
  for (const c of candidates) {
    const d = dims.get(c.output);
    if (!c.skip && d && d.length >= 3 && d.slice(2).every((x) => x === 1)) c.skip = 'pooled';
  }
}

/** Source statistics of one recovered site: per-channel mean and biased variance of the conv output. */
export interface RecoveredStats {
  mean: Float32Array;
  variance: Float32Array;
}

/**
 * A copy of the model with a BatchNormalization inserted after each conv of `sites`, with the
 * given source statistics and the affine that makes it the identity at the source. Downstream
 * nodes and graph outputs keep their value names: the conv writes a new value, the norm the old.
 */
export function insertRecoveredNorms(model: Model, sites: readonly { output: string; stats: RecoveredStats }[], epsilon = 1e-5): { model: Model; norms: string[] } {
  const out = cloneModel(model);
  const b = new GraphBuilder(out, 'edgetta.recovered');
  const byOutput = new Map(sites.map((s) => [s.output, s.stats]));
  const nodes: Node[] = [];
  const norms: string[] = [];
  for (const n of out.graph.nodes) {
    const stats = CONV_OPS.has(n.opType) ? byOutput.get(n.outputs[0]) : undefined;
    if (!stats) {
      nodes.push(n);
      continue;
    }
    const z = n.outputs[0];
    const pre = b.name(`${n.name}/conv`);
    const c = stats.mean.length;
    const gamma = new Float32Array(c);
    for (let i = 0; i < c; i++) gamma[i] = Math.sqrt(stats.variance[i] + epsilon);
    const init = (role: string, data: Float32Array): string => {
      const name = b.name(`${n.name}/${role}`);
      out.graph.initializers.set(name, float32Tensor(name, data, [c]));
      return name;
    };
    const norm: Node = {
      opType: 'BatchNormalization',
      domain: '',
      name: b.name(`${n.name}/bn`),
      inputs: [pre, init('scale', gamma), init('bias', stats.mean.slice()), init('mean', stats.mean.slice()), init('var', stats.variance.slice())],
      outputs: [z],
      attrs: { epsilon: { kind: 'float', value: epsilon } },
    };
    // The conv's untouched proto would re-encode its old output name.
    nodes.push({ ...n, outputs: [pre, ...n.outputs.slice(1)], source: undefined }, norm);
    norms.push(norm.name);
  }
  out.graph.nodes = nodes;
  return { model: out, norms };
}
