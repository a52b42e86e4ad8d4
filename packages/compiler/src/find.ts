import type { LayerSource, SiteCounts, SiteKind } from '@edgetta/core';
import { attrFloat, attrInt, tensorDims, tensorToFloat32, type Model, type Node, type TensorProto } from '@edgetta/onnx';

/** A BatchNormalization node found in a model, with its source parameters. */
export interface BatchNormSite extends Omit<LayerSource, 'rank'> {
  node: Node;
  /** Name of the layer input value. */
  input: string;
  /** Name of the layer output value. */
  output: string;
}

const NORM_LIKE = /norm|LRN|MeanVarianceNormalization/i;

/** The native ONNX op of each site kind (decomposed exporter patterns come with their finders). */
const SITE_OPS: Record<string, SiteKind> = {
  BatchNormalization: 'batch-norm',
  LayerNormalization: 'layer-norm',
  GroupNormalization: 'group-norm',
  InstanceNormalization: 'instance-norm',
};

/** Counts the model's normalization sites by kind (default-domain ops; nothing is validated). */
export function surveySites(model: Model): SiteCounts {
  const found: SiteCounts = {};
  for (const n of model.graph.nodes) {
    const kind = SITE_OPS[n.opType];
    if (kind && (n.domain === '' || n.domain === 'ai.onnx')) found[kind] = (found[kind] ?? 0) + 1;
  }
  return found;
}

/**
 * Finds every BatchNormalization node with its scale, bias, mean and variance (initializers or
 * Constant nodes). Throws a clear error when there is none, naming the model's norm-like ops.
 */
export function findBatchNorms(model: Model, source = 'model'): BatchNormSite[] {
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
  const lookup = (name: string, node: Node, role: string): Float32Array => {
    const origin = resolve(name);
    const t = g.initializers.get(origin) ?? constants.get(origin);
    if (!t) {
      throw new Error(
        `${source}: BatchNormalization '${node.name}' takes its ${role} from '${name}', which is computed in the graph; edgetta needs the ${role} as an initializer or Constant`,
      );
    }
    // A copy per site: shared initializers still give every layer its own state.
    return tensorToFloat32(t).slice();
  };
  const sites: BatchNormSite[] = [];
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
    const site: BatchNormSite = {
      index: sites.length,
      name: node.name,
      node,
      input: x,
      output: node.outputs[0],
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
  if (sites.length === 0) {
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

/** dims of an initializer, for validation messages. */
export function initializerDims(model: Model, name: string): number[] | undefined {
  const t = model.graph.initializers.get(name);
  return t ? tensorDims(t) : undefined;
}
