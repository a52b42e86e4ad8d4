/**
 * Execution-provider selection for onnxruntime-web, in priority order (as onnxruntime's own
 * resolveBackend tries backends): WebGPU when `navigator.gpu` gives an adapter, else wasm with
 * threads when the page is cross-origin isolated, else wasm on one thread. The choice and the
 * reason are reported in `stats.engine`, because a silent fallback (threads without isolation do
 * nothing, onnxruntime only warns) is the classic way to ship a 2x slower page.
 */

/** What was chosen and why. */
export interface WebExecution {
  executionProviders: string[];
  /** Threads to set; undefined leaves onnxruntime's own default (Node.js without a request). */
  threads: number | undefined;
  /** One line: why this configuration (e.g. 'webgpu: adapter "swiftshader"; wasm: 2 threads (cross-origin isolated)'). */
  selection: string;
  /** `crossOriginIsolated` of the global scope (undefined outside browsers and workers). */
  crossOriginIsolated?: boolean;
  /** The WebGPU adapter's vendor/architecture/description, when WebGPU was chosen. */
  adapter?: string;
  /** The adapter object itself, handed to onnxruntime so it does not request a second one. */
  gpuAdapter?: unknown;
}

interface GpuLike {
  requestAdapter(options?: unknown): Promise<{ info?: Record<string, string>; requestAdapterInfo?: () => Promise<Record<string, string>> } | null>;
}

/** The global scope facts the selection reads (passed in by tests; the real globals by default). */
export interface WebScope {
  gpu?: GpuLike;
  crossOriginIsolated?: boolean;
  hardwareConcurrency?: number;
  /** True in Node.js, where wasm threads need no isolation and WebGPU is not available to onnxruntime-web. */
  node: boolean;
}

export function currentWebScope(): WebScope {
  const g = globalThis as { navigator?: { gpu?: GpuLike; hardwareConcurrency?: number }; crossOriginIsolated?: boolean; window?: unknown };
  const node = typeof process !== 'undefined' && !!process.versions?.node && g.window === undefined;
  return { gpu: node ? undefined : g.navigator?.gpu, crossOriginIsolated: g.crossOriginIsolated, hardwareConcurrency: g.navigator?.hardwareConcurrency, node };
}

/**
 * Chooses onnxruntime-web's execution providers and thread count. `requested` are the caller's
 * providers ('auto' or undefined = select), `threads` the caller's thread count (undefined =
 * min(4, cores) when threads are possible: onnxruntime's own default, ceil(cores / 2), leaves
 * room for a page's thread, which a session in a worker does not compete with).
 */
export async function selectWebExecution(requested: string[] | 'auto' | undefined, threads: number | undefined, scope: WebScope = currentWebScope()): Promise<WebExecution> {
  const threadsOk = scope.node || scope.crossOriginIsolated === true;
  const defaultThreads = Math.max(1, Math.min(4, scope.hardwareConcurrency ?? 1));
  const n = threadsOk ? (threads ?? (scope.node ? undefined : defaultThreads)) : 1;
  const why = !threadsOk
    ? `wasm: 1 thread (not cross-origin isolated${threads !== undefined && threads > 1 ? `; the ${threads} requested need COOP/COEP headers` : ''})`
    : n === undefined
      ? "wasm: onnxruntime's default threads"
      : `wasm: ${n} thread${n === 1 ? '' : 's'}${scope.node ? '' : ' (cross-origin isolated)'}`;
  const base = { threads: n, crossOriginIsolated: scope.crossOriginIsolated };
  if (Array.isArray(requested)) return { ...base, executionProviders: requested, selection: `as requested; ${why}` };
  if (scope.gpu) {
    try {
      const adapter = await scope.gpu.requestAdapter();
      if (adapter) {
        const info = adapter.info ?? (await adapter.requestAdapterInfo?.()) ?? {};
        const name = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') || 'unnamed adapter';
        // 'wasm' second: nodes WebGPU cannot run fall back to the CPU kernels.
        return { ...base, executionProviders: ['webgpu', 'wasm'], selection: `webgpu: adapter "${name}"; ${why}`, adapter: name, gpuAdapter: adapter };
      }
      return { ...base, executionProviders: ['wasm'], selection: `navigator.gpu gave no adapter; ${why}` };
    } catch (e) {
      return { ...base, executionProviders: ['wasm'], selection: `navigator.gpu.requestAdapter failed (${(e as Error).message}); ${why}` };
    }
  }
  return { ...base, executionProviders: ['wasm'], selection: `${scope.node ? 'Node.js' : 'no navigator.gpu'}; ${why}` };
}
