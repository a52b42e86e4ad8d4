/**
 * Getting a LayersModel's JSON and weight bytes from wherever the app has them: a model.json path
 * (Node) or URL with its shards beside it, the parsed artifacts with bytes, or a live
 * tf.LayersModel (duck-typed: its `save()` hands the artifacts to a handler, no tfjs import).
 */
import type { Shard, WeightGroup, WeightSpec } from './weights.js';

/** Bytes as ArrayBuffer or any view (Uint8Array, Node Buffer). */
export type Bytes = ArrayBuffer | ArrayBufferView;

/**
 * The TF.js model artifacts: the content of a model.json (`modelTopology` + `weightsManifest`)
 * or what `tf.io.withSaveHandler` receives (`modelTopology` + `weightSpecs` + `weightData`).
 */
export interface LayersModelArtifacts {
  /** Keras JSON (`{ class_name, config }`, possibly wrapped in `{ model_config }`). Optional only to match tfjs' own type. */
  modelTopology?: object | ArrayBuffer;
  format?: string;
  weightsManifest?: WeightGroup[];
  weightSpecs?: WeightSpec[];
  /** All weights back to back (tfjs may split it into several buffers). */
  weightData?: Bytes | Bytes[];
}

/** What a tf.LayersModel offers, structurally: `save(handler)` calls `handler.save(artifacts)`. */
export interface LayersModelLike {
  save(handler: { save?: (artifacts: any) => Promise<any> }, config?: any): Promise<unknown>;
}

export type LayersModelSource = string | URL | LayersModelArtifacts | LayersModelLike;

export interface LoadOptions {
  /**
   * Weight bytes for artifacts without `weightData` (or to replace the files next to a model.json):
   * every shard concatenated in manifest order, or a map from shard path (as in the manifest, or its
   * file name) to bytes.
   */
  weights?: Bytes | Record<string, Bytes>;
  /** fetch for URLs. @defaultValue globalThis.fetch */
  fetch?: typeof fetch;
}

/** What the converter needs. */
export interface Loaded {
  source: string;
  topology: Record<string, any>;
  format?: string;
  groups: WeightGroup[];
  shards: Shard[][];
}

