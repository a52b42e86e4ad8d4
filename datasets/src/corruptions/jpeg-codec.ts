/**
 * JPEG encode/decode through libjpeg-turbo (the library behind PIL's and OpenCV's JPEG support), as
 * packaged by @cornerstonejs/codec-libjpeg-turbo-8bit. Its default entry is a self-contained JavaScript
 * build (no .wasm file to locate), so it loads the same way in Node and in a browser bundle; that is what
 * `loadJpegCodec()` loads. In Node, `prepareCorruptions()` (frost-assets-node.ts) loads the package's
 * WebAssembly build of the same sources instead (identical bytes, about 5x faster), falling back to the
 * JavaScript build.
 *
 * Fidelity: decoding is bit-exact with PIL/OpenCV (same library, ISLOW IDCT, fancy upsampling).
 * Encoding uses the standard Annex K tables scaled by quality and 4:2:0 subsampling like PIL, but the
 * package's TurboJPEG entry point selects the fast integer forward DCT below quality 96 where PIL uses
 * the accurate one; that shifts some luma coefficients by one quantisation step (measured tolerance in
 * docs/corruptions.md). No npm codec reproduces PIL's encoder exactly.
 *
 * The library initialises asynchronously: `await loadJpegCodec()` once before jpeg_compression
 * (and before decoding the JPEG frost pictures).
 */

interface FrameInfo {
  width: number;
  height: number;
  bitsPerSample: number;
  componentCount: number;
  isSigned: boolean;
}
interface Encoder {
  getDecodedBuffer(frame: FrameInfo): Uint8Array;
  getEncodedBuffer(): Uint8Array | Uint8ClampedArray;
  setQuality(q: number): void;
  setProgressive(p: number): void;
  setSubSampling(s: number): void;
  encode(): void;
}
interface Decoder {
  getEncodedBuffer(size: number): Uint8Array;
  getDecodedBuffer(): Uint8Array | Uint8ClampedArray;
  getFrameInfo(): FrameInfo;
  decode(): void;
}
interface CodecModule {
  JPEGEncoder: new () => Encoder;
  JPEGDecoder: new () => Decoder;
}

/** TurboJPEG's TJSAMP_420. */
const SUBSAMPLING_420 = 2;

/** Imports one build of the codec package (its module namespace or CommonJS export: the Emscripten factory). */
export type JpegCodecImporter = () => Promise<unknown>;

/** The package's default entry: the self-contained JavaScript build (no .wasm file to locate). */
export const importJpegCodecJs: JpegCodecImporter = () => import('@cornerstonejs/codec-libjpeg-turbo-8bit');

let codec: { encoder: Encoder; decoder: Decoder } | null = null;
let loading: Promise<void> | null = null;

/** Loads libjpeg-turbo once; later calls resolve immediately. */
export function loadJpegCodec(): Promise<void> {
  return loadJpegCodecFrom([importJpegCodecJs]);
}

/**
 * Loads the first of `importers` whose build initialises; later calls (with any importers) resolve
 * once that load is done. Internal: Node's `prepareCorruptions` tries the package's WebAssembly build
 * first (about 5x faster per image than the JavaScript build; both are the same libjpeg-turbo sources
 * compiled by Emscripten, and the integer DCTs and colour conversions give identical bytes: checked on
 * all 10,000 CIFAR-10 test images at the 5 jpeg_compression qualities, and on 2,000 of them at
 * qualities 10, 95 and 100) and falls back to the JavaScript build.
 */
export function loadJpegCodecFrom(importers: readonly JpegCodecImporter[]): Promise<void> {
  if (codec) return Promise.resolve();
  loading ??= (async () => {
    let lastError: unknown = new Error('no codec build to load');
    for (const importer of importers) {
      try {
        const mod = (await importer()) as { default?: (arg?: object) => Promise<CodecModule> };
        const factory = (mod.default ?? mod) as unknown as (arg?: object) => Promise<CodecModule>;
        const m = await factory();
        codec = { encoder: new m.JPEGEncoder(), decoder: new m.JPEGDecoder() };
        return;
      } catch (e) {
        lastError = e;
      }
    }
    throw lastError;
  })().catch((e: unknown) => {
    loading = null;
    throw new Error(`loadJpegCodec: could not load @cornerstonejs/codec-libjpeg-turbo-8bit: ${String(e)}`);
  });
  return loading;
}

