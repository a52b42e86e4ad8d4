/**
 * Where onnxruntime-web finds its WebAssembly files. Bundlers move, rename or drop them (the most
 * reported onnxruntime-web and tfjs problem: a 404, or an HTML fallback page served as
 * "expected magic word 00 61 73 6d, found 3c 21 44 4f"), so the location is an explicit option —
 * a URL prefix, a per-file map or the bytes — and a failed load names the URLs it tried.
 */
import type { OrtModule } from './engine.js';

/** The location of onnxruntime-web's `.wasm` / `.mjs` files (its `env.wasm.wasmPaths` / `wasmBinary`). */
export interface WasmAssets {
  /**
   * A URL prefix ending in '/' under which the files are served with their own names
   * (e.g. '/ort/' holding ort-wasm-simd-threaded.jsep.wasm and .jsep.mjs), or a map of absolute URLs.
   * @defaultValue onnxruntime-web's own: next to its script
   */
  paths?: string | { wasm?: string; mjs?: string };
  /** The `.wasm` bytes themselves (then `paths` only locates the `.mjs`). */
  binary?: ArrayBuffer | Uint8Array;
}

/** onnxruntime-web 1.2x's file names; which one loads depends on the bundle imported (the default one is jsep). */
export const ORT_WASM_FILES = ['ort-wasm-simd-threaded.jsep.wasm', 'ort-wasm-simd-threaded.wasm', 'ort-wasm-simd-threaded.asyncify.wasm'] as const;

/** Throws on a malformed option, before any runtime is loaded. */
export function checkWasmAssets(assets: WasmAssets | undefined): void {
  if (assets === undefined) return;
  if (assets === null || typeof assets !== 'object') throw new TypeError(`wasm: expected { paths?, binary? }, got ${assets === null ? 'null' : typeof assets}`);
  const { paths, binary } = assets;
  if (typeof paths === 'string' && !paths.endsWith('/')) throw new Error(`wasm.paths: a prefix must end with '/', got '${paths}'`);
  if (paths !== undefined && typeof paths !== 'string' && (typeof paths !== 'object' || paths === null)) throw new TypeError('wasm.paths: expected a URL prefix or a { wasm, mjs } map of URLs');
  if (binary !== undefined && !(binary instanceof ArrayBuffer || binary instanceof Uint8Array)) throw new TypeError('wasm.binary: expected an ArrayBuffer or a Uint8Array');
}

/** Applies the location to onnxruntime-web's env (only effective before its first session). */
export function applyWasmAssets(ort: OrtModule, assets: WasmAssets | undefined): void {
  if (!assets || !ort.env.wasm) return;
  const { paths, binary } = assets;
  if (paths !== undefined) {
    ort.env.wasm.wasmPaths = typeof paths === 'string' ? absolute(paths) : { ...paths, ...(paths.wasm ? { wasm: absolute(paths.wasm) } : {}), ...(paths.mjs ? { mjs: absolute(paths.mjs) } : {}) };
  }
  if (binary !== undefined) (ort.env.wasm as { wasmBinary?: unknown }).wasmBinary = binary;
}

/** One line describing the configured location, for stats. */
export function describeWasmAssets(assets: WasmAssets | undefined): string {
  if (!assets || (assets.paths === undefined && assets.binary === undefined)) return "onnxruntime-web's default (next to its script)";
  const parts: string[] = [];
  if (assets.binary !== undefined) parts.push(`binary (${assets.binary.byteLength} bytes)`);
  if (typeof assets.paths === 'string') parts.push(`prefix ${absolute(assets.paths)}`);
  else if (assets.paths) parts.push(`files ${JSON.stringify(assets.paths)}`);
  return parts.join(', ');
}

/**
 * Turns a failed first session of onnxruntime-web into an error that names the URLs tried and
 * what each one answered (status, content type, first bytes), and how to fix it.
 */
export async function explainWasmFailure(error: unknown, assets: WasmAssets | undefined): Promise<Error> {
  const message = error instanceof Error ? error.message : String(error);
  const urls = candidateUrls(assets);
  const checks = await Promise.all(urls.map(async (u) => `${u} -> ${await probe(u)}`));
  const where = urls.length
    ? `tried: ${checks.join('; ')}`
    : assets?.binary !== undefined
      ? 'the .wasm bytes were given (wasm.binary), so they are not a valid onnxruntime-web binary of this version'
      : "no wasm.paths was given, so onnxruntime-web looked next to its own script (a bundler may have moved or dropped the files)";
  const e = new Error(
    `onnxruntime-web could not load its WebAssembly runtime: ${message.split('\n')[0]} — ${where}. ` +
      `Serve the files from node_modules/onnxruntime-web/dist/ (ort-wasm-simd-threaded*.wasm and .mjs) and pass their location as the 'wasm' option ({ paths: '/prefix/' }, a { wasm, mjs } map, or { binary }).`,
    { cause: error },
  );
  return e;
}

function candidateUrls(assets: WasmAssets | undefined): string[] {
  const paths = assets?.paths;
  if (typeof paths === 'string') return assets?.binary !== undefined ? [] : ORT_WASM_FILES.map((f) => absolute(paths) + f);
  if (paths) return [paths.wasm, paths.mjs].filter((u): u is string => !!u).map(absolute);
  return [];
}

function absolute(url: string): string {
  const base = (globalThis as { location?: { href?: string } }).location?.href;
  try {
    return base ? new URL(url, base).href : url;
  } catch {
    return url;
  }
}

/** What a URL answers: 'ok (WebAssembly)', 'HTTP 404', 'text/html, starts with "<!DO"', ... */
async function probe(url: string): Promise<string> {
  if (!/^https?:/i.test(url) || typeof fetch !== 'function') return 'not checked';
  try {
    const res = await fetch(url, { cache: 'no-store' });
    if (!res.ok) {
      await res.body?.cancel();
      return `HTTP ${res.status}`;
    }
    const reader = res.body?.getReader();
    const first = reader ? (await reader.read()).value : undefined;
    await reader?.cancel();
    const head = first ? Array.from(first.subarray(0, 4)) : [];
    const type = res.headers.get('content-type') ?? 'no content-type';
    if (url.endsWith('.wasm')) {
      const magic = head.length === 4 && head[0] === 0 && head[1] === 0x61 && head[2] === 0x73 && head[3] === 0x6d;
      return magic ? `ok (WebAssembly, ${type})` : `not WebAssembly (${type}, starts with ${JSON.stringify(String.fromCharCode(...head))})`;
    }
    return `HTTP ${res.status} (${type})`;
  } catch (e) {
    return `fetch failed (${(e as Error).message})`;
  }
}
