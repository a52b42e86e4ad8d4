/**
 * Vite config of the demo page. Workspace packages resolve to their TypeScript sources; the
 * worker is bundled as an ES module; onnxruntime-web's .wasm/.mjs files are copied to `ort/`
 * beside the page and located through the session's `wasm: { paths }` option, so no bundler
 * guesswork decides where they come from.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { defineConfig, type Plugin } from 'vite';

const require = createRequire(import.meta.url);
const ortDist = path.dirname(require.resolve('onnxruntime-web/ort-wasm-simd-threaded.jsep.wasm'));
/** The files the default onnxruntime-web bundle (JSEP: WebGPU + wasm) loads. */
export const ORT_FILES = ['ort-wasm-simd-threaded.jsep.wasm', 'ort-wasm-simd-threaded.jsep.mjs'];

function copyOrtFiles(): Plugin {
  let outDir = '';
  return {
    name: 'edgetta-copy-ort-wasm',
    apply: 'build',
    configResolved(c) {
      outDir = path.resolve(c.root, c.build.outDir);
    },
    closeBundle() {
      fs.mkdirSync(path.join(outDir, 'ort'), { recursive: true });
      for (const f of ORT_FILES) fs.copyFileSync(path.join(ortDist, f), path.join(outDir, 'ort', f));
    },
  };
}

export default defineConfig({
  root: import.meta.dirname,
  base: './',
  logLevel: 'warn',
  resolve: { conditions: ['@edgetta/source'] },
  worker: { format: 'es' },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 2000, reportCompressedSize: false },
  plugins: [copyOrtFiles()],
});