export function isJpegCodecLoaded(): boolean {
  return codec !== null;
}

function requireCodec(who: string): { encoder: Encoder; decoder: Decoder } {
  if (!codec) throw new Error(`${who}: the JPEG codec is not loaded; call \`await loadJpegCodec()\` (or \`await prepareCorruptions()\`) first`);
  return codec;
}

/** Decodes a baseline or progressive JPEG to interleaved RGB (or grey) bytes. */
export function decodeJpeg(bytes: Uint8Array, who = 'decodeJpeg'): { data: Uint8Array; height: number; width: number; channels: number } {
  const { decoder } = requireCodec(who);
  decoder.getEncodedBuffer(bytes.length).set(bytes);
  try {
    decoder.decode();
  } catch (e) {
    throw new Error(`${who}: not a decodable JPEG (${String(e)})`);
  }
  const info = decoder.getFrameInfo();
  // The decoded buffer is a view into the codec's heap (sometimes a Uint8ClampedArray): copy it into a
  // plain Uint8Array before the next call can move it.
  return { data: new Uint8Array(decoder.getDecodedBuffer()), height: info.height, width: info.width, channels: info.componentCount };
}

/**
 * Encodes to JPEG bytes (baseline, 4:2:0, `quality`).
 * The package sizes its output buffer from the frame description (width * height * 3 * bytes per
 * sample) and fails, or worse, when the JPEG does not fit. Declaring wider samples than we pass gives
 * it room for libjpeg-turbo's worst case (3 bytes per MCU-padded pixel + 2048); only the first
 * width * height * 3 bytes are read as the 8-bit RGB image.
 */
export function encodeJpeg(rgb: Uint8Array, height: number, width: number, quality: number, who = 'encodeJpeg'): Uint8Array {
  const { encoder } = encodeInto(rgb, height, width, quality, who);
  return new Uint8Array(encoder.getEncodedBuffer());
}

/** Runs the encoder; the JPEG bytes are then in `encoder.getEncodedBuffer()` (a view into the codec's heap). */
function encodeInto(rgb: Uint8Array, height: number, width: number, quality: number, who: string): { encoder: Encoder; decoder: Decoder } {
  const c = requireCodec(who);
  const { encoder } = c;
  const raw = width * height * 3;
  const worst = Math.ceil(width / 16) * 16 * Math.ceil(height / 16) * 16 * 3 + 2048;
  const bytesPerSample = Math.max(1, Math.ceil(worst / raw));
  encoder.setQuality(quality);
  encoder.setProgressive(0);
  encoder.setSubSampling(SUBSAMPLING_420);
  encoder.getDecodedBuffer({ width, height, bitsPerSample: 8 * bytesPerSample, componentCount: 3, isSigned: false }).set(rgb);
  encoder.encode();
  return c;
}

/** Encode then decode an RGB image at `quality`, as PIL's `save(quality=q)` followed by `Image.open`. */
export function jpegRoundTrip(rgb: Uint8Array, height: number, width: number, quality: number, who = 'jpeg_compression'): Uint8Array {
  const { encoder, decoder } = encodeInto(rgb, height, width, quality, who);
  // Hand the JPEG bytes from the encoder's heap buffer to the decoder's without an intermediate copy.
  // Sizing the decoder's buffer may grow the heap (detaching earlier views), so take the encoder's view after.
  const size = encoder.getEncodedBuffer().length;
  decoder.getEncodedBuffer(size).set(encoder.getEncodedBuffer());
  try {
    decoder.decode();
  } catch (e) {
    throw new Error(`${who}: not a decodable JPEG (${String(e)})`);
  }
  return new Uint8Array(decoder.getDecodedBuffer());
}
