import type { Model, Node } from '@edgetta/onnx';
import { indexGraph, isDefaultDomain } from './graph-index.js';

/** Ops between a linear head and the model output that keep each sample's values (a bias, a reshape). */
const PASS_THROUGH = new Set(['Identity', 'Flatten', 'Reshape', 'Squeeze', 'Unsqueeze', 'Cast', 'Add']);
/** The linear layers a classifier head is made of. */
const HEAD_OPS = new Set(['Gemm', 'MatMul']);

/** Where a model's penultimate features are, or why it has none a method can read. */
export type FeatureTap = { value: string; head: Node } | { value?: undefined; reason: string };

/**
 * The classifier's penultimate features: the data input of the linear layer (Gemm, or MatMul with
 * a constant weight) that computes the first output, reached from that output through
 * pass-through ops only (bias Add, Flatten, Reshape, ...). LAME's affinity is built on these
 * (Boudiaf et al. take the input of the last linear layer).
 */
export function findFeatureTap(model: Model): FeatureTap {
  const g = model.graph;
  const out = g.outputs[0]?.name;
  if (!out) return { reason: 'the model has no output' };
  const index = indexGraph(model);
  const isConst = (v: string) => index.constants.has(v);
  let value = out;
  for (let hops = 0; hops < 16; hops++) {
    const n = index.producer.get(value);
    if (!n) return { reason: `its first output '${out}' is not computed by a node` };
    if (!isDefaultDomain(n)) return { reason: `its first output '${out}' comes from '${n.opType}' (domain ${n.domain}), not from a linear head` };
    if (HEAD_OPS.has(n.opType)) {
      const [a, w] = n.inputs;
      if (!isConst(w)) return { reason: `the ${n.opType} node '${n.name}' before its first output has no constant weight, so it is not a linear head` };
      return { value: a, head: n };
    }
    if (!PASS_THROUGH.has(n.opType)) {
      return { reason: `its first output '${out}' comes from a '${n.opType}' node ('${n.name}'), not from a Gemm/MatMul classifier head (through bias, reshape or flatten only)` };
    }
    // Through a bias Add the data input is the non-constant one.
    const data = n.opType === 'Add' ? n.inputs.filter((i) => !isConst(i)) : [n.inputs[0]];
    if (data.length !== 1) return { reason: `its first output '${out}' comes from an Add of two computed values ('${n.name}'), not from a linear head` };
    value = data[0];
  }
  return { reason: `no linear head within 16 nodes of its first output '${out}'` };
}
