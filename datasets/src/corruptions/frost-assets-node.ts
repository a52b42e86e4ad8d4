/**
 * Node-only helper: reads the frost pictures shipped in datasets/assets/frost and installs them
 * (frost-assets.ts stays browser-safe; browsers pass the bytes to loadFrostPictures themselves).
 */
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { FROST_FILES, frostPicturesLoaded, loadFrostPictures } from './frost-assets.js';
import { importJpegCodecJs, loadJpegCodecFrom } from './jpeg-codec.js';

/** Where the pictures are: next to the sources (src/corruptions) or the bundle (dist/...). */
function defaultFrostDir(): string {
  const candidates = ['../../assets/frost/', '../assets/frost/', '../../../assets/frost/'].map((p) => fileURLToPath(new URL(p, import.meta.url)));
  const found = candidates.find((dir) => existsSync(join(dir, FROST_FILES[0])));
  if (!found) throw new Error(`loadShippedFrostPictures: frost pictures not found (looked in ${candidates.join(', ')}); pass their folder explicitly`);
  return found;
}

/** Reads frost1.png .. frost6.jpg from `dir` (default: the package's assets/frost) and installs them. */
export async function loadShippedFrostPictures(dir?: string): Promise<void> {
  const folder = dir ?? defaultFrostDir();
  // Read in parallel, but report the first missing file in list order (Promise.all rejects with whichever fails first).
  const reads = await Promise.allSettled(FROST_FILES.map((name) => readFile(join(folder, name))));
  const files = reads.map((r, i) => {
    if (r.status === 'rejected') throw new Error(`loadShippedFrostPictures: cannot read ${join(folder, FROST_FILES[i])}: ${(r.reason as Error).message}`);
    return new Uint8Array(r.value);
  });
  await loadFrostPictures(files);
}

/**
 * Everything the asynchronous corruptions need in Node: the JPEG codec and the shipped frost pictures
 * (kept if frost pictures are already loaded, unless `frostDir` names a folder to load).
 * The codec is the package's WebAssembly build (Node always finds its .wasm file next to the glue),
 * with the JavaScript build as fallback; both give identical bytes (see jpeg-codec.ts). A codec loaded
 * earlier by `loadJpegCodec()` is kept.
 */
export async function prepareCorruptions(options: { frostDir?: string } = {}): Promise<void> {
  await loadJpegCodecFrom([() => import('@cornerstonejs/codec-libjpeg-turbo-8bit/wasmjs'), importJpegCodecJs]);
  if (options.frostDir !== undefined || !frostPicturesLoaded()) await loadShippedFrostPictures(options.frostDir);
}
