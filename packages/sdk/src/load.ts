/** Model bytes from a path (Node), a URL (fetch), bytes or an ArrayBuffer. Node modules load lazily. */
export async function loadModelBytes(model: string | Uint8Array | ArrayBuffer): Promise<{ bytes: Uint8Array; source: string }> {
  if (model instanceof Uint8Array) return { bytes: model, source: 'model bytes' };
  if (model instanceof ArrayBuffer) return { bytes: new Uint8Array(model), source: 'model bytes' };
  if (typeof model !== 'string') {
    throw new TypeError(`model: expected a file path, a URL, a Uint8Array or an ArrayBuffer, got ${model === null ? 'null' : typeof model}`);
  }
  const isUrl = /^(https?|blob|data):/i.test(model);
  const isNode = typeof process !== 'undefined' && !!process.versions?.node;
  if (!isUrl && isNode) {
    const fs = await import(/* @vite-ignore */ 'node:fs/promises' as string);
    try {
      return { bytes: new Uint8Array(await fs.readFile(model)), source: model };
    } catch (e) {
      throw new Error(`model: cannot read '${model}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  const res = await fetch(model);
  if (!res.ok) throw new Error(`model: fetching '${model}' failed with HTTP ${res.status}`);
  return { bytes: new Uint8Array(await res.arrayBuffer()), source: model };
}
