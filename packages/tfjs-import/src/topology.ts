/**
 * Reads the Keras model JSON (the `modelTopology` of a TF.js LayersModel) into one uniform shape,
 * whichever writer produced it: tfjs-layers' `toJSON`, the tfjs converter from Keras 2 (H5 or
 * SavedModel), or Keras 3. Sequential models become a chain so that one walker handles both kinds.
 */

/** A reference to one output tensor of one call (node) of a layer. */
export interface TensorRef {
  layer: string;
  node: number;
  tensor: number;
}

/** A layer of the topology with its calls. */
export interface LayerSpec {
  className: string;
  name: string;
  config: Record<string, any>;
  /** One entry per saved call of the layer: the tensors it was called on. */
  calls: TensorRef[][];
  /** Set when the layer is itself a model (nested Sequential/Functional). */
  graph?: ModelGraph;
  /**
   * Index that references give this layer's first saved call. Models built on their own Input
   * keep that construction as node 0, which the file does not save, so their calls start at 1.
   */
  firstCall: number;
}

/** A model's graph: its layers in file order, its inputs and outputs. */
export interface ModelGraph {
  name: string;
  /** True when the model was built on its own input (a Functional model, or a Sequential with an input shape). */
  ownInput: boolean;
  layers: LayerSpec[];
  inputs: TensorRef[];
  outputs: TensorRef[];
}

/** Class names that hold a graph of layers. */
export const MODEL_CLASSES: ReadonlySet<string> = new Set(['Sequential', 'Model', 'Functional']);

type Json = Record<string, any>;

/**
 * The model config inside a `modelTopology`: tfjs writes it bare, the Keras H5 converter wraps it
 * in `{ model_config, keras_version, training_config }`.
 */
export function modelConfigOf(topology: Json): { config: Json; kerasVersion: string } {
  const config = topology.model_config ?? topology;
  const kerasVersion = String(topology.keras_version ?? config.keras_version ?? '');
  return { config, kerasVersion };
}

/** Parses a model config (`{ class_name, config }`) into a graph. `keras3` selects Keras 3's node numbering. */
export function parseModel(model: Json, where: string, keras3 = false): ModelGraph {
  const cls = model.class_name;
  if (cls === 'Sequential') return parseSequential(model.config, where, keras3);
  if (cls === 'Model' || cls === 'Functional') return parseFunctional(model.config, where, keras3);
  throw new Error(`${where}: expected a Sequential or Functional (Model) topology, got class_name '${cls}'`);
}

function layerSpec(raw: Json, where: string, keras3: boolean): LayerSpec {
  const className = String(raw.class_name ?? '');
  const config: Json = raw.config ?? {};
  const name = String(raw.name ?? config.name ?? '');
  if (!className || !name) throw new Error(`${where}: a layer entry lacks class_name or name: ${JSON.stringify(raw).slice(0, 200)}`);
  const spec: LayerSpec = { className, name, config, calls: parseInbound(raw.inbound_nodes ?? [], `${where}, layer '${name}'`), firstCall: 0 };
  if (MODEL_CLASSES.has(className)) {
    spec.graph = parseModel({ class_name: className, config }, `${where} > ${name}`, keras3);
    // Keras 3 numbers a nested Sequential's calls from 0 (it is not a Functional there).
    spec.firstCall = spec.graph.ownInput && !(keras3 && className === 'Sequential') ? 1 : 0;
  }
  return spec;
}

function parseFunctional(config: Json, where: string, keras3: boolean): ModelGraph {
  const layers = (config.layers ?? []).map((l: Json) => layerSpec(l, where, keras3));
  return { name: String(config.name ?? 'model'), ownInput: true, layers, inputs: refList(config.input_layers, where), outputs: refList(config.output_layers, where) };
}

/**
 * A Sequential model as a chain. Old writers store the layer list as `config` itself; models
 * without an InputLayer get one from the first layer's `batch_input_shape` (named as Keras does).
 */
