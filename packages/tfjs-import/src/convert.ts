import { GraphBuilder, INPUT_LAYOUT_KEY, type Model, type ValueInfo } from '@edgetta/onnx';
import { Converter, LayerContext, type Dim, type KTensor } from './context.js';
import { layerConverters } from './layers/index.js';
import { identity } from './layout.js';
import { MODEL_CLASSES, modelConfigOf, parseModel, type LayerSpec, type ModelGraph, type TensorRef } from './topology.js';
import type { Weight } from './weights.js';

/** The ONNX opset of imported graphs (HardSwish needs 14; 15 is what edgetta's fast batch statistics use). */
export const IMPORT_OPSET = 15;

/** Metadata key telling edgetta the layout of the model's image input. */
export { INPUT_LAYOUT_KEY };

export interface ConvertOptions {
  /** Names the model in errors. */
  source: string;
  /** Drop a softmax that ends an output, so the output is logits (what entropy-based methods want). @defaultValue false */
  logits?: boolean;
}

export interface ConvertResult {
  model: Model;
  /** Manifest weights no layer used (a sign that the weights belong to another model). */
  unusedWeights: string[];
}

/** Layer classes the importer converts (plus InputLayer and nested models). */
export function supportedLayers(): string[] {
  return ['InputLayer', ...Object.keys(layerConverters), ...MODEL_CLASSES].sort();
}

/**
 * Converts a Keras topology with its decoded weights to an ONNX graph. Image inputs keep their
 * Keras layout (NHWC); inside, spatial maps are NCHW (one Transpose after the input, and one
 * before an NHWC output, a Flatten or a Reshape), so BatchNormalization is the standard ONNX node.
 */
export function convertTopology(topology: Record<string, any>, weights: ReadonlyMap<string, Weight>, options: ConvertOptions): ConvertResult {
  const { source } = options;
  const { config, kerasVersion } = modelConfigOf(topology);
  const graph = parseModel(config, source, kerasVersion.startsWith('3'));
  const model: Model = {
    proto: { irVersion: 8, opsetImport: [], producerName: 'edgetta-tfjs-import', producerVersion: '0.1.0', docString: `Imported from the TF.js LayersModel ${source}` },
    opsets: new Map([['', IMPORT_OPSET]]),
    graph: { name: graph.name, nodes: [], inputs: [], outputs: [], initializers: new Map(), valueInfo: [] },
  };
  const b = new GraphBuilder(model, graph.name);
  const conv = new Converter(b, weights, { source, kerasVersion });

  const inputs = graph.inputs.map((ref) => graphInput(b, findLayer(graph, ref.layer, source), source));
  const outputs = walk(conv, graph, inputs, []);
  const taken = new Set<string>(graph.inputs.map((r) => r.layer));
  outputs.forEach((t, i) => {
    const ref = graph.outputs[i];
    let name = ref.layer;
    for (let k = 1; taken.has(name); k++) name = `${ref.layer}_${k}`;
    taken.add(name);
    const out = options.logits ? withoutSoftmax(b, t) : t;
    b.output(conv.layout(out, identity(out.shape.length)), name, dims(out.shape, name));
  });
  pruneDeadNodes(model);
  model.proto.metadataProps = [{ key: INPUT_LAYOUT_KEY, value: inputLayout(graph, inputs) }];
  const unusedWeights = [...weights.keys()].filter((n) => !conv.used.has(n));
  return { model, unusedWeights };
}

function findLayer(graph: ModelGraph, name: string, source: string): LayerSpec {
  const spec = graph.layers.find((l) => l.name === name);
  if (!spec) throw new Error(`${source}: model '${graph.name}' refers to layer '${name}', which it does not define`);
  return spec;
}

/** ONNX dims of a Keras shape: the batch is the symbolic 'batch', other unknown sizes get their own names. */
function dims(shape: readonly Dim[], name: string): ValueInfo['shape'] {
  return shape.map((d, i) => (d !== null ? d : i === 0 ? 'batch' : `${name}_dim${i}`));
}

function graphInput(b: GraphBuilder, spec: LayerSpec, source: string): KTensor {
  const c = spec.config;
  if (spec.className !== 'InputLayer') throw new Error(`${source}: model input '${spec.name}' is a ${spec.className}, expected an InputLayer`);
  const raw = c.batch_input_shape ?? c.batch_shape ?? (c.input_shape ? [null, ...c.input_shape] : undefined);
  if (!Array.isArray(raw)) throw new Error(`${source}: InputLayer '${spec.name}' declares no batch_input_shape`);
  const dtype = String(c.dtype ?? 'float32');
  if (dtype !== 'float32') throw new Error(`${source}: InputLayer '${spec.name}' takes ${dtype}; the importer supports float32 inputs`);
  const shape: Dim[] = raw.map((d: unknown) => (d === null || d === undefined ? null : Number(d)));
  shape[0] = null;
  b.input({ name: spec.name, elemType: 1, shape: dims(shape, spec.name) });
  return { value: spec.name, shape, perm: identity(shape.length) };
}

