/**
 * pnpm bench:bundle — what the SDK and the worker add to a browser app, minified + gzipped, with
 * onnxruntime left out (an app ships that anyway; it is external here). Each entry is bundled
 * for browsers from the TypeScript sources (rollup + node-resolve with the browser conditions,
 * terser), as an app's bundler would.
 *
 *   pnpm bench:bundle [--json] [--out dir]   (--out also writes each bundle as <dir>/<name>.min.mjs)
 */
import { gzipSync } from 'node:zlib';
import fs from 'node:fs';
import path from 'node:path';
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import { rollup, type Plugin } from 'rollup';
import nodeResolve from '@rollup/plugin-node-resolve';
import commonjs from '@rollup/plugin-commonjs';
import terser from '@rollup/plugin-terser';
import ts from 'typescript';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Each entry: what a browser app imports. The combined one is everything, deduplicated. */
const entries: Record<string, string> = {
  '@edgetta/sdk': `export * from '@edgetta/sdk';`,
  '@edgetta/worker (page side)': `export * from '@edgetta/worker';`,
  '@edgetta/worker/host (worker side, includes the SDK)': `export * from '@edgetta/worker/host';`,
  'SDK + worker, page and worker side together': `export * from '@edgetta/worker'; export * from '@edgetta/worker/host'; export * from '@edgetta/sdk';`,
};

/** TypeScript sources to ESM, types erased (what the `@edgetta/source` condition points at). */
const typescript: Plugin = {
  name: 'ts-transpile',
  transform(code, id) {
    if (!id.endsWith('.ts')) return null;
    const out = ts.transpileModule(code, { fileName: id, compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, verbatimModuleSyntax: true, sourceMap: false } });
    return { code: out.outputText, map: null };
  },
};

/** `./x.js` imports name `./x.ts` sources. */
const tsFromJs: Plugin = {
  name: 'ts-from-js',
  resolveId(source, importer) {
    if (!importer || !source.startsWith('.') || !source.endsWith('.js')) return null;
    const candidate = path.resolve(path.dirname(importer), source.replace(/\.js$/, '.ts'));
    return fs.existsSync(candidate) ? candidate : null;
  },
};

/** The entry as a module inside this package, so packages resolve from here as an app's would. */
const entryId = fileURLToPath(new URL('./__bundle_entry__.js', import.meta.url));
const virtual = (code: string): Plugin => ({
  name: 'entry',
  resolveId: (id) => (id === entryId ? id : null),
  load: (id) => (id === entryId ? code : null),
});

export interface BundleSize {
  entry: string;
  minified: number;
  gzip: number;
  modules: number;
  /** Guarded dynamic imports of Node built-ins (never loaded in browsers). */
  lazyNodeImports: string[];
  /** Code (tree-shaken, before minification) per package, in characters. */
  byPackage: Record<string, number>;
}

/** File names for --out. */
const files: Record<string, string> = {
  '@edgetta/sdk': 'edgetta-sdk',
  '@edgetta/worker (page side)': 'edgetta-worker',
  '@edgetta/worker/host (worker side, includes the SDK)': 'edgetta-worker-host',
};

export async function measure(name: string, code: string, outDir?: string, alsoExternal: string[] = []): Promise<BundleSize> {
  const bundle = await rollup({
    input: entryId,
    // onnxruntime is the app's (peer dependency); Node built-ins must not be reached at all.
    external: (id) => {
      if (id.startsWith('onnxruntime-') || alsoExternal.some((e) => id === e || id.startsWith(`${e}/`))) return true;
      return isBuiltin(id);
    },
    plugins: [
      virtual(code),
      tsFromJs,
      nodeResolve({ browser: true, exportConditions: ['@edgetta/source', 'browser', 'import', 'default'], extensions: ['.ts', '.mjs', '.js'] }),
      commonjs(),
      typescript,
    ],
    onwarn: (w) => {
      if (w.code === 'UNRESOLVED_IMPORT') throw new Error(`${name}: ${w.message}`);
      if (w.code !== 'CIRCULAR_DEPENDENCY' && w.code !== 'THIS_IS_UNDEFINED') process.stderr.write(`bundle-size: ${name}: ${w.message}\n`);
    },
  });
  const { output } = await bundle.generate({ format: 'es', plugins: [terser({ format: { comments: false } })], inlineDynamicImports: true });
  await bundle.close();
  const chunk = output[0];
  const byPackage: Record<string, number> = {};
  for (const [id, m] of Object.entries(chunk.modules)) byPackage[packageOf(id)] = (byPackage[packageOf(id)] ?? 0) + m.renderedLength;
  // A static import of a Node built-in breaks the browser bundle; a guarded dynamic one
  // (`if (isNode) await import('node:fs/promises')`) is never loaded there.
  const staticNode = chunk.imports.filter(isBuiltin);
  if (staticNode.length) throw new Error(`${name}: the browser bundle statically imports Node-only modules: ${staticNode.join(', ')}`);
  const bytes = Buffer.from(chunk.code);
  if (outDir && files[name]) {
    fs.mkdirSync(outDir, { recursive: true });
    fs.writeFileSync(path.join(outDir, `${files[name]}.min.mjs`), bytes);
  }
  return { entry: name, minified: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length, modules: Object.keys(chunk.modules).length, lazyNodeImports: chunk.dynamicImports.filter(isBuiltin), byPackage };
}

/** 'comlink', 'runtime/sdk', 'adapters/dua', ... */
function packageOf(id: string): string {
  const nm = id.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = id.slice(nm + 14).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  return path.relative(root, id).split(path.sep).slice(0, 2).join('/');
}

function isBuiltin(id: string): boolean {
  return id.startsWith('node:') || builtinModules.includes(id);
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const outArg = process.argv.indexOf('--out');
  const outDir = outArg > 0 ? path.resolve(process.argv[outArg + 1]) : undefined;
  process.chdir(root);
  const rows: BundleSize[] = [];
  for (const [name, code] of Object.entries(entries)) rows.push(await measure(name, code, outDir));
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify(rows, null, 2));
  } else {
    const kb = (n: number) => (n / 1024).toFixed(1);
    console.log('Browser bundles without onnxruntime (rollup + node-resolve browser conditions + terser; gzip -9):\n');
    console.log('| entry | modules | minified KB | min + gzip KB | lazy Node-only imports |');
    console.log('|---|---:|---:|---:|---|');
    for (const r of rows) console.log(`| ${r.entry} | ${r.modules} | ${kb(r.minified)} | ${kb(r.gzip)} | ${r.lazyNodeImports.join(', ') || '-'} |`);
    const total = rows[rows.length - 1];
    const all = Object.values(total.byPackage).reduce((a, b) => a + b, 0);
    console.log(`\nwhere the combined bundle's code comes from (share of the tree-shaken code before minification; ~ that share of the ${kb(total.gzip)} KB):\n`);
    console.log('| package | share | ~ KB min + gzip |');
    console.log('|---|---:|---:|');
    for (const [pkg, n] of Object.entries(total.byPackage).sort((a, b) => b[1] - a[1])) {
      if (n / all >= 0.01) console.log(`| ${pkg} | ${((100 * n) / all).toFixed(1)} % | ${kb((total.gzip * n) / all)} |`);
    }
    console.log(`\nbudget: SDK + worker <= 60 KB min + gzip: ${kb(total.gzip)} KB ${total.gzip <= 60 * 1024 ? 'OK' : 'OVER BUDGET'}`);
    if (total.gzip > 60 * 1024) process.exitCode = 1;
  }
}
