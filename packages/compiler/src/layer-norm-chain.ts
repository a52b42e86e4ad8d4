/**
 * LayerNorm as exporters before opset 17 write it (torch.onnx for nn.LayerNorm, ViTs at opset 13):
 *
 *   m = ReduceMean(x, trailing axes); d = Sub(x, m); v = ReduceMean(Pow(d, 2), same axes)
 *   y = Div(d, Sqrt(Add(v, eps))) -> Mul gamma -> Add beta
 *
 * The chain is one `layer-norm` site, as a native LayerNormalization would be.
 */
import { attrInt, attrInts, tensorDims, tensorToInts, type Model, type Node } from '@edgetta/onnx';
import { indexGraph, isDefaultDomain } from './graph-index.js';

export interface LayerNormMatch {
  /** The nodes of the chain, first to last. */
  nodes: Node[];
  input: string;
  output: string;
  /** First normalized axis, negative (counted from the end). */
  axis: number;
  epsilon: number;
  gamma: Float32Array;
  beta: Float32Array;
  affineDims: number[];
}

/** Every decomposed LayerNorm chain over trailing axes, in graph order. */
export function findLayerNormChains(model: Model): LayerNormMatch[] {
  const { constants, op, only, values } = indexGraph(model);
  // Reduction axes from the attribute (before opset 18) or the axes input; all negative and trailing.
  const axesOf = (n: Node): number[] | undefined => {
    if (attrInt(n, 'keepdims', 1) !== 1) return undefined;
    const t = n.inputs[1] ? constants.get(n.inputs[1]) : undefined;
    const axes = attrInts(n, 'axes') ?? (t ? tensorToInts(t) : undefined);
    if (!axes?.length || axes.some((a) => a >= 0)) return undefined;
    const sorted = [...axes].sort((a, b) => a - b);
    return sorted.every((a, i) => a === -sorted.length + i) ? sorted : undefined;
  };
  const matches: LayerNormMatch[] = [];
  for (const div of model.graph.nodes) {
    if (div.opType !== 'Div' || !isDefaultDomain(div)) continue;
    const sub = op(div.inputs[0], 'Sub');
    const sqrt = op(div.inputs[1], 'Sqrt');
    const addEps = op(sqrt?.inputs[0], 'Add');
    const meanVar = addEps && (op(addEps.inputs[0], 'ReduceMean') ?? op(addEps.inputs[1], 'ReduceMean'));
    const pow = op(meanVar?.inputs[0], 'Pow');
    const mean = op(sub?.inputs[1], 'ReduceMean');
    if (!sub || !sqrt || !addEps || !meanVar || !pow || !mean) continue;
    if (pow.inputs[0] !== sub.outputs[0] || mean.inputs[0] !== sub.inputs[0] || values(pow.inputs[1])?.[0] !== 2) continue;
    const eps = values(addEps.inputs.find((i) => i !== meanVar.outputs[0]));
    const axes = axesOf(mean);
    if (!eps || eps.length !== 1 || !axes || axesOf(meanVar)?.join() !== axes.join()) continue;
    const mul = only(div.outputs[0], 'Mul');
    const add = mul && only(mul.outputs[0], 'Add');
    const gammaName = mul?.inputs.find((i) => i !== div.outputs[0]);
    const betaName = add?.inputs.find((i) => i !== mul!.outputs[0]);
    const gamma = values(gammaName);
    const beta = values(betaName);
    if (!mul || !add || !gamma || !beta || gamma.length !== beta.length) continue;
    matches.push({
      nodes: [mean, sub, pow, meanVar, addEps, sqrt, div, mul, add],
      input: sub.inputs[0],
      output: add.outputs[0],
      axis: axes[0],
      epsilon: eps[0],
      gamma: gamma.slice(),
      beta: beta.slice(),
      affineDims: tensorDims(constants.get(gammaName!)!),
    });
  }
  return matches;
}
