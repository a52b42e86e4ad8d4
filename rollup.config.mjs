// Shared rollup config: run from a package directory (`rollup -c ../../rollup.config.mjs`).
// One ESM entry per `exports` subpath (taken from its `@edgetta/source` condition), type
// declarations beside, and every dependency, peer and Node built-in left external.
import fs from 'node:fs';
import path from 'node:path';
import { builtinModules } from 'node:module';
import typescript from '@rollup/plugin-typescript';

const pkg = JSON.parse(fs.readFileSync(path.resolve('package.json'), 'utf8'));
const input = {};
for (const [sub, target] of Object.entries(pkg.exports ?? {})) {
  const src = typeof target === 'object' ? target['@edgetta/source'] : undefined;
  if (!src) continue;
  input[sub === '.' ? 'index' : sub.replace(/^\.\//, '').replace(/\/index$/, '') + '/index'] = src;
}
for (const [name, file] of Object.entries(typeof pkg.bin === 'object' ? pkg.bin : {})) {
  input[path.basename(file, '.js')] = file.replace(/^\.\/dist\//, './src/').replace(/\.js$/, '.ts');
  void name;
}
const deps = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})];
const external = (id) =>
  builtinModules.includes(id) || id.startsWith('node:') || deps.some((d) => id === d || id.startsWith(`${d}/`)) || id.startsWith('onnxruntime-');

/** Relative `./x.js` imports name `./x.ts` sources (TypeScript's ESM convention). */
const tsFromJs = {
  name: 'ts-from-js',
  resolveId(source, importer) {
    if (!importer || !source.startsWith('.') || !source.endsWith('.js')) return null;
    const candidate = path.resolve(path.dirname(importer), source.replace(/\.js$/, '.ts'));
    return fs.existsSync(candidate) ? candidate : null;
  },
};

export default {
  input,
  external,
  output: { dir: 'dist', format: 'es', sourcemap: true, preserveModules: false },
  plugins: [
    tsFromJs,
    typescript({
      tsconfig: path.resolve(import.meta.dirname, 'tsconfig.base.json'),
      include: [path.resolve('src/**/*.ts')],
      compilerOptions: { outDir: path.resolve('dist'), declarationDir: path.resolve('dist'), rootDir: path.resolve('src'), declaration: true, noEmit: false, sourceMap: true, customConditions: [] },
    }),
  ],
};
