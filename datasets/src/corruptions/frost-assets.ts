/**
 * The six frost pictures of hendrycks/robustness (Apache-2.0), which frost overlays. Browser-safe:
 * the caller hands over the file bytes (fetched, bundled or read from disk); in Node,
 * `loadShippedFrostPictures()` from frost-assets-node.ts reads the copies in datasets/assets/frost.
 *
 * Decoding matches the reference's cv2.imread: PNGs through fast-png (alpha dropped, not blended),
 * JPEGs through libjpeg-turbo (the decoder OpenCV uses), so pixels are identical.
 */
import { TableCache } from './table-cache.js';
import { decode as decodePng } from 'fast-png';
import { decodeJpeg, loadJpegCodec } from './jpeg-codec.js';
import { cvResizeLinear } from './resample.js';

/** The file names, in the reference's order; the reference only ever picks the first five. */
export const FROST_FILES = ['frost1.png', 'frost2.png', 'frost3.png', 'frost4.jpg', 'frost5.jpg', 'frost6.jpg'] as const;

/** A decoded RGB picture. */
export interface RgbPicture {
  data: Uint8Array;
  height: number;
  width: number;
}

let pictures: RgbPicture[] | null = null;
const resized = new TableCache<RgbPicture>(64);

/**
 * Decodes and installs the frost pictures, given the bytes of the six files in FROST_FILES order
 * (PNG or JPEG, detected from the bytes).
 */
export async function loadFrostPictures(files: ArrayLike<Uint8Array>): Promise<void> {
  if (files.length !== FROST_FILES.length) {
    throw new RangeError(`loadFrostPictures: expected the ${FROST_FILES.length} files ${FROST_FILES.join(', ')}, got ${files.length}`);
  }
  const decoded: RgbPicture[] = [];
  for (let i = 0; i < files.length; i++) decoded.push(await decodePicture(files[i], FROST_FILES[i]));
  pictures = decoded;
  resized.clear();
}

export function frostPicturesLoaded(): boolean {
  return pictures !== null;
}

async function decodePicture(bytes: Uint8Array, name: string): Promise<RgbPicture> {
  if (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) {
    const png = decodePng(bytes);
    if (png.depth !== 8) throw new Error(`${name}: only 8-bit PNGs are supported, got ${png.depth}-bit`);
    const ch = png.channels;
    if (ch < 3) throw new Error(`${name}: expected an RGB(A) PNG, got ${ch} channel(s)`);
    const n = png.width * png.height;
    const src = png.data as Uint8Array;
    const data = new Uint8Array(n * 3);
    for (let p = 0; p < n; p++) {
      data[p * 3] = src[p * ch];
      data[p * 3 + 1] = src[p * ch + 1];
      data[p * 3 + 2] = src[p * ch + 2];
    }
    return { data, height: png.height, width: png.width };
  }
  if (bytes[0] === 0xff && bytes[1] === 0xd8) {
    await loadJpegCodec();
    const jpg = decodeJpeg(bytes, name);
    if (jpg.channels !== 3) throw new Error(`${name}: expected a colour JPEG, got ${jpg.channels} channel(s)`);
    return { data: jpg.data, height: jpg.height, width: jpg.width };
  }
  throw new Error(`${name}: neither a PNG nor a JPEG file`);
}

/**
 * Frost picture `index` resized by `scale` with cv2.resize(INTER_LINEAR) semantics (cached). The reference
 * uses scale 0.2 for 32x32 images.
 */
export function frostPicture(index: number, scale: number): RgbPicture {
  if (!pictures) {
    throw new Error('frost: the frost pictures are not loaded; call `await loadFrostPictures(bytes)` (in Node: `await loadShippedFrostPictures()` from frost-assets-node) first');
  }
  const src = pictures[index];
  return resized.get(`${index}:${scale}`, () => cvResizeLinear(src.data, src.height, src.width, 3, scale));
}