const refKey = (r: TensorRef) => `${r.layer}:${r.node}:${r.tensor}`;

/**
 * Converts a model's graph given tensors for its inputs; returns its output tensors. Layer calls
 * run as soon as their inputs exist (file order almost always; shared layers may need later passes).
 */
function walk(conv: Converter, graph: ModelGraph, inputs: KTensor[], path: readonly string[]): KTensor[] {
  const { source } = conv.options;
  const where = path.length ? `model '${path.join('/')}'` : `model '${graph.name}'`;
  if (inputs.length !== graph.inputs.length) throw new Error(`${source}: ${where} takes ${graph.inputs.length} inputs, was called on ${inputs.length}`);
  const produced = new Map<string, KTensor>();
  graph.inputs.forEach((ref, i) => produced.set(refKey(ref), inputs[i]));
  let pending = graph.layers.filter((l) => l.className !== 'InputLayer').flatMap((spec) => spec.calls.map((refs, node) => ({ spec, refs, node })));
  while (pending.length) {
    const next: typeof pending = [];
    for (const call of pending) {
      const args = call.refs.map((r) => produced.get(refKey(r)));
      if (args.some((a) => a === undefined)) {
        next.push(call);
        continue;
      }
      const outs = convertCall(conv, call.spec, args as KTensor[], [...path, call.spec.name]);
      (Array.isArray(outs) ? outs : [outs]).forEach((t, i) => produced.set(refKey({ layer: call.spec.name, node: call.node + call.spec.firstCall, tensor: i }), t));
    }
    if (next.length === pending.length) {
      const missing = next.map((c) => `'${c.spec.name}' (needs ${c.refs.filter((r) => !produced.has(refKey(r))).map(refKey).join(', ')})`);
      throw new Error(`${source}: ${where}: cannot connect layers ${missing.join('; ')}; the topology refers to tensors no layer produces`);
    }
    pending = next;
  }
  return graph.outputs.map((ref) => {
    const t = produced.get(refKey(ref));
    if (!t) throw new Error(`${source}: ${where}: output ${refKey(ref)} is produced by no layer call`);
    return t;
  });
}

function convertCall(conv: Converter, spec: LayerSpec, args: KTensor[], path: string[]): KTensor | KTensor[] {
  if (spec.graph) return walk(conv, spec.graph, args, path);
  const converter = layerConverters[spec.className];
  if (!converter) {
    throw new Error(
      `${conv.options.source}: layer '${path.join('/')}' is a ${spec.className}, which the TF.js importer does not support. ` +
        `Supported layer classes: ${supportedLayers().join(', ')}`,
    );
  }
  return converter(new LayerContext(conv, spec, path), args);
}

/** The tensor before a Softmax that produced it (for `logits: true`). */
function withoutSoftmax(b: GraphBuilder, t: KTensor): KTensor {
  const producer = b.graph.nodes.find((n) => n.outputs[0] === t.value);
  return producer?.opType === 'Softmax' ? { ...t, value: producer.inputs[0] } : t;
}

/** Removes nodes whose outputs nothing reads (a stripped softmax, transposes made but not needed). */
function pruneDeadNodes(model: Model): void {
  const g = model.graph;
  for (;;) {
    const read = new Set<string>([...g.nodes.flatMap((n) => n.inputs), ...g.outputs.map((o) => o.name)]);
    const keep = g.nodes.filter((n) => n.outputs.some((o) => read.has(o)));
    if (keep.length === g.nodes.length) break;
    g.nodes = keep;
  }
  const read = new Set(g.nodes.flatMap((n) => n.inputs));
  for (const k of [...g.initializers.keys()]) if (!read.has(k)) g.initializers.delete(k);
}

/** NHWC unless the first layer reading a rank-4 input declares channels_first. */
function inputLayout(graph: ModelGraph, inputs: KTensor[]): string {
  if (inputs[0]?.shape.length !== 4) return 'none';
  const first = graph.inputs[0].layer;
  const reader = graph.layers.find((l) => l.calls.some((refs) => refs.some((r) => r.layer === first)));
  return reader?.config.data_format === 'channels_first' ? 'NCHW' : 'NHWC';
}
