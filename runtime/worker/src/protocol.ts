/**
 * The wire protocol: everything that crosses between the caller and the worker, as plain
 * structured-cloneable data. comlink carries it; nothing else (no functions, no class instances,
 * no proxies) crosses, so comlink stays replaceable.
 */
import type { AdaptiveSessionOptions, SessionSnapshot, SessionStats } from '@edgetta/sdk';
import type { WasmAssets } from '@edgetta/engine';

/** Tensor element arrays onnxruntime returns for CPU tensors. */
export type WireData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/** A tensor on the wire: its buffer is transferred (moved), not copied. */
export interface WireTensor {
  type: string;
  data: WireData;
  dims: number[];
}

export type WireFeeds = Record<string, WireTensor>;

/** The model: bytes (copied once), or a file path (Node) / absolute URL the worker loads itself. */
export type WireModel = Uint8Array | string;

/** How `run()` is served. */
export type ServeMode = 'adapt-then-answer' | 'adapt-after';

export interface ServeOptions {
  /**
   * 'adapt-then-answer': run() adapts on the batch and answers from the same forward, exactly as
   * in-process. 'adapt-after': run() answers from the current state at plain-inference latency;
   * the batch's adaptation step runs right after in the worker, so predictions lag the updates by
   * (at least) one batch.
   * @defaultValue 'adapt-then-answer'
   */
  mode?: ServeMode;
  /** adapt-after: adaptation steps allowed to wait; beyond it one is dropped (never a prediction). @defaultValue 2 */
  maxPendingSteps?: number;
  /** adapt-after, queue full: drop the 'oldest' waiting step (adapt on the freshest data) or the 'newest'. @defaultValue 'oldest' */
  drop?: 'oldest' | 'newest';
}

/** Session options as they cross: a method name (register custom methods through `imports`). */
export interface WireCreateOptions {
  method?: string;
  methodOptions?: Record<string, number | boolean>;
  runtime?: 'node' | 'web';
  threads?: number;
  executionProviders?: string[] | 'auto';
  wasm?: WasmAssets;
  serve?: ServeOptions;
  /** Module specifiers the worker imports before creating the session (e.g. to register a custom method). */
  imports?: string[];
}

/** What the caller learns once at creation (so these members stay synchronous). */
export interface SessionInfo {
  method: string;
  /** The engine's name ('onnxruntime-node', 'onnxruntime-web', ...). */
  engine: string;
  options: Record<string, number | boolean>;
  inputNames: string[];
  outputNames: string[];
  layerInfo: { name: string; channels: number; rank: number; epsilon: number }[];
}

/** Serving counters (see ServeOptions). */
export interface ServingStats {
  mode: ServeMode;
  /** Answers returned by run() and infer(). */
  served: number;
  /** Adaptation steps completed. */
  adapted: number;
  /** Adaptation steps dropped under overload, or discarded by reset()/restore(). */
  dropped: number;
  /** Background adaptation steps that failed (their error is in lastStepError). */
  failed: number;
  /** Adaptation steps waiting now. */
  queueDepth: number;
  /** The most that ever waited. */
  maxQueueDepth: number;
  /** maxPendingSteps. */
  capacity: number;
  lastStepError: string | null;
}

export interface WorkerSessionStats extends SessionStats {
  serving: ServingStats;
}

/** The message that asks a worker to exit between tasks (see WorkerPort.retire). */
export const RETIRE_MESSAGE = { edgettaRetire: true } as const;

/** The object the worker exposes. One session per worker. */
export interface HostApi {
  create(model: WireModel, options: WireCreateOptions): Promise<SessionInfo>;
  run(feeds: WireFeeds): Promise<WireFeeds>;
  infer(feeds: WireFeeds): Promise<WireFeeds>;
  reset(): Promise<void>;
  snapshot(): Promise<SessionSnapshot>;
  restore(snapshot: SessionSnapshot): Promise<void>;
  stats(): Promise<WorkerSessionStats>;
  /** Resolves when no adaptation step is waiting or running. */
  flush(): Promise<void>;
  dispose(): Promise<void>;
}