function asBytes(b: Bytes): Uint8Array {
  return b instanceof ArrayBuffer ? new Uint8Array(b) : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function isArtifacts(v: unknown): v is LayersModelArtifacts {
  return !!v && typeof v === 'object' && 'modelTopology' in v;
}

function isLayersModel(v: unknown): v is LayersModelLike {
  return !!v && typeof v === 'object' && typeof (v as LayersModelLike).save === 'function';
}

export async function loadLayersModel(src: LayersModelSource, options: LoadOptions = {}): Promise<Loaded> {
  if (typeof src === 'string' || src instanceof URL) return fromFile(String(src), options);
  if (isArtifacts(src)) return fromArtifacts(src, 'model artifacts', options);
  if (isLayersModel(src)) {
    let captured: LayersModelArtifacts | undefined;
    await src.save({
      save: async (artifacts: LayersModelArtifacts) => {
        captured = artifacts;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      },
    });
    if (!captured) throw new Error('tf.LayersModel: save() did not hand over its artifacts');
    const name = (src as { name?: unknown }).name;
    return fromArtifacts(captured, typeof name === 'string' ? `tf.LayersModel '${name}'` : 'tf.LayersModel', options);
  }
  throw new TypeError(
    `importLayersModel: expected a model.json path or URL, { modelTopology, weightsManifest | weightSpecs, weightData? }, or a tf.LayersModel; got ${src === null ? 'null' : typeof src}`,
  );
}

/** Groups of the artifacts: the manifest, or one group over `weightData` when saved through a handler. */
function groupsOf(a: LayersModelArtifacts): WeightGroup[] {
  if (a.weightsManifest) return a.weightsManifest;
  if (a.weightSpecs) return [{ paths: ['weightData'], weights: a.weightSpecs }];
  return [];
}

function fromArtifacts(a: LayersModelArtifacts, source: string, options: LoadOptions): Loaded {
  const topology = parseTopology(a.modelTopology, source);
  const groups = groupsOf(a);
  if (options.weights !== undefined) return { source, topology, format: a.format, groups, shards: shardsFromOption(groups, options.weights, source) };
  if (a.weightData !== undefined) {
    const parts = Array.isArray(a.weightData) ? a.weightData : [a.weightData];
    return { source, topology, format: a.format, groups, shards: [parts.map((p, i) => ({ path: parts.length > 1 ? `weightData[${i}]` : 'weightData', bytes: asBytes(p) }))] };
  }
  if (groups.some((g) => g.weights.length > 0) && !isGraphModel(topology, a.format)) {
    const files = groups.flatMap((g) => g.paths);
    throw new Error(`${source}: the weights (${files.join(', ')}) were not given; pass them as options.weights (all bytes, or a map from shard path to bytes), or import the model.json by path or URL`);
  }
  return { source, topology, format: a.format, groups, shards: groups.map(() => []) };
}

/** Shards from `options.weights`: one buffer split over the groups in order, or a path -> bytes map. */
function shardsFromOption(groups: WeightGroup[], weights: Bytes | Record<string, Bytes>, source: string): Shard[][] {
  if (weights instanceof ArrayBuffer || ArrayBuffer.isView(weights)) {
    // One buffer: each group's bytes follow the previous group's (as tfjs concatenates them).
    const all = asBytes(weights);
    let at = 0;
    return groups.map((g) => {
      const need = g.weights.reduce((a, w) => a + byteLength(w), 0);
      const bytes = all.subarray(at, Math.min(at + need, all.length));
      at += need;
      return [{ path: g.paths.join(' + ') || 'weights', bytes }];
    });
  }
  const byName = new Map<string, Bytes>();
  for (const [k, v] of Object.entries(weights)) {
    byName.set(k, v);
    byName.set(baseName(k), v);
  }
  return groups.map((g) => {
    const got = g.paths.map((p) => byName.get(p) ?? byName.get(baseName(p)));
    const missing = got.findIndex((b) => b === undefined);
    if (missing >= 0) {
      const read = got.map((b): PromiseSettledResult<Uint8Array> => (b ? { status: 'fulfilled', value: asBytes(b) } : { status: 'rejected', reason: null }));
      throw new Error(`${source}: weight shard '${g.paths[missing]}' (holding ${weightsIn(g, read, missing)}) is not in options.weights (keys: ${Object.keys(weights).join(', ') || 'none'})`);
    }
    return got.map((b, i) => ({ path: g.paths[i], bytes: asBytes(b!) }));
  });
}

const SIZES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2, int8: 1 };

function byteLength(w: WeightSpec): number {
  return w.shape.reduce((a, b) => a * b, 1) * (SIZES[w.quantization?.dtype ?? w.dtype] ?? 4);
}

function baseName(p: string): string {
  return p.slice(Math.max(p.lastIndexOf('/'), p.lastIndexOf('\\')) + 1);
}

function parseTopology(t: object | ArrayBuffer | undefined, source: string): Record<string, any> {
  if (t instanceof ArrayBuffer) throw new Error(`${source}: the topology is binary (a frozen GraphDef), not Keras JSON; a LayersModel (model.json with Keras layers) is needed`);
  if (!t || typeof t !== 'object') throw new Error(`${source}: modelTopology is missing or not an object`);
  return t as Record<string, any>;
}

/** A GraphModel: tagged as such, or a TensorFlow GraphDef (`node` list) instead of Keras layers. */
export function isGraphModel(topology: Record<string, any>, format?: string): boolean {
  return format === 'graph-model' || Array.isArray(topology.node);
}

const isUrl = (s: string) => /^[a-z][a-z0-9+.-]*:\/\//i.test(s) && !/^file:/i.test(s);

