/**
 * The worker side: owns one AdaptiveSession (and with it the onnxruntime sessions) and serves it
 * through the serving lane. Expose it from a worker script:
 *
 *   // browser: edgetta.worker.ts (the runtime module must be imported here; see docs/worker-and-browser.md)
 *   import * as ort from 'onnxruntime-web';
 *   import { exposeHost } from '@edgetta/worker/host';
 *   exposeHost(self, { modules: { web: ort } });
 */
import { expose, transfer, type Endpoint } from 'comlink/dist/esm/comlink.mjs';
import { Tensor } from 'onnxruntime-common';
import { AdaptiveSession, type SessionSnapshot } from '@edgetta/sdk';
import type { EngineOptions } from '@edgetta/engine';
import type { HostApi, SessionInfo, WireCreateOptions, WireFeeds, WireModel, WorkerSessionStats } from './protocol.js';
import { ServingLane } from './serve.js';
import { fromWire, toWire, type TensorLike } from './tensors.js';

export interface HostConfig {
  /** Runtime modules the worker script imported (bundled workers cannot import them by name). */
  modules?: EngineOptions['modules'];
}

type Feeds = Record<string, Tensor>;

export function createHost(config: HostConfig = {}): HostApi {
  let session: AdaptiveSession | null = null;
  let lane: ServingLane<Feeds, Feeds> | null = null;

  const open = (call: string): { session: AdaptiveSession; lane: ServingLane<Feeds, Feeds> } => {
    if (!session || !lane) throw new Error(`${call}: the worker has no open session (create() failed, or dispose() was called)`);
    return { session, lane };
  };
  const outgoing = (out: Record<string, TensorLike>): WireFeeds => {
    const { wire, transfer: buffers } = toWire(out, 'outputs');
    return transfer(wire, buffers);
  };

  return {
    async create(model: WireModel, options: WireCreateOptions): Promise<SessionInfo> {
      if (session) throw new Error('create: this worker already holds a session (one session per worker)');
      for (const spec of options.imports ?? []) await import(/* @vite-ignore */ spec);
      const { serve, imports: _imports, ...sessionOptions } = options;
      const s = await AdaptiveSession.create(model, { ...sessionOptions, modules: config.modules });
      // A method without state answers with its whole step: there is nothing to adapt afterwards.
      const stateful = Object.keys(s.snapshot().state).length > 0;
      lane = new ServingLane<Feeds, Feeds>(s, serve, stateful);
      session = s;
      return { method: s.method, engine: s.stats.engine.name, options: { ...s.options }, inputNames: [...s.inputNames], outputNames: [...s.outputNames], layerInfo: [...s.layerInfo] };
    },
    async run(feeds: WireFeeds): Promise<WireFeeds> {
      return outgoing(await open('run').lane.run(fromWire<Tensor>(feeds, Tensor)));
    },
    async infer(feeds: WireFeeds): Promise<WireFeeds> {
      return outgoing(await open('infer').lane.infer(fromWire<Tensor>(feeds, Tensor)));
    },
    async reset(): Promise<void> {
      const { session: s, lane: l } = open('reset');
      await l.exclusive(() => s.reset(), true);
    },
    async snapshot(): Promise<SessionSnapshot> {
      const { session: s, lane: l } = open('snapshot');
      const snap = await l.exclusive(() => s.snapshot());
      return transfer(snap, Object.values(snap.state).map((a) => a.buffer as ArrayBuffer));
    },
    async restore(snapshot: SessionSnapshot): Promise<void> {
      const { session: s, lane: l } = open('restore');
      await l.exclusive(() => s.restore(snapshot), true);
    },
    async stats(): Promise<WorkerSessionStats> {
      // Read at once, not queued: callers watch the queue while the worker is busy.
      const { session: s, lane: l } = open('stats');
      return { ...s.stats, serving: l.stats() };
    },
    async flush(): Promise<void> {
      await open('flush').lane.flush();
    },
    async dispose(): Promise<void> {
      if (!session || !lane) return;
      const s = session;
      const l = lane;
      session = null;
      lane = null;
      await l.exclusive(() => s.dispose(), true);
    },
  };
}

/** Serves a host on an endpoint: `self` in a Web Worker, `nodeEndpoint(parentPort)` in Node. */
export function exposeHost(endpoint: Endpoint | typeof globalThis, config?: HostConfig): void {
  expose(createHost(config), endpoint as Endpoint);
}
