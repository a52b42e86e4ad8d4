/**
 * @edgetta/worker (browser-safe entry): an AdaptiveSession in a Web Worker, same API, all async.
 * Node.js: `@edgetta/worker/node`. The worker script: `exposeHost` from `@edgetta/worker/host`.
 */
import { connectSession, type WorkerSession, type WorkerSessionOptions } from './session.js';
import type { WorkerPort } from './link.js';

export interface BrowserWorkerSessionOptions extends WorkerSessionOptions {
  /**
   * The worker, or a function that starts it. Write the URL inline so bundlers see and bundle the
   * script: `() => new Worker(new URL('./edgetta.worker.ts', import.meta.url), { type: 'module' })`.
   */
  worker: Worker | (() => Worker);
}

/** Starts (or takes) a Web Worker and creates an AdaptiveSession in it. */
export async function createWorkerSession(model: string | Uint8Array | ArrayBuffer, options: BrowserWorkerSessionOptions): Promise<WorkerSession> {
  const given = options?.worker;
  if (!given) {
    throw new TypeError(
      "worker: pass the Web Worker, e.g. worker: () => new Worker(new URL('./edgetta.worker.ts', import.meta.url), { type: 'module' }), whose script calls exposeHost(self, { modules: { web: ort } }) from '@edgetta/worker/host'",
    );
  }
  const worker = typeof given === 'function' ? given() : given;
  const { worker: _w, ...rest } = options;
  return connectSession(webWorkerPort(worker), model, rest);
}

/** A Web Worker as a WorkerPort. An uncaught error there is treated as fatal: no call can be trusted to finish. */
export function webWorkerPort(worker: Worker): WorkerPort {
  return {
    endpoint: worker,
    watch(onDeath) {
      worker.addEventListener('error', (event: ErrorEvent) => {
        event.preventDefault?.();
        const where = event.filename ? ` (${event.filename}:${event.lineno})` : '';
        onDeath(`the worker failed with an uncaught error: ${event.message || 'the script could not be loaded or threw at top level'}${where}`);
      });
      worker.addEventListener('messageerror', () => onDeath('a message from the worker could not be deserialized'));
    },
    terminate: () => worker.terminate(),
  };
}

export type { WorkerSession, WorkerSessionOptions, Promisified } from './session.js';
export { WorkerClosedError, type WorkerPort } from './link.js';
export type { HostApi, ServeMode, ServeOptions, ServingStats, SessionInfo, WireCreateOptions, WireFeeds, WireModel, WireTensor, WorkerSessionStats } from './protocol.js';
export type { TensorConstructor, TensorLike } from './tensors.js';
