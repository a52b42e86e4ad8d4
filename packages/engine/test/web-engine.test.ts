import { describe, expect, it } from 'vitest';
import { resolveEngine } from '@edgetta/engine';

describe('onnxruntime-web engine options in Node.js', () => {
  it('rejects a malformed wasm location before loading any runtime', async () => {
    await expect(resolveEngine({ runtime: 'web', wasm: { paths: '/ort' } })).rejects.toThrow("wasm.paths: a prefix must end with '/', got '/ort'");
    await expect(resolveEngine({ runtime: 'web', wasm: { binary: 'x' as never } })).rejects.toThrow('wasm.binary: expected an ArrayBuffer or a Uint8Array');
  });

  it("reports the selection in describe(): Node.js gets ['wasm'] and the requested threads; 'auto' is web-only", async () => {
    const e = await resolveEngine({ runtime: 'web', threads: 1 });
    expect(e.describe()).toMatchObject({ name: 'onnxruntime-web', executionProviders: ['wasm'], threads: 1, selection: 'Node.js; wasm: 1 thread' });
    await expect(resolveEngine({ runtime: 'node', executionProviders: 'auto' })).rejects.toThrow(/'auto' selects among onnxruntime-web's providers/);
  });

  it('uses a module given in `modules` instead of importing one, named after its runtime', async () => {
    const ort = await import('onnxruntime-web');
    const e = await resolveEngine({ runtime: 'web', modules: { web: ort as never } });
    expect(e.ort).toBe(ort);
    expect(e.name).toBe('onnxruntime-web');
  });
});
