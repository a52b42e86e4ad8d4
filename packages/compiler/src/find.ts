import type { LayerSource, SiteCounts, SiteKind } from '@edgetta/core';
import { isDefaultDomain } from './graph-index.js';
import { findGroupNormChains } from './group-norm.js';
import { findLayerNormChains } from './layer-norm-chain.js';
import { attrFloat, attrInt, tensorDims, tensorToFloat32, type Model, type Node, type TensorProto } from '@edgetta/onnx';

/** A normalization node found in a model, with its source parameters. */
export interface NormSite extends Omit<LayerSource, 'rank'> {
  node: Node;
  /** Name of the layer input value. */
  input: string;
  /** Name of the layer output value. */
  output: string;
  /** Dims of the affine parameters as the graph holds them ([C] for BatchNormalization; LayerNormalization's normalized shape; [C, 1, 1] for a GroupNorm chain). */
  affineDims: number[];
  /** Every node the site replaces when it spans a chain (a decomposed GroupNorm), `node` being the last. */
  nodes?: Node[];
}

/** @deprecated the name of {@link NormSite} when every site was a BatchNormalization. */
export type BatchNormSite = NormSite;

const NORM_LIKE = /norm|LRN|MeanVarianceNormalization/i;

/** The native ONNX op of each site kind (decomposed exporter patterns come with their finders). */
const SITE_OPS: Record<string, SiteKind> = {
  BatchNormalization: 'batch-norm',
  LayerNormalization: 'layer-norm',
  GroupNormalization: 'group-norm',
  InstanceNormalization: 'instance-norm',
};

/**
 * Counts the model's normalization sites by kind: native ops, and GroupNorm chains (whose
 * InstanceNormalization is part of the group-norm site, not an instance-norm one). Nothing else
 * is validated.
 */
export function surveySites(model: Model): SiteCounts {
  const found: SiteCounts = {};
  const chains = findGroupNormChains(model);
  const claimed = new Set(chains.flatMap((c) => c.nodes));
  for (const n of model.graph.nodes) {
    const kind = SITE_OPS[n.opType];
    if (kind && !claimed.has(n) && (n.domain === '' || n.domain === 'ai.onnx')) found[kind] = (found[kind] ?? 0) + 1;
  }
  if (chains.length) found['group-norm'] = (found['group-norm'] ?? 0) + chains.length;
  const lnChains = findLayerNormChains(model).length;
  if (lnChains) found['layer-norm'] = (found['layer-norm'] ?? 0) + lnChains;
  return found;
}

/**
 * Finds every BatchNormalization node with its scale, bias, mean and variance (initializers or
 * Constant nodes). Throws a clear error when there is none, naming the model's norm-like ops.
 */
export function findBatchNorms(model: Model, source = 'model'): NormSite[] {
  const sites = batchNormSites(model, source);
  if (sites.length === 0) {
    const g = model.graph;
    const counts = new Map<string, number>();
    for (const n of g.nodes) if (NORM_LIKE.test(n.opType)) counts.set(n.opType, (counts.get(n.opType) ?? 0) + 1);
    const normLike = [...counts].map(([op, k]) => `${op} x${k}`).join(', ');
    throw new Error(
      `${source}: the model has no BatchNormalization node, so there are no normalization statistics to adapt` +
        (normLike ? ` (its norm-like ops: ${normLike}; edgetta adapts BatchNormalization layers)` : ' (it has no norm-like op at all; was BatchNormalization folded into the convolutions at export?)'),
    );
  }
  return sites;
}

/** Reads a node's parameter tensors: initializers or Constant nodes, through Identity chains. */
function paramReader(model: Model, source: string): (name: string, node: Node, role: string) => { data: Float32Array; dims: number[] } {
  const g = model.graph;
  const constants = new Map<string, TensorProto>();
  for (const n of g.nodes) {
    const v = n.attrs.value;
    if (n.opType === 'Constant' && v && v.kind === 'tensor') constants.set(n.outputs[0], v.value);
  }
  // PyTorch's PRESERVE export shares identical parameter tensors through Identity nodes.
  const identityOf = new Map<string, string>();
  for (const n of g.nodes) if (n.opType === 'Identity' && (n.domain === '' || n.domain === 'ai.onnx')) identityOf.set(n.outputs[0], n.inputs[0]);
  const resolve = (name: string): string => {
    let v = name;
    for (let hops = 0; identityOf.has(v) && hops <= identityOf.size; hops++) v = identityOf.get(v)!;
    return v;
  };
  return (name: string, node: Node, role: string) => {
    const origin = resolve(name);
    const t = g.initializers.get(origin) ?? constants.get(origin);
    if (!t) {
      throw new Error(
        `${source}: ${node.opType} '${node.name}' takes its ${role} from '${name}', which is computed in the graph; edgetta needs the ${role} as an initializer or Constant`,
      );
    }
    // A copy per site: shared initializers still give every layer its own state.
    return { data: tensorToFloat32(t).slice(), dims: tensorDims(t) };
  };
}

