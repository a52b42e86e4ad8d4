/**
 * pnpm --filter @edgetta/bench web:build | web:serve — builds the demo page (bench/web) with Vite
 * and serves it with COOP/COEP on 127.0.0.1.
 *
 *   web:build [--out dir]          build into bench/web/dist (or dir)
 *   web:serve [--port 5178] [--no-isolation]
 */
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { serveStatic } from './web-server.js';

export const webRoot = fileURLToPath(new URL('../web/', import.meta.url));

/** Builds the demo into `outDir` (quietly); returns outDir. */
export async function buildDemo(outDir = `${webRoot}dist`): Promise<string> {
  await build({ configFile: `${webRoot}vite.config.ts`, build: { outDir, emptyOutDir: true }, logLevel: 'error' });
  return outDir;
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const [cmd, ...rest] = process.argv.slice(2);
  const arg = (name: string) => {
    const i = rest.indexOf(name);
    return i >= 0 ? rest[i + 1] : undefined;
  };
  if (cmd !== 'build' && cmd !== 'serve') {
    process.stderr.write('usage: web.ts build [--out dir] | serve [--port n] [--no-isolation]\n');
    process.exit(2);
  }
  const t0 = performance.now();
  const out = await buildDemo(arg('--out'));
  console.log(`built the demo into ${out} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  if (cmd === 'serve') {
    const isolate = !rest.includes('--no-isolation');
    const server = await serveStatic(out, { port: Number(arg('--port') ?? 5178), isolate });
    console.log(`serving ${server.url} (${isolate ? 'COOP/COEP: cross-origin isolated, wasm threads on' : 'no isolation headers: wasm on one thread'}); Ctrl-C stops`);
  }
}
