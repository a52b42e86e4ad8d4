import type { InferenceSession, Tensor } from 'onnxruntime-common';
import type { WasmAssets } from './wasm-assets.js';

/** The slice of an onnxruntime package edgetta uses (onnxruntime-node and onnxruntime-web both fit). */
export interface OrtModule {
  InferenceSession: { create(model: Uint8Array, options?: InferenceSession.SessionOptions): Promise<InferenceSession> };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => Tensor;
  env: { wasm?: { numThreads?: number; wasmPaths?: unknown }; webgpu?: { adapter?: unknown }; logLevel?: string; versions?: Record<string, string> };
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
  /** onnxruntime-web: why these providers and threads (see selectWebExecution). */
  selection?: string;
  /** onnxruntime-web: the global scope's crossOriginIsolated (browsers and workers). */
  crossOriginIsolated?: boolean;
  /** onnxruntime-web with WebGPU: the adapter's vendor/architecture/description. */
  adapter?: string;
  /** onnxruntime-web: where its WebAssembly files are loaded from. */
  wasm?: string;
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
  /**
   * Execution providers for onnxruntime-web, e.g. ['webgpu', 'wasm'], or 'auto': WebGPU when
   * `navigator.gpu` gives an adapter, else wasm (threads only when cross-origin isolated).
   * @defaultValue 'auto' in browsers and workers, ['wasm'] in Node.js
   */
  executionProviders?: string[] | 'auto';
  /**
   * Already imported runtime modules by name, used instead of importing them: a bundled app or a
   * worker passes `{ web: ort }` (a bare `import('onnxruntime-web')` cannot resolve there).
   */
  modules?: Partial<Record<RuntimeName, OrtModule>>;
  /** Where onnxruntime-web loads its .wasm/.mjs files from (prefix, per-file map or bytes). */
  wasm?: WasmAssets;
}
