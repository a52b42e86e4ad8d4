import type { InferenceSession, Tensor } from 'onnxruntime-common';
import {
  getMethod,
  layerKey,
  MapStateStore,
  resolveOptions,
  type Batch,
  type LayerSource,
  type MethodDefinition,
  type PassOutput,
  type StepContext,
} from '@edgetta/core';
import { compilePass, findBatchNorms, probeModel, type BatchNormSite, type CompiledPass } from '@edgetta/compiler';
import { decodeModel, type Model, type ValueInfo } from '@edgetta/onnx';
import { resolveEngine, type Engine, type EngineInfo, type EngineOptions } from '@edgetta/runtime';
import { registerBuiltinMethods } from './builtins.js';
import { loadModelBytes } from './load.js';
import { meanEntropy } from './metrics.js';
import { validateFeeds } from './validate.js';

export interface AdaptiveSessionOptions extends EngineOptions {
  /**
   * The adaptation method: a registered name (see `listMethods()`) or a method definition.
   * @defaultValue 'norm'
   */
  method?: string | MethodDefinition<any>;
  /** Options of the method, merged over its defaults (unknown names are an error). */
  methodOptions?: Record<string, number>;
}

/** Counters and the last batch's numbers. */
export interface SessionStats {
  method: string;
  /** Batches adapted on since the last reset. */
  batches: number;
  /** Samples seen since the last reset. */
  samples: number;
  /** Mean softmax entropy of the last returned logits (natural log), or null before the first batch. */
  lastEntropy: number | null;
  /** Wall time of the last run() in milliseconds. */
  lastLatencyMs: number | null;
  engine: EngineInfo;
  /** Normalization layers adapted. */
  layers: number;
}

/** Plain, serializable, exact copy of the adaptation state. */
export interface SessionSnapshot {
  method: string;
  options: Record<string, number>;
  batches: number;
  samples: number;
  state: Record<string, Float32Array>;
}

interface PassRuntime {
  compiled: CompiledPass;
  session: InferenceSession;
}

/**
 * A drop-in for onnxruntime's InferenceSession that adapts the model's BatchNorm layers online:
 * `run(feeds)` takes and returns what `InferenceSession.run` does, and adapts as a side effect.
 */
export class AdaptiveSession {
  private readonly store = new MapStateStore();
  private batches = 0;
  private samples = 0;
  private lastEntropy: number | null = null;
  private lastLatency: number | null = null;
  private disposed = false;
  private busy = false;

  private constructor(
    private readonly engine: Engine,
    private readonly def: MethodDefinition<any>,
    /** The resolved method options (defaults merged with the caller's). */
    readonly options: Record<string, number>,
    private readonly layers: LayerSource[],
    private readonly passes: Map<string, PassRuntime>,
    private readonly modelInputs: ValueInfo[],
    readonly outputNames: readonly string[],
  ) {
    this.reset();
  }

  /** Loads, compiles and opens a model for adaptation with the chosen method. */
  static async create(model: string | Uint8Array | ArrayBuffer, options: AdaptiveSessionOptions = {}): Promise<AdaptiveSession> {
    registerBuiltinMethods();
    const def = typeof options.method === 'object' && options.method !== null ? options.method : getMethod(options.method ?? 'norm');
    const resolved = resolveOptions(def, options.methodOptions);
    const { bytes, source } = await loadModelBytes(model);
    const ir = decodeModel(bytes, source);
    const sites = findBatchNorms(ir, source);
    const engine = await resolveEngine(options);
    const layers = await probeLayers(engine, ir, sites, source);
    const passes = new Map<string, PassRuntime>();
    const stateDims = stateDimsOf(def, layers, resolved);
    for (const [name, spec] of Object.entries(def.passes)) {
      const compiled = compilePass(ir, sites, layers, spec, { options: resolved, stateDims });
      passes.set(name, { compiled, session: await engine.createSession(compiled.encode()) });
    }
    return new AdaptiveSession(engine, def, resolved, layers, passes, ir.graph.inputs, ir.graph.outputs.map((o) => o.name));
  }