async function fromFile(path: string, options: LoadOptions): Promise<Loaded> {
  const local = /^file:/i.test(path) ? decodeURIComponent(new URL(path).pathname) : path;
  const text = new TextDecoder().decode(await readBytes(local, options, `model.json '${path}'`));
  let json: Record<string, any>;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`'${path}' is not a TF.js model.json (invalid JSON: ${(e as Error).message})`);
  }
  if (!json || typeof json !== 'object' || !('modelTopology' in json)) {
    throw new Error(`'${path}' is not a TF.js model.json: it has no modelTopology (keys: ${Object.keys(json ?? {}).join(', ')})`);
  }
  const artifacts = json as LayersModelArtifacts;
  if (options.weights !== undefined || isGraphModel((artifacts.modelTopology ?? {}) as Record<string, any>, artifacts.format)) return fromArtifacts(artifacts, path, options);
  const groups = groupsOf(artifacts);
  const shards = await Promise.all(groups.map((g) => readGroup(local, g, options)));
  return { source: path, topology: parseTopology(artifacts.modelTopology, path), format: artifacts.format, groups, shards };
}

/** A group's shard files; a missing one is an error naming the file and the weights stored in it. */
async function readGroup(modelJson: string, g: WeightGroup, options: LoadOptions): Promise<Shard[]> {
  const files = g.paths.map((p) => resolveBeside(modelJson, p));
  const read = await Promise.allSettled(files.map((f) => readBytes(f, options, `weight shard '${f}'`)));
  const failed = read.findIndex((r) => r.status === 'rejected');
  if (failed < 0) return read.map((r, i) => ({ path: files[i], bytes: (r as PromiseFulfilledResult<Uint8Array>).value }));
  const reason = ((read[failed] as PromiseRejectedResult).reason as Error).message;
  throw new Error(`${reason} (it holds ${weightsIn(g, read, failed)})`);
}

/**
 * The weights whose bytes fall in shard `k`: converters cut a group into equal shards (the last
 * one shorter), so the shard's range follows from the sizes of the shards that were read.
 */
function weightsIn(g: WeightGroup, read: PromiseSettledResult<Uint8Array>[], k: number): string {
  const sizes = read.map((r) => (r.status === 'fulfilled' ? r.value.length : undefined));
  const full = sizes.find((n, i) => n !== undefined && i < read.length - 1);
  const start = k * (full ?? 0);
  const end = k === read.length - 1 || full === undefined ? Infinity : start + full;
  const names: string[] = [];
  let at = 0;
  for (const w of g.weights) {
    const next = at + byteLength(w);
    if (next > start && at < end) names.push(w.name);
    at = next;
  }
  if (full === undefined && k > 0) return `weights of the group from ${names[0] ?? '?'} on`;
  return names.length > 6 ? `${names.slice(0, 6).join(', ')} and ${names.length - 6} more weights` : names.join(', ');
}

/** A shard path relative to the model.json (a URL or a file path). */
function resolveBeside(modelJson: string, shard: string): string {
  if (isUrl(shard) || shard.startsWith('/')) return shard;
  if (isUrl(modelJson)) return new URL(shard, modelJson).toString();
  const cut = Math.max(modelJson.lastIndexOf('/'), modelJson.lastIndexOf('\\'));
  return cut < 0 ? shard : `${modelJson.slice(0, cut + 1)}${shard}`;
}

async function readBytes(where: string, options: LoadOptions, what: string): Promise<Uint8Array> {
  const isNode = typeof process !== 'undefined' && !!process.versions?.node;
  if (!isUrl(where) && isNode) {
    const fs = await import(/* @vite-ignore */ 'node:fs/promises' as string);
    try {
      return new Uint8Array(await fs.readFile(where));
    } catch (e) {
      throw new Error(`cannot read ${what}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  const fetchFn = options.fetch ?? globalThis.fetch;
  let res: Response;
  try {
    res = await fetchFn(where);
  } catch (e) {
    throw new Error(`cannot fetch ${what}: ${(e as Error).message}`);
  }
  if (!res.ok) throw new Error(`cannot fetch ${what}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}