/** Every inference-form BatchNormalization node, in graph order. */
function batchNormSites(model: Model, source: string): NormSite[] {
  const g = model.graph;
  const read = paramReader(model, source);
  const lookup = (name: string, node: Node, role: string): Float32Array => read(name, node, role).data;
  const sites: NormSite[] = [];
  for (const node of g.nodes) {
    if (node.opType !== 'BatchNormalization' || (node.domain !== '' && node.domain !== 'ai.onnx')) continue;
    if (attrInt(node, 'training_mode', 0) !== 0) {
      throw new Error(`${source}: BatchNormalization '${node.name}' is exported in training mode; export the model in eval mode`);
    }
    if (attrInt(node, 'spatial', 1) !== 1) {
      throw new Error(`${source}: BatchNormalization '${node.name}' uses spatial=0 (per-activation statistics), which edgetta does not adapt`);
    }
    const [x, scale, bias, mean, variance] = node.inputs;
    const gamma = lookup(scale, node, 'scale');
    const channels = gamma.length;
    const site: NormSite = {
      index: sites.length,
      name: node.name,
      kind: 'batch-norm',
      node,
      input: x,
      output: node.outputs[0],
      affineDims: [channels],
      channels,
      epsilon: attrFloat(node, 'epsilon', 1e-5),
      gamma,
      beta: lookup(bias, node, 'bias'),
      mean: lookup(mean, node, 'mean'),
      variance: lookup(variance, node, 'variance'),
    };
    for (const [role, arr] of [['bias', site.beta], ['mean', site.mean], ['variance', site.variance]] as const) {
      if (arr.length !== channels) throw new Error(`${source}: BatchNormalization '${node.name}': ${role} has ${arr.length} values, scale has ${channels}`);
    }
    sites.push(site);
  }
  return sites;
}

/**
 * Every LayerNormalization node (opset 17) and decomposed LayerNorm chain (older exports), in
 * graph order: per-sample statistics over the axes from `axis` on.
 */
function layerNormSites(model: Model, source: string): NormSite[] {
  const read = paramReader(model, source);
  const sites: NormSite[] = findLayerNormChains(model).map((c, index) => chainSite(c, index, c.nodes[c.nodes.length - 1].name, { kind: 'layer-norm', axis: c.axis }));
  for (const node of model.graph.nodes) {
    if (node.opType !== 'LayerNormalization' || !isDefaultDomain(node)) continue;
    if (node.outputs.slice(1).some((o) => o)) {
      throw new Error(`${source}: LayerNormalization '${node.name}' also outputs its mean or inverse standard deviation, which edgetta does not provide; export without them`);
    }
    const [x, scale, bias] = node.inputs;
    const g = read(scale, node, 'scale');
    const beta = bias ? read(bias, node, 'bias').data : new Float32Array(g.data.length);
    if (beta.length !== g.data.length) throw new Error(`${source}: LayerNormalization '${node.name}': bias has ${beta.length} values, scale has ${g.data.length}`);
    sites.push({
      index: sites.length,
      name: node.name,
      kind: 'layer-norm',
      axis: attrInt(node, 'axis', -1),
      node,
      input: x,
      output: node.outputs[0],
      affineDims: g.dims,
      channels: g.data.length,
      epsilon: attrFloat(node, 'epsilon', 1e-5),
      gamma: g.data,
      beta,
      mean: new Float32Array(0),
      variance: new Float32Array(0),
    });
  }
  return sites;
}

/** Decomposed GroupNorm chains (Reshape-InstanceNormalization-Reshape-Mul-Add), in graph order. */
function groupNormSites(model: Model): NormSite[] {
  return findGroupNormChains(model).map((c, index) => chainSite(c, index, c.nodes[1].name, { kind: 'group-norm', groups: c.groups }));
}

/** The site record of a matched chain: per-sample statistics, so no running ones. */
function chainSite(
  c: { nodes: Node[]; input: string; output: string; affineDims: number[]; epsilon: number; gamma: Float32Array; beta: Float32Array },
  index: number,
  name: string,
  kind: Pick<NormSite, 'kind' | 'axis' | 'groups'>,
): NormSite {
  const { nodes, input, output, affineDims, epsilon, gamma, beta } = c;
  const node = nodes[nodes.length - 1];
  return { index, name, ...kind, node, nodes, input, output, affineDims, channels: gamma.length, epsilon, gamma, beta, mean: new Float32Array(0), variance: new Float32Array(0) };
}

/**
 * The site finders, one per kind (native ops; decomposed exporter patterns join as finders of
 * their own). Each returns its sites in graph order.
 */
export const SITE_FINDERS: Partial<Record<SiteKind, (model: Model, source: string) => NormSite[]>> = {
  'batch-norm': batchNormSites,
  'layer-norm': layerNormSites,
  'group-norm': groupNormSites,
};

/**
 * The model's sites of the given kinds, in graph order, indexed 0.. in that order (the index
 * names the layer's state). A kind without a finder yet is an error naming the kinds supported.
 */
export function findSites(model: Model, kinds: readonly SiteKind[], source = 'model'): NormSite[] {
  const found: NormSite[] = [];
  for (const kind of kinds) {
    const finder = SITE_FINDERS[kind];
    if (!finder) throw new Error(`${source}: edgetta does not adapt ${kind} sites yet (it adapts: ${Object.keys(SITE_FINDERS).join(', ')})`);
    found.push(...finder(model, source));
  }
  const order = new Map(model.graph.nodes.map((n, i) => [n, i]));
  found.sort((a, b) => order.get(a.node)! - order.get(b.node)!);
  return found.map((s, index) => ({ ...s, index }));
}

/** dims of an initializer, for validation messages. */
export function initializerDims(model: Model, name: string): number[] | undefined {
  const t = model.graph.initializers.get(name);
  return t ? tensorDims(t) : undefined;
}
