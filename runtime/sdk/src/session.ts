/**
 * AdaptiveSession, the public facade. Longer than our ~350-line guide because it is one class whose
 * public methods (run, infer, calibrate, snapshot/restore/reset, dispose) share its private state;
 * the parts with a job of their own live beside it: model preparation (prepare.ts), pass execution
 * (pass.ts), guards (guard.ts), the single-sample window (window.ts), feed validation (validate.ts).
 */
import type { Tensor } from 'onnxruntime-common';
import {
  getMethod,
  layerKey,
  MapStateStore,
  resolveOptions,
  type Batch,
  type LayerSource,
  type MethodDefinition,
  type ModelInfo,
  type PassOutput,
  type StepContext,
  type UpdateReport,
} from '@edgetta/core';
import { compilePass } from '@edgetta/compiler';
import type { ValueInfo } from '@edgetta/onnx';
import type { Engine, EngineInfo, EngineOptions } from '@edgetta/engine';
import { registerBuiltinMethods } from './builtins.js';
import type { ModelSource } from './load.js';
import { blendWithSource, Guard, resolveGuard, type GuardOptions, type GuardStats } from './guard.js';
import { meanEntropy } from './metrics.js';
import { SampleWindow } from './window.js';
import { runPass, type PassRuntime } from './pass.js';
import { prepareModel, stateDimsOf } from './prepare.js';
import { validateFeeds } from './validate.js';
import type { CalibrationBatch, RecoveryReport, RestoreOptions } from './recover.js';

export interface AdaptiveSessionOptions extends EngineOptions {
  /**
   * The adaptation method: a registered name (see `listMethods()`) or a method definition.
   * @defaultValue 'norm'
   */
  method?: string | MethodDefinition<any>;
  /** Options of the method, merged over its defaults (unknown names are an error). */
  methodOptions?: Record<string, number | boolean>;
  /**
   * Collapse guards for any method: reset to the source when the entropy EMA falls below a floor,
   * periodically, or when one class takes over the answers; blend every answer with the unadapted
   * model's (see `guard.ts`). @defaultValue none
   */
  guard?: GuardOptions;
  /**
   * Single-sample mode (tta-spec 2.2 item 8): keep the last `window` samples, answer every call by
   * forwarding the whole window (so methods that need batch statistics work one image at a time),
   * and adapt only when the window has been fully refreshed. For single-input models.
   * @defaultValue off
   */
  window?: number;
  /**
   * Clean, unlabeled samples from the training distribution (float32 tensors [n, ...] for the
   * model's input). They recover BatchNorm folded into the convolutions at export (see
   * `recovery`), and feed methods that calibrate (EATA's Fisher information). @defaultValue none
   */
  calibration?: readonly CalibrationBatch[];
  /**
   * BatchNorm recovery from `calibration`: `'auto'` recovers it when the model has no LayerNorm,
   * GroupNorm or InstanceNorm (a CNN whose BN was folded, fully or partly), an options object
   * always recovers (e.g. `{ exclude: ['conv_name'] }`), `false` never.
   * @defaultValue 'auto'
   */
  recovery?: 'auto' | false | RestoreOptions;
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
  /** The collapse guard's monitor: entropy EMA, top-class share, resets it triggered. */
  guard: GuardStats;
  /** What the last step of a gradient method did (applied, or skipped and why), or null; kept across a guard reset triggered by that step's batch. */
  lastUpdate: UpdateReport | null;
  /** Parameter updates applied and skipped since the last reset (gradient methods). */
  updates: { applied: number; skipped: number };
}

/** Plain, serializable, exact copy of the adaptation state. */
export interface SessionSnapshot {
  method: string;
  options: Record<string, number | boolean>;
  batches: number;
  samples: number;
  state: Record<string, Float32Array>;
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
  private lastUpdate: UpdateReport | null = null;
  private guard = new Guard(resolveGuard(undefined));
  private window: SampleWindow | undefined;
  private updates = { applied: 0, skipped: 0 };
  /** The unadapted model, run next to the method when the guard blends answers with it. */
  private sourcePass: PassRuntime | undefined;
  /** State entries computed by calibrate(), kept across reset(). */
  private calibrated: Record<string, Float32Array> = {};
  /** What BatchNorm recovery did at create(), or null when it did not run. */
  recovery: RecoveryReport | null = null;

