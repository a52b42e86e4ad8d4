/**
 * GroupNorm as exporters before opset 18 write it (torch.onnx, nn.GroupNorm(G, C)):
 *
 *   x [N, C, ...] -> Reshape [0, G, -1] -> InstanceNormalization(scale 1, bias 0, eps)
 *     -> Reshape(Shape(x)) -> Mul gamma [C, 1, ...] -> Add beta [C, 1, ...]
 *
 * The chain is one `group-norm` site: statistics per sample and group, the affine per channel.
 */
import { attrFloat, tensorDims, type Model, type Node } from '@edgetta/onnx';
import { indexGraph, isDefaultDomain } from './graph-index.js';

export interface GroupNormMatch {
  /** The nodes of the chain, first to last (the InstanceNormalization among them). */
  nodes: Node[];
  input: string;
  output: string;
  groups: number;
  epsilon: number;
  gamma: Float32Array;
  beta: Float32Array;
  /** Dims of gamma/beta as the graph holds them, e.g. [C, 1, 1]. */
  affineDims: number[];
}

/** Every decomposed GroupNorm chain of the model, in graph order. */
export function findGroupNormChains(model: Model): GroupNormMatch[] {
  const { producer, constants, only, values } = indexGraph(model);
  const matches: GroupNormMatch[] = [];
  for (const inorm of model.graph.nodes) {
    if (inorm.opType !== 'InstanceNormalization' || !isDefaultDomain(inorm)) continue;
    const pre = producer.get(inorm.inputs[0]);
    if (!pre || pre.opType !== 'Reshape') continue;
    const target = constants.get(pre.inputs[1]);
    const scale = values(inorm.inputs[1]);
    const bias = values(inorm.inputs[2]);
    if (!target || !scale || !bias || scale.some((v) => v !== 1) || bias.some((v) => v !== 0)) continue;
    const post = only(inorm.outputs[0], 'Reshape');
    // The view back to the input's own shape.
    const shapeOf = post && producer.get(post.inputs[1]);
    if (!post || !shapeOf || shapeOf.opType !== 'Shape' || shapeOf.inputs[0] !== pre.inputs[0]) continue;
    const mul = only(post.outputs[0], 'Mul');
    const add = mul && only(mul.outputs[0], 'Add');
    if (!mul || !add) continue;
    const gammaName = mul.inputs.find((i) => i !== post.outputs[0]);
    const betaName = add.inputs.find((i) => i !== mul.outputs[0]);
    const gamma = gammaName ? values(gammaName) : undefined;
    const beta = betaName ? values(betaName) : undefined;
    if (!gamma || !beta || gamma.length !== beta.length) continue;
    matches.push({
      nodes: [pre, inorm, post, mul, add],
      input: pre.inputs[0],
      output: add.outputs[0],
      groups: scale.length,
      epsilon: attrFloat(inorm, 'epsilon', 1e-5),
      gamma: gamma.slice(),
      beta: beta.slice(),
      affineDims: tensorDims(constants.get(gammaName!)!),
    });
  }
  return matches;
}
