/**
 * The thin adapter over comlink: every call to the worker goes through `call()`, which adds what
 * comlink leaves out (its issues #63, #655, #692): a timeout per call, rejection of every pending
 * call when the worker dies or is stopped (no promise hangs), errors re-thrown with the worker's
 * class, message and stack, and explicit proxy release and termination.
 */
import { releaseProxy, transfer, wrap, type Endpoint, type Remote } from 'comlink/dist/esm/comlink.mjs';
import type { HostApi } from './protocol.js';

/** A started worker as the link sees it, on any platform. */
export interface WorkerPort {
  endpoint: Endpoint;
  /** Calls `onDeath` (once) when the worker dies on its own: an uncaught error, an exit. */
  watch(onDeath: (reason: string) => void): void;
  /** Stops the worker now. */
  terminate(): unknown;
  /**
   * Asks the worker to exit as soon as its current task returns, for runtimes whose native calls
   * cannot be interrupted (terminating a thread inside onnxruntime-node's run aborts the process).
   */
  retire?(): void;
}

/** The worker is gone (crashed, killed, timed out or disposed); the session cannot be used again. */
export class WorkerClosedError extends Error {
  override name = 'WorkerClosedError';
}

type Method = keyof HostApi;
type Result<K extends Method> = Awaited<ReturnType<HostApi[K]>>;

interface Pending {
  reject(error: Error): void;
  call: string;
  timer?: ReturnType<typeof setTimeout>;
}

const builtinErrors: Record<string, ErrorConstructor> = { TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError };

export class HostLink {
  private readonly remote: Remote<HostApi>;
  private readonly pending = new Set<Pending>();
  private closed: string | null = null;
  /** Whether terminate() is safe mid-call; false until the engine is known to allow it. */
  interruptible = false;

  constructor(
    private readonly port: WorkerPort,
    /** Default per-call timeout in ms; 0 = none. */
    private readonly timeoutMs: number,
  ) {
    this.remote = wrap<HostApi>(port.endpoint);
    port.watch((reason) => this.close(reason));
  }

  get isClosed(): boolean {
    return this.closed !== null;
  }

  /** Calls the host; `transferables` move with the first argument. */
  call<K extends Method>(name: K, args: Parameters<HostApi[K]>, transferables: ArrayBuffer[] = [], timeoutMs = this.timeoutMs): Promise<Result<K>> {
    if (this.closed !== null) return Promise.reject(new WorkerClosedError(`edgetta worker: ${name}() after the worker was closed (${this.closed})`));
    if (transferables.length > 0) args[0] = transfer(args[0], transferables);
    return new Promise<Result<K>>((resolve, reject) => {
      const entry: Pending = { call: name, reject };
      const settle = () => {
        clearTimeout(entry.timer);
        this.pending.delete(entry);
      };
      this.pending.add(entry);
      if (timeoutMs > 0) {
        entry.timer = setTimeout(() => {
          // The worker's computation cannot be cancelled: stop the worker rather than let it run on.
          this.close(`${name}() did not answer within ${timeoutMs} ms, so the worker was stopped (raise timeoutMs for slow models or devices)`);
        }, timeoutMs);
      }
      const method = this.remote[name] as unknown as (...a: unknown[]) => Promise<Result<K>>;
      method(...args).then(
        (value) => {
          settle();
          resolve(value);
        },
        (error: unknown) => {
          settle();
          reject(rethrown(error));
        },
      );
    });
  }

  /** Rejects every pending call, releases the proxy and stops the worker. Idempotent. */
  close(reason: string): void {
    if (this.closed !== null) return;
    this.closed = reason;
    for (const p of this.pending) {
      clearTimeout(p.timer);
      p.reject(new WorkerClosedError(`edgetta worker: ${p.call}() failed: ${reason}. The session is closed; create a new one.`));
    }
    this.pending.clear();
    try {
      this.remote[releaseProxy]();
    } catch {
      // Posting to a worker that is already gone: nothing left to release.
    }
    if (!this.interruptible && this.port.retire) this.port.retire();
    else void Promise.resolve(this.port.terminate()).catch(() => undefined);
  }
}

/** The worker's error with its class (for built-in ones), message and stack. */
function rethrown(error: unknown): Error {
  if (!(error instanceof Error)) return new Error(`edgetta worker threw a non-Error value: ${String(error)}`);
  const Ctor = builtinErrors[error.name] ?? Error;
  const e = new Ctor(error.message);
  if (Ctor === Error && error.name !== 'Error') e.name = error.name;
  e.stack = `${error.stack ?? `${error.name}: ${error.message}`}\n    at <edgetta worker boundary>`;
  return e;
}
