import { decodeModel, INPUT_LAYOUT_KEY, type Model } from '@edgetta/onnx';
import type { ImageLayout } from '@edgetta/core';

/**
 * What `AdaptiveSession.create` accepts: ONNX bytes or a path/URL to them, or an already decoded
 * graph IR `Model` (bare or as `{ kind: 'ir', model }`), e.g. from `importLayersModel` of
 * `@edgetta/tfjs-import`. The SDK only sees the IR, so it depends on no importer.
 */
export type ModelSource = string | Uint8Array | ArrayBuffer | Model | { kind: 'ir'; model: Model; source?: string };

/** True for a graph IR model (duck-typed: a graph with nodes and an opset map). */
function isIrModel(v: unknown): v is Model {
  const m = v as Model;
  return !!m && typeof m === 'object' && !!m.graph && Array.isArray(m.graph.nodes) && m.opsets instanceof Map;
}

/** The model as IR, from any {@link ModelSource}, with the name errors use. */
export async function loadModel(model: ModelSource): Promise<{ ir: Model; source: string }> {
  if (isIrModel(model)) return { ir: model, source: 'model IR' };
  if (model && typeof model === 'object' && (model as { kind?: unknown }).kind === 'ir') {
    const m = model as { model: unknown; source?: string };
    if (!isIrModel(m.model)) throw new TypeError("model: { kind: 'ir' } needs a graph IR Model in 'model'");
    return { ir: m.model, source: m.source ?? 'model IR' };
  }
  const { bytes, source } = await loadModelBytes(model as string | Uint8Array | ArrayBuffer);
  refuseTfjsJson(bytes, source);
  return { ir: decodeModel(bytes, source), source };
}

/**
 * A TF.js `model.json` is not ONNX: say which importer reads it instead of a protobuf error.
 * (ONNX files start with a protobuf field tag, never with '{'.)
 */
function refuseTfjsJson(bytes: Uint8Array, source: string): void {
  let i = 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++;
  if (bytes[i] !== 0x7b) return;
  let json: { format?: unknown; modelTopology?: { class_name?: unknown; model_config?: unknown; node?: unknown } } | undefined;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new Error(`${source}: a JSON file, not an ONNX model`);
  }
  const topology = json?.modelTopology;
  const format = typeof json?.format === 'string' ? json.format : topology && Array.isArray(topology.node) ? 'graph-model' : topology ? 'layers-model' : undefined;
  if (format === 'layers-model') {
    throw new Error(`${source}: a TF.js LayersModel (Keras) model.json; import it first: AdaptiveSession.create(await importLayersModel('${source}')) with importLayersModel from @edgetta/tfjs-import`);
  }
  if (format === 'graph-model') {
    throw new Error(
      `${source}: a TF.js GraphModel (tfjs-converter output), which edgetta does not import yet; convert the original SavedModel to ONNX (python -m tf2onnx.convert --saved-model <dir> --output model.onnx), then pass calibration: [...] to recover its folded BatchNorm`,
    );
  }
  throw new Error(`${source}: a JSON file, not an ONNX model (nor a TF.js model.json: it has no modelTopology)`);
}

export { INPUT_LAYOUT_KEY };

/** The layout of the model's main input: 'NHWC' when its metadata says so (imported Keras models), else NCHW. */
export function inputLayoutOf(model: Model): ImageLayout {
  const props = model.proto.metadataProps as { key?: string; value?: string }[] | undefined;
  return props?.find((p) => p.key === INPUT_LAYOUT_KEY)?.value === 'NHWC' ? 'NHWC' : 'NCHW';
}

/** Model bytes from a path (Node), a URL (fetch), bytes or an ArrayBuffer. Node modules load lazily. */
export async function loadModelBytes(model: string | Uint8Array | ArrayBuffer): Promise<{ bytes: Uint8Array; source: string }> {
  if (model instanceof Uint8Array) return { bytes: model, source: 'model bytes' };
  if (model instanceof ArrayBuffer) return { bytes: new Uint8Array(model), source: 'model bytes' };
  if (typeof model !== 'string') {
    throw new TypeError(`model: expected a file path, a URL, a Uint8Array or an ArrayBuffer (or a graph IR Model), got ${model === null ? 'null' : typeof model}`);
  }
  const isUrl = /^(https?|blob|data):/i.test(model);
  const isNode = typeof process !== 'undefined' && !!process.versions?.node;
  if (!isUrl && isNode) {
    const fs = await import(/* @vite-ignore */ 'node:fs/promises' as string);
    try {
      return { bytes: new Uint8Array(await fs.readFile(model)), source: model };
    } catch (e) {
      throw new Error(`model: cannot read '${model}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  const res = await fetch(model);
  if (!res.ok) throw new Error(`model: fetching '${model}' failed with HTTP ${res.status}`);
  return { bytes: new Uint8Array(await res.arrayBuffer()), source: model };
}
