/**
 * The CamVid test set in the SegNet tutorial's layout: `test.txt` pairing `test/<name>.png` RGB
 * images with `testannot/<name>.png` label maps (classes 0-10, 11 = void), 360x480.
 */
import { join } from 'node:path';
import type { SegmentationSet } from '../loaders/segmentation.js';
import { DatasetError } from '../loaders/errors.js';
import { readFileBytes } from './files.js';
import { decodeImage } from './images.js';

export const CAMVID_CLASSES = ['Sky', 'Building', 'Pole', 'Road', 'Pavement', 'Tree', 'SignSymbol', 'Fence', 'Car', 'Pedestrian', 'Bicyclist'];
export const CAMVID_VOID = 11;

export interface ReadCamVidOptions {
  /** The first `limit` pairs of the list. @defaultValue all */
  limit?: number;
  /** The pair list inside `dir`. @defaultValue 'test.txt' */
  list?: string;
}

/** Reads the images and label maps listed in `<dir>/test.txt` (all the same size). */
export async function readCamVid(dir: string, options: ReadCamVidOptions = {}): Promise<SegmentationSet> {
  const listFile = join(dir, options.list ?? 'test.txt');
  const text = new TextDecoder().decode(await readFileBytes(listFile));
  let pairs = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean).map((l, i) => {
    const parts = l.split(/\s+/);
    if (parts.length !== 2) throw new DatasetError(listFile, `line ${i + 1}: expected '<image> <labels>', got '${l}'`);
    return parts as [string, string];
  });
  if (options.limit !== undefined) {
    if (!Number.isInteger(options.limit) || options.limit < 1) throw new DatasetError(listFile, `limit must be a positive integer, got ${options.limit}`);
    pairs = pairs.slice(0, options.limit);
  }
  if (pairs.length === 0) throw new DatasetError(listFile, 'lists no image');
  let height = 0;
  let width = 0;
  const images: Uint8Array[] = [];
  const masks: Uint8Array[] = [];
  for (const [imageName, labelName] of pairs) {
    const img = decodeImage(await readFileBytes(join(dir, imageName)), join(dir, imageName));
    const lab = decodeImage(await readFileBytes(join(dir, labelName)), join(dir, labelName));
    if (!height) ((height = img.height), (width = img.width));
    for (const [what, name, im] of [['image', imageName, img], ['label map', labelName, lab]] as const) {
      if (im.height !== height || im.width !== width) throw new DatasetError(join(dir, name), `${what} is ${im.height}x${im.width}, the first image is ${height}x${width}`);
    }
    // A grayscale label PNG decodes to equal R, G, B: the class is any channel.
    const mask = new Uint8Array(height * width);
    for (let p = 0; p < mask.length; p++) {
      const v = lab.data[p * 3];
      if (v > CAMVID_VOID) throw new DatasetError(join(dir, labelName), `label ${v} at pixel ${p}; CamVid labels are 0-10 and 11 (void)`);
      mask[p] = v;
    }
    images.push(img.data);
    masks.push(mask);
  }
  const concat = (parts: Uint8Array[]): Uint8Array => {
    const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
    let o = 0;
    for (const p of parts) (out.set(p, o), (o += p.length));
    return out;
  };
  return {
    images: concat(images),
    masks: concat(masks),
    count: pairs.length,
    height,
    width,
    numClasses: CAMVID_CLASSES.length,
    ignoreIndex: CAMVID_VOID,
    classNames: CAMVID_CLASSES,
    source: { format: 'camvid', description: `${dir} (${pairs.length} pairs from ${options.list ?? 'test.txt'})` },
  };
}
