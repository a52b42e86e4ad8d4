/**
 * LayerNorm as exporters before opset 17 write it (torch.onnx for nn.LayerNorm, ViTs at opset 13):
 *
 *   m = ReduceMean(x, trailing axes); d = Sub(x, m); v = ReduceMean(Pow(d, 2), same axes)
 *   y = Div(d, Sqrt(Add(v, eps))) -> Mul gamma -> Add beta
 *
 * The chain is one `layer-norm` site, as a native LayerNormalization would be.
 */
import { attrInt, attrInts, tensorDims, tensorToFloat32, tensorToInts, type Model, type Node, type TensorProto } from '@edgetta/onnx';

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

const isDefault = (n: Node): boolean => n.domain === '' || n.domain === 'ai.onnx';

/** Every decomposed LayerNorm chain over trailing axes, in graph order. */
export function findLayerNormChains(model: Model): LayerNormMatch[] {
  const g = model.graph;
  const producer = new Map<string, Node>();
  const consumers = new Map<string, Node[]>();
  const constants = new Map<string, TensorProto>(g.initializers);
  for (const n of g.nodes) {
    for (const o of n.outputs) producer.set(o, n);
    for (const i of n.inputs) (consumers.get(i) ?? consumers.set(i, []).get(i)!).push(n);
    if (n.opType === 'Constant' && n.attrs.value?.kind === 'tensor') constants.set(n.outputs[0], n.attrs.value.value);
  }
  const op = (value: string | undefined, type: string): Node | undefined => {
    const n = value === undefined ? undefined : producer.get(value);
    return n && n.opType === type && isDefault(n) ? n : undefined;
  };
  const only = (value: string, type: string): Node | undefined => {
    const c = consumers.get(value) ?? [];
    return c.length === 1 && c[0].opType === type && isDefault(c[0]) ? c[0] : undefined;
  };
  const values = (name: string | undefined): Float32Array | undefined => {
    const t = name === undefined ? undefined : constants.get(name);
    return t ? tensorToFloat32(t) : undefined;
  };
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
  for (const div of g.nodes) {
    if (div.opType !== 'Div' || !isDefault(div)) continue;
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