  get method(): string {
    return this.def.name;
  }

  get inputNames(): readonly string[] {
    return this.modelInputs.map((i) => i.name);
  }

  /** The normalization layers being adapted (name, channels, rank, epsilon). */
  get layerInfo(): readonly { name: string; channels: number; rank: number; epsilon: number }[] {
    return this.layers.map(({ name, channels, rank, epsilon }) => ({ name, channels, rank, epsilon }));
  }

  get stats(): SessionStats {
    return {
      method: this.def.name,
      batches: this.batches,
      samples: this.samples,
      lastEntropy: this.lastEntropy,
      lastLatencyMs: this.lastLatency,
      engine: this.engine.describe(),
      layers: this.layers.length,
    };
  }

  /**
   * Answers a batch and adapts on it. Feeds are validated first; on any error the adaptation
   * state is left exactly as it was.
   */
  async run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    this.assertOpen();
    if (this.busy) throw new Error('run: the previous run() has not finished; await it before calling run() again');
    const min = this.def.minBatchSize;
    validateFeeds(feeds, this.modelInputs, min ? { ...min, method: this.def.name } : undefined);
    const main = feeds[this.modelInputs[0].name];
    const batch: Batch = { data: main.data as Float32Array, dims: main.dims };
    const before = this.store.snapshot();
    const started = now();
    this.busy = true;
    try {
      const ctx: StepContext<any> = {
        options: this.options,
        batch,
        layers: this.layers,
        state: this.store,
        step: this.batches,
        run: (pass, args) => this.runPass(pass, feeds, args?.input, args?.hyper),
      };
      const out = await this.def.step(ctx);
      this.batches++;
      this.samples += batch.dims[0] ?? 0;
      this.lastEntropy = meanEntropy(out.logits.data, out.logits.dims);
      this.lastLatency = now() - started;
      return out.outputs as Record<string, Tensor>;
    } catch (e) {
      this.store.replace(before);
      throw e;
    } finally {
      this.busy = false;
    }
  }

  private async runPass(name: string, userFeeds: Record<string, Tensor>, input?: Batch, hyper?: Record<string, number>): Promise<PassOutput> {
    const p = this.passes.get(name);
    if (!p) throw new Error(`method '${this.def.name}' ran unknown pass '${name}'; its passes: ${[...this.passes.keys()].join(', ')}`);
    const { Tensor: T } = this.engine.ort;
    const feeds: Record<string, Tensor> = { ...userFeeds };
    if (input) feeds[this.modelInputs[0].name] = new T('float32', input.data, input.dims);
    for (const s of p.compiled.stateInputs) feeds[s.name] = new T('float32', this.store.get(s.key), s.dims);
    for (const [h, inputName] of Object.entries(p.compiled.hyperInputs)) {
      const v = hyper?.[h];
      if (v === undefined || !Number.isFinite(v)) throw new Error(`pass '${name}' needs a finite value for '${h}'`);
      feeds[inputName] = new T('float32', Float32Array.of(v), []);
    }
    const fetches = [...p.compiled.modelOutputs, ...p.compiled.stateOutputs.map((s) => s.name)];
    const result = await p.session.run(feeds, fetches);
    for (const s of p.compiled.stateOutputs) {
      const data = result[s.name].data as Float32Array;
      for (let i = 0; i < data.length; i++) {
        if (!Number.isFinite(data[i])) throw new Error(`pass '${name}' produced a non-finite value in state '${s.key}'; the update was rejected and the state is unchanged`);
      }
      this.store.set(s.key, data.slice());
    }
    const outputs: Record<string, Tensor> = {};
    for (const o of p.compiled.modelOutputs) outputs[o] = result[o];
    const first = outputs[p.compiled.modelOutputs[0]];
    return { outputs, logits: { data: first.data as Float32Array, dims: first.dims } };
  }

  /** Back to the source state: the method's initial state, counters at zero. */
  reset(): void {
    this.assertOpen();
    const init: Record<string, Float32Array> = {};
    for (const layer of this.layers) {
      const s = this.def.initLayerState?.(layer, this.options) ?? {};
      for (const [k, v] of Object.entries(s)) init[layerKey(layer.index, k)] = v.slice();
    }
    Object.assign(init, this.def.initState?.(this.options) ?? {});
    this.store.replace(init);
    this.batches = 0;
    this.samples = 0;
    this.lastEntropy = null;
  }

  /** An exact, plain, structured-cloneable copy of the adaptation state. */
  snapshot(): SessionSnapshot {
    this.assertOpen();
    return { method: this.def.name, options: { ...this.options }, batches: this.batches, samples: this.samples, state: this.store.snapshot() };
  }

  /** Restores a snapshot taken from a session of the same model and method; throws and changes nothing on mismatch. */
  restore(snapshot: SessionSnapshot): void {
    this.assertOpen();
    if (!snapshot || typeof snapshot !== 'object' || typeof snapshot.state !== 'object') throw new TypeError('restore: expected a snapshot from snapshot()');
    if (snapshot.method !== this.def.name) throw new Error(`restore: the snapshot is of method '${snapshot.method}', this session runs '${this.def.name}'`);
    const have = this.store.keys().sort();
    const got = Object.keys(snapshot.state).sort();
    if (have.join('\n') !== got.join('\n')) throw new Error(`restore: the snapshot's state entries (${got.length}) do not match this session's (${have.length}); was it taken from another model?`);
    for (const k of have) {
      const v = snapshot.state[k];
      if (!(v instanceof Float32Array) || v.length !== this.store.get(k).length) throw new Error(`restore: state '${k}' has the wrong type or length`);
    }
    this.store.replace(snapshot.state);
    this.batches = snapshot.batches;
    this.samples = snapshot.samples;
  }

  /** Releases the onnxruntime sessions. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    for (const p of this.passes.values()) await p.session.release();
  }

  private assertOpen(): void {
    if (this.disposed) throw new Error('AdaptiveSession: the session was disposed');
  }
}

function now(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}

function stateDimsOf(def: MethodDefinition<any>, layers: LayerSource[], options: Record<string, number>): Record<string, number[]> {
  const dims: Record<string, number[]> = {};
  for (const layer of layers) {
    const s = def.initLayerState?.(layer, options) ?? {};
    const shapes = def.layerStateDims?.(layer, options) ?? {};
    for (const [k, v] of Object.entries(s)) dims[layerKey(layer.index, k)] = shapes[k] ?? [v.length];
  }
  return dims;
}

/** Runs the model once on a zero batch to learn every normalization layer's input rank. */
async function probeLayers(engine: Engine, model: Model, sites: BatchNormSite[], source: string): Promise<LayerSource[]> {
  const input = model.graph.inputs[0];
  if (!input?.shape) throw new Error(`${source}: the model's input '${input?.name}' has no declared shape`);
  const dims = input.shape.map((d, i) => {
    if (typeof d === 'number') return d;
    if (i === 0) return 1;
    throw new Error(`${source}: input '${input.name}' has a symbolic dimension ${i} ('${d}'); only the batch dimension may be dynamic`);
  });
  const { bytes, outputs } = probeModel(model, sites);
  const session = await engine.createSession(bytes);
  try {
    const feeds: Record<string, Tensor> = {};
    for (const inp of model.graph.inputs) {
      if (inp.elemType !== 1) throw new Error(`${source}: input '${inp.name}' is ${inp.elemType}; edgetta adapts models with float32 inputs`);
      const d = inp === input ? dims : (inp.shape ?? []).map((x) => (typeof x === 'number' ? x : 1));
      feeds[inp.name] = new engine.ort.Tensor('float32', new Float32Array(d.reduce((a, b) => a * b, 1)), d);
    }
    const res = await session.run(feeds, outputs);
    return sites.map((s, i) => {
      const { node: _n, input: _i, output: _o, ...rest } = s;
      return { ...rest, rank: res[outputs[i]].dims.length };
    });
  } finally {
    await session.release();
  }
}
