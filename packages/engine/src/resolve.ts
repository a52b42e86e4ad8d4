import type { InferenceSession } from 'onnxruntime-common';
import type { Engine, EngineInfo, EngineOptions, OrtModule, RuntimeName } from './engine.js';
import { applyWasmAssets, checkWasmAssets, describeWasmAssets, explainWasmFailure } from './wasm-assets.js';
import { selectWebExecution } from './web-select.js';

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
  checkWasmAssets(options.wasm);
  if (runtime !== undefined && typeof runtime === 'object') return makeEngine('custom', normalize(runtime as unknown as Record<string, unknown>), options);
  for (const [k, m] of Object.entries(options.modules ?? {})) {
    if (k !== 'node' && k !== 'web') throw new Error(`modules: expected keys 'node' or 'web', got '${k}'`);
    if (m !== undefined) normalize(m as unknown as Record<string, unknown>);
  }
  if (runtime !== undefined && runtime !== 'node' && runtime !== 'web') {
    throw new Error(`runtime: expected 'node', 'web' or an onnxruntime module, got ${JSON.stringify(runtime)}`);
  }
  const order: RuntimeName[] = runtime ? [runtime] : isNode ? ['node', 'web'] : ['web'];
  const failures: string[] = [];
  for (const name of order) {
    try {
      const given = options.modules?.[name];
      return await makeEngine(`onnxruntime-${name}`, given ? normalize(given as unknown as Record<string, unknown>) : await loaders[name](), options);
    } catch (e) {
      failures.push(`onnxruntime-${name}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  throw new Error(
    `no onnxruntime could be loaded (tried ${failures.join('; ')}). Install onnxruntime-node (Node.js) or onnxruntime-web (browsers), or pass an imported module as 'runtime'.`,
  );
}

async function makeEngine(name: string, ort: OrtModule, options: EngineOptions): Promise<Engine> {
  const web = name === 'onnxruntime-web';
  if (!web) {
    if (options.executionProviders === 'auto') throw new Error(`executionProviders: 'auto' selects among onnxruntime-web's providers; ${name} takes a list (e.g. ['cpu'])`);
    return plainEngine(name, ort, options, options.executionProviders ?? ['cpu']);
  }
  // onnxruntime-web: asset location, providers and threads are process-wide settings of the
  // module, read when its first session initializes the backend.
  applyWasmAssets(ort, options.wasm);
  const choice = await selectWebExecution(options.executionProviders, options.threads);
  if (ort.env.wasm && choice.threads !== undefined) ort.env.wasm.numThreads = choice.threads;
  if (choice.gpuAdapter && ort.env.webgpu && !ort.env.webgpu.adapter) ort.env.webgpu.adapter = choice.gpuAdapter;
  const sessionOptions: InferenceSession.SessionOptions = { executionProviders: choice.executionProviders, graphOptimizationLevel: 'all' };
  let initialized = false;
  return {
    name,
    ort,
    createSession: async (model) => {
      try {
        const session = await ort.InferenceSession.create(model, sessionOptions);
        initialized = true;
        return tracked(session);
      } catch (e) {
        // Only the first session loads the WebAssembly files; later failures are the model's.
        throw initialized ? e : await explainWasmFailure(e, options.wasm);
      }
    },
    describe: (): EngineInfo => ({
      name,
      executionProviders: choice.executionProviders,
      threads: choice.threads ?? ort.env.wasm?.numThreads ?? 1,
      selection: choice.selection,
      ...(choice.crossOriginIsolated !== undefined ? { crossOriginIsolated: choice.crossOriginIsolated } : {}),
      ...(choice.adapter ? { adapter: choice.adapter } : {}),
      wasm: describeWasmAssets(options.wasm),
    }),
  };
}

function plainEngine(name: string, ort: OrtModule, options: EngineOptions, eps: string[]): Engine {
  const sessionOptions: InferenceSession.SessionOptions = {
    executionProviders: eps,
    graphOptimizationLevel: 'all',
    ...(options.threads !== undefined ? { intraOpNumThreads: options.threads, interOpNumThreads: 1 } : {}),
  };
  return {
    name,
    ort,
    createSession: async (model) => tracked(await ort.InferenceSession.create(model, sessionOptions)),
    describe: () => ({ name, executionProviders: eps, threads: options.threads ?? 0 }),
  };
}

/* Live sessions per process, shared by every copy of this package (the registry's getGlobal trick). */
const LIVE = Symbol.for('edgetta.engine.liveSessions');

function counter(): { n: number } {
  const g = globalThis as unknown as Record<symbol, { n: number } | undefined>;
  return (g[LIVE] ??= { n: 0 });
}

/**
 * onnxruntime sessions created through an engine and not yet released, in this process: the
 * leak check of `AdaptiveSession` create / dispose cycles (as tfjs's `memory().numTensors`).
 */
export function liveSessions(): number {
  return counter().n;
}

/** Counts the session as live until its first release(). */
function tracked<S extends { release(): Promise<void> }>(session: S): S {
  const c = counter();
  c.n++;
  const release = session.release.bind(session);
  let released = false;
  session.release = async () => {
    if (!released) {
      released = true;
      c.n--;
    }
    return release();
  };
  return session;
}
