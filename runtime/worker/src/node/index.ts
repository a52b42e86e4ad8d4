/**
 * @edgetta/worker/node: an AdaptiveSession in a `node:worker_threads` Worker, same API, all async.
 * Node-only (worker_threads); browsers use the package's root entry.
 */
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { connectSession, type WorkerSession, type WorkerSessionOptions } from '../session.js';
import type { WorkerPort } from '../link.js';
import { RETIRE_MESSAGE } from '../protocol.js';

export interface NodeWorkerSessionOptions extends WorkerSessionOptions {
  /** A worker already started with startNodeWorker() (e.g. to watch or stop it yourself). @defaultValue a new one */
  worker?: Worker;
}

/** Creates an AdaptiveSession in a new worker thread (or the given one). */
export async function createWorkerSession(model: string | Uint8Array | ArrayBuffer, options: NodeWorkerSessionOptions = {}): Promise<WorkerSession> {
  const { worker = startNodeWorker(), ...rest } = options;
  return connectSession(nodeWorkerPort(worker), model, rest);
}

/**
 * Starts a worker thread running edgetta's worker script. From the built package that is
 * dist/node/worker/index.js; inside this repository (sources run through the '@edgetta/source'
 * condition) the TypeScript source is loaded through tsx.
 */
export function startNodeWorker(): Worker {
  const fromSource = import.meta.url.endsWith('.ts');
  if (!fromSource) return new Worker(new URL('./worker/index.js', import.meta.url));
  const script = new URL('./worker.ts', import.meta.url).href;
  const tsx = pathToFileURL(path.join(path.dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist/esm/api/index.mjs')).href;
  const boot = `const { register } = await import(${JSON.stringify(tsx)}); register(); await import(${JSON.stringify(script)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`), { execArgv: ['--conditions=@edgetta/source'] });
}

/** A worker thread as a WorkerPort: an uncaught error or an exit is its death. */
export function nodeWorkerPort(worker: Worker): WorkerPort {
  return {
    endpoint: nodeEndpoint(worker),
    watch(onDeath) {
      worker.once('error', (e: Error) => onDeath(`the worker thread threw ${e.name}: ${e.message}`));
      worker.once('exit', (code: number) => onDeath(`the worker thread exited with code ${code} (terminated, crashed or called process.exit)`));
      worker.once('messageerror', (e: Error) => onDeath(`a message from the worker could not be deserialized: ${e.message}`));
    },
    terminate: () => worker.terminate(),
    retire: () => worker.postMessage(RETIRE_MESSAGE),
  };
}

export type { WorkerSession, WorkerSessionOptions, Promisified } from '../session.js';
export { WorkerClosedError, type WorkerPort } from '../link.js';
export type { HostApi, ServeMode, ServeOptions, ServingStats, SessionInfo, WireCreateOptions, WireFeeds, WireModel, WireTensor, WorkerSessionStats } from '../protocol.js';
export type { TensorConstructor, TensorLike } from '../tensors.js';
