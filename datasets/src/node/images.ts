/**
 * Users' own images: a folder with one sub-folder per class (the torchvision ImageFolder layout:
 * class names sorted, label = position), holding PNG or JPEG files; or a NumPy images array plus
 * a labels array. Decoding is pure JS (fast-png, jpeg-js); every image becomes 8-bit RGB
 * (grayscale is expanded, alpha dropped, 16-bit PNG truncated to its high byte).
 */
import { readdir } from 'node:fs/promises';
import { extname, join, relative } from 'node:path';
import { convertIndexedToRgb, decode as decodePng } from 'fast-png';
import jpeg from 'jpeg-js';
import { labeledImagesFromArrays } from '../loaders/arrays.js';
import { DatasetError } from '../loaders/errors.js';
import { readNpy } from '../loaders/npy.js';
import type { ImageU8 } from '../corruptions/types.js';
import type { LabeledImages } from '../loaders/types.js';
import { fileError, readFileBytes } from './files.js';

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg']);

/** Decodes a PNG or JPEG file's bytes to 8-bit RGB HWC. `name` is used for the format and in errors. */
export function decodeImage(bytes: Uint8Array, name: string): ImageU8 {
  const ext = extname(name).toLowerCase();
  try {
    if (ext === '.png') return pngToRgb(bytes);
    if (ext === '.jpg' || ext === '.jpeg') {
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, maxMemoryUsageInMB: 1024 });
      return { data: img.data, height: img.height, width: img.width };
    }
  } catch (e) {
    throw new DatasetError(name, `cannot decode image (${e instanceof Error ? e.message : String(e)})`);
  }
  throw new DatasetError(name, `unsupported image format '${ext}' (PNG and JPEG are read)`);
}

function pngToRgb(bytes: Uint8Array): ImageU8 {
  const png = decodePng(bytes);
  const { width, height } = png;
  let data = png.data;
  let channels = png.channels;
  if (png.palette) {
    data = convertIndexedToRgb(png);
    channels = png.palette[0]?.length ?? 3;
  }
  const n = width * height;
  const out = new Uint8Array(n * 3);
  // Bring any bit depth to 8 bits: 16-bit keeps the high byte, 1/2/4-bit gray is stretched.
  const depth = png.palette ? 8 : png.depth;
  const max = (1 << depth) - 1;
  const to8 = depth === 8 ? (v: number) => v : depth === 16 ? (v: number) => v >> 8 : (v: number) => Math.round((v * 255) / max);
  const color = channels >= 3;
  for (let p = 0; p < n; p++) {
    const s = p * channels;
    if (color) {
      out[3 * p] = to8(data[s]);
      out[3 * p + 1] = to8(data[s + 1]);
      out[3 * p + 2] = to8(data[s + 2]);
    } else {
      out[3 * p] = out[3 * p + 1] = out[3 * p + 2] = to8(data[s]);
    }
  }
  return { data: out, height, width };
}

export interface ImageFolderOptions {
  /** Require this size (otherwise the first image's size, and every image must match it). */
  size?: { height: number; width: number };
}

/** Reads `root/<class>/<image>.{png,jpg,jpeg}`; classes sorted by name, files sorted within a class. */
export async function readImageFolder(root: string, options: ImageFolderOptions = {}): Promise<LabeledImages> {
  let entries;
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch (e) {
    throw fileError(root, e);
  }
  const classNames = entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
  if (classNames.length === 0) throw new DatasetError(root, 'no class sub-folders (expected <root>/<class name>/<image files>)');
  const files: { path: string; label: number }[] = [];
  for (let label = 0; label < classNames.length; label++) {
    const dir = join(root, classNames[label]);
    const names = (await readdir(dir, { withFileTypes: true }))
      .filter((e) => e.isFile() && IMAGE_EXTENSIONS.has(extname(e.name).toLowerCase()))
      .map((e) => e.name)
      .sort();
    for (const n of names) files.push({ path: join(dir, n), label });
  }
  if (files.length === 0) throw new DatasetError(root, 'no PNG or JPEG images in the class sub-folders');
  let height = options.size?.height ?? 0;
  let width = options.size?.width ?? 0;
  let images: Uint8Array | null = null;
  let first = '';
  const labels = new Int32Array(files.length);
  for (let i = 0; i < files.length; i++) {
    const img = decodeImage(await readFileBytes(files[i].path), files[i].path);
    if (images === null) {
      if (height === 0) {
        height = img.height;
        width = img.width;
        first = files[i].path;
      }
      images = new Uint8Array(files.length * height * width * 3);
    }
    if (img.height !== height || img.width !== width) {
      const ref = first ? `the first image (${relative(root, first)}) is` : 'the required size is';
      throw new DatasetError(files[i].path, `image is ${img.width}x${img.height} but ${ref} ${width}x${height}; all images must share one size`);
    }
    images.set(img.data, i * height * width * 3);
    labels[i] = files[i].label;
  }
  return {
    images: images!,
    labels,
    count: files.length,
    height,
    width,
    numClasses: classNames.length,
    classNames,
    source: { format: 'image-folder', description: `${root} (${files.length} images, ${classNames.length} classes)` },
  };
}

/** Reads a uint8 [N, H, W, 3] (or grayscale) `.npy` images file and an integer labels `.npy` file. */
export async function readNpyImages(imagesPath: string, labelsPath: string): Promise<LabeledImages> {
  const images = readNpy(await readFileBytes(imagesPath), imagesPath);
  const labels = readNpy(await readFileBytes(labelsPath), labelsPath);
  const set = labeledImagesFromArrays(images, labels, { imagesName: imagesPath, labelsName: labelsPath });
  set.source = { format: 'npy', description: imagesPath, files: [imagesPath, labelsPath] };
  return set;
}