  private constructor(
    private readonly engine: Engine,
    private readonly def: MethodDefinition<any>,
    /** The resolved method options (defaults merged with the caller's). */
    readonly options: Record<string, number | boolean>,
    private readonly layers: LayerSource[],
    private readonly passes: Map<string, PassRuntime>,
    private readonly modelInputs: ValueInfo[],
    readonly outputNames: readonly string[],
    private readonly modelInfo: ModelInfo = { outputs: [] },
  ) {
    this.reset();
  }

  /**
   * Loads, compiles and opens a model for adaptation with the chosen method. `model` is ONNX (a
   * path, URL or bytes) or a graph IR `Model`, e.g. `await importLayersModel('model.json')` from
   * `@edgetta/tfjs-import`; an NHWC input recorded in its metadata is passed on to the methods.
   */
  static async create(model: ModelSource, options: AdaptiveSessionOptions = {}): Promise<AdaptiveSession> {
    registerBuiltinMethods();
    const guard = resolveGuard(options.guard);
    if (options.window !== undefined && (!Number.isInteger(options.window) || options.window < 2)) {
      throw new Error(`window: expected an integer >= 2 (samples in the sliding window), got ${String(options.window)}`);
    }
    const def = typeof options.method === 'object' && options.method !== null ? options.method : getMethod(options.method ?? 'norm');
    const resolved = resolveOptions(def, options.methodOptions);
    const { engine, ir, sites, layers, modelInfo, recovered } = await prepareModel(model, def, {
      ...options,
      checks: (ir) => {
        // Checked before any onnxruntime session of the method is opened.
        const first = ir.graph.outputs[0]?.shape;
        if (guard.sourceWeight !== undefined && first && first.length !== 2) {
          throw new Error(`guard.sourceWeight: needs a classifier whose first output is logits [N, K]; '${ir.graph.outputs[0].name}' has rank ${first.length}`);
        }
        if (options.window !== undefined && ir.graph.inputs.length !== 1) {
          throw new Error(`window: single-sample mode needs a model with one input; this one has ${ir.graph.inputs.length}`);
        }
        if (options.window !== undefined && !(ir.graph.inputs[0].shape ?? [null]).slice(1).every((d) => typeof d === 'number')) {
          throw new Error(`window: single-sample mode keeps a window of fixed-size samples; input '${ir.graph.inputs[0].name}' has dims [${(ir.graph.inputs[0].shape ?? []).map((d) => d ?? '?').join(', ')}] (export it with a fixed height and width)`);
        }
      },
    });
    const passes = new Map<string, PassRuntime>();
    const stateDims = stateDimsOf(def, layers, resolved, modelInfo);
    for (const [name, spec] of Object.entries(def.passes)) {
      // onnxruntime-web's WebGPU kernel rejects train-mode BatchNormalization at run time (it does
      // not fall back to wasm), so WebGPU sessions compute batch statistics with reductions.
      const fastBatchStats = !engine.describe().executionProviders.includes('webgpu');
      const compiled = compilePass(ir, sites, layers, spec, { options: resolved, stateDims, fastBatchStats });
      passes.set(name, { compiled, session: await engine.createSession(compiled.encode()) });
    }
    const session = new AdaptiveSession(engine, def, resolved, layers, passes, ir.graph.inputs, ir.graph.outputs.map((o) => o.name), modelInfo);
    session.recovery = recovered ?? null;
    session.guard = new Guard(guard);
    if (guard.sourceWeight !== undefined) {
      const compiled = compilePass(ir, sites, layers, getMethod('source').passes.predict, { options: {}, stateDims: {} });
      session.sourcePass = { compiled, session: await engine.createSession(compiled.encode()) };
    }
    if (options.window !== undefined) {
      const dims = ir.graph.inputs[0].shape!.slice(1);
      session.window = new SampleWindow(options.window, dims.reduce<number>((a, d) => a * (d as number), 1));
      session.reset();
    }
    if (options.calibration !== undefined && def.calibrate) {
      const input = ir.graph.inputs[0].name;
      const T = engine.ort.Tensor;
      await session.calibrate(options.calibration.map((t) => ({ [input]: new T('float32', t.data as Float32Array, [...t.dims]) as Tensor })));
    }
    return session;
  }