function parseSequential(config: Json | Json[], where: string, keras3: boolean): ModelGraph {
  const rawLayers: Json[] = Array.isArray(config) ? config : (config.layers ?? []);
  const name = Array.isArray(config) ? 'sequential' : String(config.name ?? 'sequential');
  if (rawLayers.length === 0) throw new Error(`${where}: the Sequential model '${name}' has no layers`);
  const layers: LayerSpec[] = [];
  const explicitInput = rawLayers[0].class_name === 'InputLayer';
  let ownInput = explicitInput;
  if (explicitInput) {
    layers.push({ ...layerSpec(rawLayers[0], where, keras3), calls: [] });
  } else {
    // A shape-less Sequential is only valid nested, where the call supplies the input.
    const c = rawLayers[0].config ?? {};
    const shape = c.batch_input_shape ?? c.batch_shape ?? (c.input_shape ? [null, ...c.input_shape] : undefined);
    ownInput = !!shape;
    const inputName = `${c.name ?? name}_input`;
    layers.push({ className: 'InputLayer', name: inputName, config: { ...(shape ? { batch_input_shape: shape } : {}), dtype: c.dtype ?? 'float32', name: inputName }, calls: [], firstCall: 0 });
  }
  let prev = layers[0].name;
  let prevCall = 0;
  for (const raw of rawLayers.slice(explicitInput ? 1 : 0)) {
    const spec = layerSpec(raw, where, keras3);
    spec.calls = [[{ layer: prev, node: prevCall, tensor: 0 }]];
    layers.push(spec);
    prev = spec.name;
    prevCall = spec.firstCall;
  }
  const last = layers[layers.length - 1];
  return { name, ownInput, layers, inputs: [{ layer: layers[0].name, node: 0, tensor: 0 }], outputs: [{ layer: prev, node: last.firstCall, tensor: 0 }] };
}

/** `input_layers` / `output_layers`: a list of `[name, node, tensor]`, or one such triple (Keras 3, single tensor). */
function refList(raw: unknown, where: string): TensorRef[] {
  if (!Array.isArray(raw)) throw new Error(`${where}: the model config has no input_layers/output_layers list`);
  if (typeof raw[0] === 'string') return [toRef(raw, where)];
  return raw.map((r) => toRef(r, where));
}

function toRef(raw: unknown, where: string): TensorRef {
  if (!Array.isArray(raw) || typeof raw[0] !== 'string') throw new Error(`${where}: cannot read the tensor reference ${JSON.stringify(raw)}`);
  return { layer: raw[0], node: Number(raw[1] ?? 0), tensor: Number(raw[2] ?? 0) };
}

/**
 * `inbound_nodes` in its three spellings:
 * - Keras 2 / tfjs: `[[ [name, node, tensor, kwargs?], ... ], ...]` (one list per call);
 * - a call written as a single entry `[name, node, tensor, kwargs]` instead of a list of one;
 * - Keras 3: `[{ args: [...], kwargs: {...} }, ...]` with `__keras_tensor__` objects (possibly in
 *   nested lists, e.g. `args: [[a, b]]` for Add) carrying `keras_history: [name, node, tensor]`.
 */
function parseInbound(raw: unknown, where: string): TensorRef[][] {
  if (!Array.isArray(raw)) throw new Error(`${where}: inbound_nodes is not a list`);
  return raw.map((call) => {
    if (call && typeof call === 'object' && !Array.isArray(call)) {
      const refs: TensorRef[] = [];
      collectKerasTensors((call as Json).args ?? [], refs);
      return refs;
    }
    if (!Array.isArray(call)) throw new Error(`${where}: cannot read inbound node ${JSON.stringify(call)}`);
    if (typeof call[0] === 'string') return [toRef(call, where)];
    return call.map((entry) => toRef(entry, where));
  });
}

function collectKerasTensors(v: unknown, out: TensorRef[]): void {
  if (Array.isArray(v)) {
    for (const x of v) collectKerasTensors(x, out);
  } else if (v && typeof v === 'object') {
    const o = v as Json;
    const history = o.config?.keras_history;
    if (o.class_name === '__keras_tensor__' && Array.isArray(history)) out.push({ layer: history[0], node: Number(history[1]), tensor: Number(history[2]) });
  }
}
