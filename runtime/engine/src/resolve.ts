import type { InferenceSession } from 'onnxruntime-common';
import type { Engine, EngineOptions, OrtModule, RuntimeName } from './engine.js';

const isNode = typeof process !== 'undefined' && !!process.versions?.node && typeof (globalThis as { window?: unknown }).window === 'undefined';

/*
 * Each runtime is imported lazily by its package name, so a browser bundle that never asks for
 * 'node' never pulls onnxruntime-node (and the bundler can mark it external).
 */
const loaders: Record<RuntimeName, () => Promise<OrtModule>> = {
  node: async () => normalize(await import(/* @vite-ignore */ 'onnxruntime-node' as string)),
  web: async () => normalize(await import(/* @vite-ignore */ 'onnxruntime-web' as string)),
};

function normalize(mod: Record<string, unknown>): OrtModule {
  const m = (mod.InferenceSession ? mod : (mod.default as Record<string, unknown>)) as unknown as OrtModule;
  if (!m?.InferenceSession?.create || !m.Tensor) throw new Error('the module does not export InferenceSession and Tensor');
  return m;
}

/**
 * Resolves the engine: the caller's choice, or the platform default (onnxruntime-node in Node,
 * onnxruntime-web elsewhere) with onnxruntime-web as the Node fallback. When nothing loads, one
 * error lists every runtime tried and why it failed (as onnxruntime's resolveBackend does).
 */
export async function resolveEngine(options: EngineOptions = {}): Promise<Engine> {
  const { runtime, threads } = options;
  if (threads !== undefined && (!Number.isInteger(threads) || threads < 1)) {
    throw new RangeError(`threads: expected a positive integer, got ${threads}`);
  }
  if (runtime !== undefined && typeof runtime === 'object') return makeEngine('custom', normalize(runtime as unknown as Record<string, unknown>), options);
  if (runtime !== undefined && runtime !== 'node' && runtime !== 'web') {
    throw new Error(`runtime: expected 'node', 'web' or an onnxruntime module, got ${JSON.stringify(runtime)}`);
  }
  const order: RuntimeName[] = runtime ? [runtime] : isNode ? ['node', 'web'] : ['web'];
  const failures: string[] = [];
  for (const name of order) {
    try {
      return makeEngine(`onnxruntime-${name}`, await loaders[name](), options);
    } catch (e) {
      failures.push(`onnxruntime-${name}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  throw new Error(
    `no onnxruntime could be loaded (tried ${failures.join('; ')}). Install onnxruntime-node (Node.js) or onnxruntime-web (browsers), or pass an imported module as 'runtime'.`,
  );
}

function makeEngine(name: string, ort: OrtModule, options: EngineOptions): Engine {
  const web = name === 'onnxruntime-web';
  const eps = options.executionProviders ?? [web ? 'wasm' : 'cpu'];
  if (web && options.threads !== undefined && ort.env.wasm) ort.env.wasm.numThreads = options.threads;
  const sessionOptions: InferenceSession.SessionOptions = {
    executionProviders: eps,
    graphOptimizationLevel: 'all',
    ...(!web && options.threads !== undefined ? { intraOpNumThreads: options.threads, interOpNumThreads: 1 } : {}),
  };
  return {
    name,
    ort,
    createSession: (model) => ort.InferenceSession.create(model, sessionOptions),
    describe: () => ({
      name,
      executionProviders: eps,
      threads: options.threads ?? (web ? (ort.env.wasm?.numThreads ?? 1) : 0),
    }),
  };
}
