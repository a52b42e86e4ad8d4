import type { Model } from '@edgetta/onnx';
import { convertTopology } from './convert.js';
import { isGraphModel, loadLayersModel, type LayersModelSource, type LoadOptions } from './load.js';
import { decodeWeights } from './weights.js';

export interface ImportOptions extends LoadOptions {
  /**
   * Drop a softmax that ends an output (a Dense or Activation with activation 'softmax', or a
   * Softmax layer), so the output is logits: the methods' entropy and losses expect logits.
   * @defaultValue false (outputs equal `model.predict`)
   */
  logits?: boolean;
}

/**
 * Imports a TF.js LayersModel as an edgetta graph IR `Model` (ONNX, default domain, opset 15) that
 * `AdaptiveSession.create` accepts and onnxruntime runs:
 *
 * ```ts
 * const model = await importLayersModel('web_model/model.json', { logits: true });
 * const session = await AdaptiveSession.create(model, { method: 'norm' });
 * ```
 *
 * `source` is a model.json path (Node) or URL whose weight shards are read from beside it, the
 * artifacts `{ modelTopology, weightsManifest }` with `options.weights`, the artifacts a save
 * handler receives (`{ modelTopology, weightSpecs, weightData }`), or a tf.LayersModel.
 * The image input keeps its NHWC layout (recorded in the model's metadata for edgetta).
 */
export async function importLayersModel(source: LayersModelSource, options: ImportOptions = {}): Promise<Model> {
  const loaded = await loadLayersModel(source, options);
  if (isGraphModel(loaded.topology, loaded.format)) throw new Error(graphModelMessage(loaded.source, loaded.topology));
  const weights = decodeWeights(loaded.groups, loaded.shards, loaded.source);
  return convertTopology(loaded.topology, weights, { source: loaded.source, logits: options.logits }).model;
}

/** Why a GraphModel cannot be adapted, with what it contains and how to get a LayersModel instead. */
function graphModelMessage(source: string, topology: Record<string, any>): string {
  const nodes: { op?: string }[] = Array.isArray(topology.node) ? topology.node : [];
  const counts = new Map<string, number>();
  for (const n of nodes) if (n.op) counts.set(n.op, (counts.get(n.op) ?? 0) + 1);
  const bn = [...counts].filter(([op]) => /BatchNorm/i.test(op));
  const ops = [...counts].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([op, k]) => `${op} x${k}`).join(', ');
  const why = bn.length
    ? `it still has ${bn.map(([op, k]) => `${op} x${k}`).join(', ')}, but a GraphModel is a frozen TensorFlow graph that the importer does not read`
    : 'the TF.js converter folded every BatchNormalization into the convolution weights (fused Conv2D/BiasAdd), so there are no normalization statistics left to adapt';
  return (
    `${source}: this is a TF.js GraphModel (format 'graph-model'${nodes.length ? `, ${nodes.length} nodes: ${ops}` : ''}), not a LayersModel; ${why}. ` +
    'edgetta needs a LayersModel, which keeps each BatchNormalization layer with its moving mean and variance: convert the Keras model with ' +
    "`tensorflowjs_converter --input_format keras --output_format tfjs_layers_model model.h5 web_model/` (or `tfjs.converters.save_keras_model(model, 'web_model')`), " +
    "or save a tf.LayersModel with `model.save('file://web_model')`."
  );
}
