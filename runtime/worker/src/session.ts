/** The caller's side of a worker-hosted AdaptiveSession: the same members, all async. */
import { Tensor as OrtTensor } from 'onnxruntime-common';
import type { AdaptiveSession, AdaptiveSessionOptions, SessionSnapshot } from '@edgetta/sdk';
import { HostLink, type WorkerPort } from './link.js';
import type { SessionInfo, WireCreateOptions, WireModel, WorkerSessionStats } from './protocol.js';
import { fromWire, toWire, type TensorConstructor } from './tensors.js';

type Tensor = OrtTensor;

/** Each method of T, returning a promise of what it returned. */
export type Promisified<T> = { [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : T[K] };

type AsyncMembers = 'run' | 'infer' | 'reset' | 'snapshot' | 'restore' | 'dispose';
type InfoMembers = 'method' | 'options' | 'inputNames' | 'outputNames' | 'layerInfo';

/**
 * An AdaptiveSession in a worker: the same methods and types, all async. `stats` is a promise
 * (read when awaited); method, options, input/output names and layers are known at creation.
 */
export interface WorkerSession extends Promisified<Pick<AdaptiveSession, AsyncMembers>>, Readonly<Pick<AdaptiveSession, InfoMembers>> {
  /** The session's counters plus the serving counters (served, adapted, dropped, queue depth). */
  readonly stats: Promise<WorkerSessionStats>;
  /** Resolves when no adaptation step is waiting or running in the worker. */
  flush(): Promise<void>;
  /** Stops the worker at once; every pending call rejects. dispose() is the orderly way. */
  terminate(): void;
}

export interface WorkerSessionOptions extends Omit<WireCreateOptions, 'runtime' | 'method'> {
  /** A registered method name (custom methods: register them in a module listed in `imports`). @defaultValue 'norm' */
  method?: string;
  /** 'node' or 'web'; the module itself is imported in the worker. @defaultValue auto (node in Node.js, web in browsers) */
  runtime?: 'node' | 'web';
  /** A call without answer after this many ms stops the worker (0 = never). @defaultValue 60000 */
  timeoutMs?: number;
  /** The same for create(), which loads and compiles the model. @defaultValue 120000 */
  createTimeoutMs?: number;
  /** The Tensor class outputs are built with. @defaultValue onnxruntime-common's Tensor */
  Tensor?: TensorConstructor;
}

/** Starts a session in an already started worker (the platform entries start it). */
export async function connectSession(port: WorkerPort, model: string | Uint8Array | ArrayBuffer, options: WorkerSessionOptions = {}): Promise<WorkerSession> {
  const { timeoutMs = 60_000, createTimeoutMs = 120_000, Tensor = OrtTensor, ...rest } = options;
  const link = new HostLink(port, timeoutMs);
  let info: SessionInfo;
  try {
    checkCrossable(rest as AdaptiveSessionOptions);
    info = await link.call('create', [wireModel(model), rest as WireCreateOptions], [], createTimeoutMs);
  } catch (e) {
    link.close('create() failed');
    throw e;
  }
  // onnxruntime-node's run is a synchronous native call: a thread terminated inside it aborts the
  // whole process, so such workers are retired (they exit when the call returns) instead.
  link.interruptible = info.engine !== 'onnxruntime-node';
  let disposed = false;
  const outputs = (wire: Parameters<typeof fromWire>[0]) => fromWire<Tensor>(wire, Tensor);

  return {
    method: info.method,
    options: info.options,
    inputNames: info.inputNames,
    outputNames: info.outputNames,
    layerInfo: info.layerInfo,
    get stats() {
      return link.call('stats', []);
    },
    async run(feeds: Record<string, Tensor>) {
      const { wire, transfer } = toWire(feeds, 'feeds');
      return outputs(await link.call('run', [wire], transfer));
    },
    async infer(feeds: Record<string, Tensor>) {
      const { wire, transfer } = toWire(feeds, 'feeds');
      return outputs(await link.call('infer', [wire], transfer));
    },
    reset: () => link.call('reset', []),
    snapshot: () => link.call('snapshot', []),
    // The caller keeps its snapshot (as in-process restore does): copied, not transferred.
    restore: (snapshot: SessionSnapshot) => link.call('restore', [snapshot]),
    flush: () => link.call('flush', []),
    async dispose() {
      if (disposed) return;
      disposed = true;
      try {
        if (!link.isClosed) await link.call('dispose', []);
      } finally {
        link.close('the session was disposed');
      }
    },
    terminate() {
      link.close('terminate() was called');
    },
  };
}

/** Options that are functions or modules cannot be structured-cloned into the worker. */
function checkCrossable(options: AdaptiveSessionOptions): void {
  if (options.method !== undefined && typeof options.method !== 'string') {
    throw new TypeError("method: a method definition cannot cross to the worker; register it in a module listed in 'imports' and pass its name");
  }
  if (options.runtime !== undefined && typeof options.runtime !== 'string') {
    throw new TypeError("runtime: a module cannot cross to the worker; pass 'node' or 'web' (a browser worker script gives the module to exposeHost(self, { modules: { web: ort } }))");
  }
  if ('modules' in options && options.modules !== undefined) throw new TypeError('modules: modules cannot cross to the worker; give them to exposeHost() in the worker script');
}

/** Bytes are copied (the caller keeps its model); a relative URL is resolved against the page. */
function wireModel(model: string | Uint8Array | ArrayBuffer): WireModel {
  if (model instanceof Uint8Array) return model;
  if (model instanceof ArrayBuffer) return new Uint8Array(model);
  if (typeof model !== 'string') throw new TypeError(`model: expected a file path, a URL, a Uint8Array or an ArrayBuffer, got ${model === null ? 'null' : typeof model}`);
  const base = (globalThis as { location?: { href?: string } }).location?.href;
  return base && !/^[a-z][a-z0-9+.-]*:/i.test(model) ? new URL(model, base).href : model;
}
