import type { InferenceSession, Tensor } from 'onnxruntime-common';

/** The slice of an onnxruntime package edgetta uses (onnxruntime-node and onnxruntime-web both fit). */
export interface OrtModule {
  InferenceSession: { create(model: Uint8Array, options?: InferenceSession.SessionOptions): Promise<InferenceSession> };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => Tensor;
  env: { wasm?: { numThreads?: number; wasmPaths?: unknown }; logLevel?: string };
}

/** An execution engine: a named onnxruntime module plus how to configure sessions on it. */
export interface Engine {
  /** 'onnxruntime-node', 'onnxruntime-web', or a caller-supplied name. */
  name: string;
  ort: OrtModule;
  /** Creates a session for model bytes with the engine's options. */
  createSession(model: Uint8Array): Promise<InferenceSession>;
  /** The resolved configuration, reported in stats (execution providers, threads). */
  describe(): EngineInfo;
}

export interface EngineInfo {
  name: string;
  executionProviders: string[];
  threads: number;
}

export type RuntimeName = 'node' | 'web';

export interface EngineOptions {
  /**
   * 'node' (onnxruntime-node), 'web' (onnxruntime-web, wasm), an already imported onnxruntime
   * module, or undefined to auto-detect (node in Node.js, else web).
   * @defaultValue auto-detect
   */
  runtime?: RuntimeName | OrtModule;
  /**
   * Intra-op threads. onnxruntime-web threads need cross-origin isolation in browsers.
   * @defaultValue the runtime's own default (all cores for onnxruntime-node, 1 for wasm without isolation)
   */
  threads?: number;
  /** Execution providers for onnxruntime-web, e.g. ['webgpu', 'wasm']. @defaultValue ['wasm'] */
  executionProviders?: string[];
}