  private get channelAxis(): number {
    return this.modelInfo.inputLayout === 'NHWC' ? 3 : 1;
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
      guard: this.guard.stats(),
      lastUpdate: this.lastUpdate,
      updates: { ...this.updates },
    };
  }

  /**
   * Answers a batch and adapts on it. Feeds are validated first; on any error the adaptation
   * state is left exactly as it was.
   */
  async run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    return this.window ? this.runWindowed(feeds, this.window) : this.runBatch(feeds, true);
  }

  private async runBatch(feeds: Record<string, Tensor>, checkMinBatch: boolean): Promise<Record<string, Tensor>> {
    this.assertOpen();
    if (this.busy) throw new Error('run: the previous run() has not finished; await it before calling run() again');
    const ctx = this.context(feeds, checkMinBatch);
    const batch = ctx.batch;
    const started = now();
    this.busy = true;
    try {
      // Atomic: a step that throws (or whose answer cannot be blended) leaves the state as it was.
      const { out, outputs } = await this.transaction(true, async () => {
        const out = await this.def.step(ctx);
        return { out, outputs: await this.blend(feeds, this.tensors(out.outputs), out.logits) };
      });
      if (out.update) {
        this.lastUpdate = out.update;
        this.updates[out.update.applied ? 'applied' : 'skipped']++;
      }
      this.batches++;
      this.samples += batch.dims[0] ?? 0;
      this.lastEntropy = meanEntropy(out.logits.data, out.logits.dims);
      this.lastLatency = now() - started;
      // The guard watches the adapted model (its collapse), whatever the answer blends in.
      const reason = this.guard.observe(out.logits.data, out.logits.dims, this.lastEntropy);
      if (reason) {
        // The answer stands (it was computed before); the next batch starts from the source.
        this.guard.didReset(reason);
        this.reset();
        // The answered batch's step did happen: its report stays readable (the counters restart at zero).
        if (out.update) this.lastUpdate = out.update;
      }
      return outputs;
    } finally {
      this.busy = false;
    }
  }

  /**
   * Runs `fn` in a state transaction: on error every state change it made is undone, and with
   * `keep` false also on success (answering without adapting). The store journals only what was
   * written (replaced arrays by reference, ranges written in place by copy), so this costs what the
   * step changed, not the size of the state (a RoTTA memory bank is never copied).
   */
  private async transaction<R>(keep: boolean, fn: () => Promise<R>): Promise<R> {
    this.store.begin();
    let result: R;
    try {
      result = await fn();
    } catch (e) {
      this.store.rollback();
      throw e;
    }
    if (keep) this.store.commit();
    else this.store.rollback();
    return result;
  }

  /**
   * Answers a batch from the current adaptation state without adapting on it: the method's
   * `infer` (by default its 'predict' pass) runs, every state write is discarded and the counters
   * do not move. Serving while adapting (`@edgetta/worker`) answers with this, then adapts.
   */
  async infer(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    return this.inferBatch(feeds, true);
  }

  /**
   * Single-sample mode: push the samples into the window, forward the whole window (adapting when
   * it has been fully refreshed, else inferring), and answer with the rows of the new samples.
   */
  private async runWindowed(feeds: Record<string, Tensor>, window: SampleWindow): Promise<Record<string, Tensor>> {
    this.assertOpen();
    if (this.busy) throw new Error('run: the previous run() has not finished; await it before calling run() again');
    validateFeeds(feeds, this.modelInputs, undefined, this.channelAxis);
    const name = this.modelInputs[0].name;
    const main = feeds[name];
    const n = main.dims[0];
    if (n >= window.length) return this.runBatch(feeds, true);
    const T = this.engine.ort.Tensor;
    // The window's push and the step on it are one transaction (the inner runs nest in it).
    return this.transaction(true, async () => {
      const w = window.push(this.store, main.data as Float32Array, n);
      const windowFeeds = { [name]: new T('float32', w.data, [w.count, ...main.dims.slice(1)]) as Tensor };
      const min = this.def.minBatchSize?.size ?? 1;
      let out: Record<string, Tensor>;
      if (w.adapt && w.count >= min) {
        out = await this.runBatch(windowFeeds, true);
        window.adapted(this.store);
      } else {
        out = await this.inferBatch(windowFeeds, false);
      }
      const rows: Record<string, Tensor> = {};
      for (const [k, t] of Object.entries(out)) {
        if (t.dims[0] !== w.count || t.type !== 'float32') {
          rows[k] = t;
          continue;
        }
        const per = (t.data as Float32Array).length / w.count;
        rows[k] = new T('float32', (t.data as Float32Array).slice((w.count - n) * per), [n, ...t.dims.slice(1)]) as Tensor;
      }
      return rows;
    });
  }

  private async inferBatch(feeds: Record<string, Tensor>, checkMinBatch: boolean): Promise<Record<string, Tensor>> {
    this.assertOpen();
    if (this.busy) throw new Error('infer: the previous run() or infer() has not finished; await it first');
    const ctx = this.context(feeds, checkMinBatch);
    this.busy = true;
    try {
      // Passes commit their state writes: the transaction undoes them.
      return await this.transaction(false, async () => {
        const out = this.def.infer ? await this.def.infer(ctx) : await inferWithPredict(ctx, this.def.name, [...this.passes.keys()]);
        return this.blend(feeds, this.tensors(out.outputs), out.logits);
      });
    } finally {
      this.busy = false;
    }
  }

  /** The outputs as onnxruntime Tensors (an output stage answers with plain `{ type, data, dims }`). */
  private tensors(outputs: PassOutput['outputs']): Record<string, Tensor> {
    const T = this.engine.ort.Tensor;
    return Object.fromEntries(Object.entries(outputs).map(([k, t]) => [k, t instanceof T ? (t as Tensor) : (new T(t.type as 'float32', t.data as Float32Array, t.dims) as Tensor)]));
  }

  /** With the guard's `sourceWeight`: the outputs with the first one blended with the unadapted model's. */
  private async blend(feeds: Record<string, Tensor>, outputs: Record<string, Tensor>, logits: PassOutput['logits']): Promise<Record<string, Tensor>> {
    const p = this.sourcePass;
    const w = this.guard.options.sourceWeight;
    if (!p || w === undefined) return outputs;
    const name = p.compiled.modelOutputs[0];
    const src = await p.session.run(feeds, [name]);
    const { logits: blended, agreement } = blendWithSource(logits.data, src[name].data as Float32Array, logits.dims, w);
    this.guard.blended(agreement);
    return { ...outputs, [name]: new this.engine.ort.Tensor('float32', blended, logits.dims) as Tensor };
  }

  /** Validates the feeds and builds the step context a method's step/infer runs in. */
  private context(feeds: Record<string, Tensor>, checkMinBatch: boolean): StepContext<any> {
    const min = checkMinBatch ? this.def.minBatchSize : undefined;
    validateFeeds(feeds, this.modelInputs, min ? { ...min, method: this.def.name } : undefined, this.channelAxis);
    const main = feeds[this.modelInputs[0].name];
    const batch: Batch = { data: main.data as Float32Array, dims: main.dims, layout: this.modelInfo.inputLayout };
    return {
      options: this.options,
      batch,
      layers: this.layers,
      state: this.store,
      step: this.batches,
      run: (pass, args) => this.runPass(pass, feeds, args?.input, args?.hyper, args?.inputs),
    };
  }

  private runPass(name: string, userFeeds: Record<string, Tensor>, input?: Batch, hyper?: Record<string, number>, inputs?: Record<string, Batch>): Promise<PassOutput> {
    const p = this.passes.get(name);
    if (!p) throw new Error(`method '${this.def.name}' ran unknown pass '${name}'; its passes: ${[...this.passes.keys()].join(', ')}`);
    return runPass(p, { name, ort: this.engine.ort, store: this.store, mainInput: this.modelInputs[0].name }, userFeeds, { input, hyper, inputs });
  }

  /**
   * Calibrates the method on clean source batches before adaptation (EATA: the Fisher information
   * of the adapted parameters and its anchors). Each element is a feeds object like run()'s. The
   * state it computes is kept across reset(); the counters do not move.
   */
  async calibrate(batches: readonly Record<string, Tensor>[]): Promise<void> {
    this.assertOpen();
    if (!this.def.calibrate) throw new Error(`calibrate: method '${this.def.name}' takes no calibration data`);
    if (this.busy) throw new Error('calibrate: the previous call has not finished; await it first');
    if (!Array.isArray(batches) || batches.length === 0) throw new Error('calibrate: expected a non-empty array of feeds, one per batch of clean source samples');
    const min = this.def.minBatchSize;
    for (const f of batches) validateFeeds(f, this.modelInputs, min ? { ...min, method: this.def.name } : undefined);
    const main = this.modelInputs[0].name;
    const list: Batch[] = batches.map((f) => ({ data: f[main].data as Float32Array, dims: f[main].dims }));
    this.busy = true;
    try {
      const ctx: StepContext<any> = {
        options: this.options,
        batch: list[0],
        layers: this.layers,
        state: this.store,
        step: this.batches,
        run: (pass, args) => this.runPass(pass, batches[0], args?.input, args?.hyper, args?.inputs),
      };
      // The calibration's own passes change nothing; only the entries it returns are kept.
      const entries = await this.transaction(false, () => this.def.calibrate!(ctx, list));
      for (const [k, v] of Object.entries(entries)) {
        if (!this.store.has(k) || this.store.get(k).length !== v.length) throw new Error(`calibrate: method '${this.def.name}' returned state '${k}' that its initial state does not have (or of another length)`);
      }
      for (const [k, v] of Object.entries(entries)) this.store.set(k, v.slice());
      this.calibrated = Object.fromEntries(Object.entries(entries).map(([k, v]) => [k, v.slice()]));
    } finally {
      this.busy = false;
    }
  }

  /** Back to the source state: the method's initial state, counters at zero. */
  reset(): void {
    this.assertOpen();
    const init: Record<string, Float32Array> = {};
    for (const layer of this.layers) {
      const s = this.def.initLayerState?.(layer, this.options, this.modelInfo) ?? {};
      for (const [k, v] of Object.entries(s)) init[layerKey(layer.index, k)] = v.slice();
    }
    Object.assign(init, this.def.initState?.(this.options, this.modelInfo) ?? {});
    // Calibration (e.g. EATA's Fisher) describes the source model, so it survives a reset.
    for (const [k, v] of Object.entries(this.calibrated ?? {})) init[k] = v.slice();
    if (this.window) Object.assign(init, this.window.init());
    this.store.replace(init);
    this.batches = 0;
    this.samples = 0;
    this.lastEntropy = null;
    this.lastUpdate = null;
    this.updates = { applied: 0, skipped: 0 };
    this.guard?.clear();
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
    await this.sourcePass?.session.release();
  }

  private assertOpen(): void {
    if (this.disposed) throw new Error('AdaptiveSession: the session was disposed');
  }
}

/** The default `infer`: the method's 'predict' pass from the current state. */
function inferWithPredict(ctx: StepContext<any>, method: string, passes: string[]): Promise<PassOutput> {
  if (!passes.includes('predict')) {
    return Promise.reject(new Error(`infer: method '${method}' has no 'predict' pass (passes: ${passes.join(', ')}); give it an infer(ctx) that answers without adapting`));
  }
  return ctx.run('predict');
}

function now(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}
