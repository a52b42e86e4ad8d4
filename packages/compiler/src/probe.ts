import { cloneModel, encodeModel, GraphBuilder, type Model } from '@edgetta/onnx';
import type { BatchNormSite } from './find.js';

/** The model with the given values added as graph outputs (`edgetta.tap.<i>`), for a run that reads them. */
export function tapValues(model: Model, values: readonly string[]): { bytes: Uint8Array; outputs: string[] } {
  const out = cloneModel(model);
  const b = new GraphBuilder(out);
  const outputs = values.map((v, i) => b.output(v, `edgetta.tap.${i}`));
  return { bytes: encodeModel(out), outputs };
}

/**
 * The model with every normalization layer's input added as a graph output, so one run on a
 * dummy batch tells each layer's rank and spatial size (exported models rarely carry value_info
 * for intermediate values, and the JS side has no ONNX shape inference).
 */
export function probeModel(model: Model, sites: readonly BatchNormSite[]): { bytes: Uint8Array; outputs: string[] } {
  return tapValues(model, sites.map((s) => s.input));
}

/** Ops whose first output's element type is fixed, whatever their inputs. */
const FIXED_TYPE: Record<string, number> = { Shape: 7, Size: 7, NonZero: 7, ArgMax: 7, ArgMin: 7, Equal: 9, Less: 9, Greater: 9, LessOrEqual: 9, GreaterOrEqual: 9, Not: 9, And: 9, Or: 9, Xor: 9, IsNaN: 9, IsInf: 9 };

/**
 * The element type of every node's first output: fixed by the op, by an attribute (Cast,
 * Constant, ConstantOfShape), else that of its first typed input (Where: the values).
 */
function elementTypes(model: Model): Map<string, number> {
  const g = model.graph;
  const types = new Map<string, number>();
  for (const [k, t] of g.initializers) types.set(k, t.dataType ?? 1);
  for (const v of g.inputs) types.set(v.name, v.elemType);
  for (const n of g.nodes) {
    const a = n.attrs;
    let t: number | undefined = FIXED_TYPE[n.opType];
    if (n.opType === 'Cast' && a.to?.kind === 'int') t = a.to.value;
    else if (n.opType === 'Constant') t = a.value?.kind === 'tensor' ? (a.value.value.dataType ?? 1) : 1;
    else if (n.opType === 'ConstantOfShape') t = a.value?.kind === 'tensor' ? (a.value.value.dataType ?? 1) : 1;
    t ??= types.get(n.inputs[n.opType === 'Where' ? 1 : 0]) ?? n.inputs.map((i) => types.get(i)).find((x) => x !== undefined) ?? 1;
    types.set(n.outputs[0], t);
  }
  return types;
}

/**
 * The model with every float32 intermediate value (first outputs of nodes) added as a graph
 * output, for a run that measures their dims (see `withProbedShapes`).
 */
export function probeAllValues(model: Model): { bytes: Uint8Array; outputs: Map<string, string> } {
  const out = cloneModel(model);
  const b = new GraphBuilder(out);
  const already = new Set(model.graph.outputs.map((o) => o.name));
  const types = elementTypes(model);
  const outputs = new Map<string, string>();
  let k = 0;
  for (const n of model.graph.nodes) {
    const v = n.outputs[0];
    if (v && types.get(v) === 1 && !already.has(v) && !outputs.has(v)) outputs.set(v, b.output(v, `edgetta.shape.${k++}`));
  }
  return { bytes: encodeModel(out), outputs };
}

/**
 * A copy of the model with `value_info` for every float32 intermediate value (the runs hold only
 * those), from probe runs at batch 1 and batch 2 (and, for a dynamic H/W input, at a second size
 * `resized`): a dim equal in every run is static; one that is 1 and 2 with the batch is the input's
 * batch symbol; one that changes only with the image size gets a symbol named by its two measured
 * sizes (`hw16x32`), so dims that follow the size the same way compare equal. Values whose dims
 * follow both are left out. Exported models rarely carry value_info, and the backward graph picks
 * static or matching forms (Resize, computed Slices and Reshapes) only where shapes are known.
 */
export function withProbedShapes(
  model: Model,
  runs: { one: ReadonlyMap<string, readonly number[]>; two: ReadonlyMap<string, readonly number[]>; resized?: ReadonlyMap<string, readonly number[]> },
  batch: string | number,
): Model {
  const out = cloneModel(model);
  const known = new Set(out.graph.valueInfo.map((v) => v.name));
  for (const [name, a] of runs.one) {
    const b = runs.two.get(name);
    const r = runs.resized ? runs.resized.get(name) : a;
    if (!b || !r || a.length !== b.length || a.length !== r.length || known.has(name)) continue;
    const dims: ({ dimValue: number } | { dimParam: string })[] = [];
    let ok = true;
    a.forEach((d, i) => {
      const byBatch = d !== b[i];
      const bySize = d !== r[i];
      if (!byBatch && !bySize) dims.push({ dimValue: d });
      else if (byBatch && !bySize && i === 0 && d === 1 && b[i] === 2 && typeof batch === 'string') dims.push({ dimParam: batch });
      else if (!byBatch && bySize) dims.push({ dimParam: `hw${d}x${r[i]}` });
      else ok = false;
    });
    if (ok) out.graph.valueInfo.push({ name, type: { tensorType: { elemType: 1, shape: { dim: dims } } } });
  }
  return out;
}
