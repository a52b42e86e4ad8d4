import { cloneModel, encodeModel, GraphBuilder, type Model } from '@edgetta/onnx';
import type { BatchNormSite } from './find.js';

/**
 * The model with every normalization layer's input added as a graph output, so one run on a
 * dummy batch tells each layer's rank and spatial size (exported models rarely carry value_info
 * for intermediate values, and the JS side has no ONNX shape inference).
 */
export function probeModel(model: Model, sites: readonly BatchNormSite[]): { bytes: Uint8Array; outputs: string[] } {
  const out = cloneModel(model);
  const b = new GraphBuilder(out);
  const outputs = sites.map((s) => b.output(s.input, `edgetta.probe.${s.index}`));
  return { bytes: encodeModel(out), outputs };
}
