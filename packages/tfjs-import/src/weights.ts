/**
 * The weights of a TF.js LayersModel: a manifest of groups, each group a list of weight specs
 * whose bytes are laid out back to back across the group's shard files (in `paths` order).
 */

/** One weight in a manifest group (`weightsManifest[g].weights[i]` in model.json). */
export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  /** Set when the converter quantized the weight (`--quantize_uint8/uint16/float16`). */
  quantization?: { dtype: string; scale?: number; min?: number; original_dtype?: string };
}

/** One manifest group: shard files and the weights stored in them. */
export interface WeightGroup {
  paths: string[];
  weights: WeightSpec[];
}

/** A decoded weight, as float32 in its Keras (TensorFlow) layout. */
export interface Weight {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** The bytes of one shard file, with the name errors use. */
export interface Shard {
  path: string;
  bytes: Uint8Array;
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2, int8: 1 };

function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Decodes every weight of every group. `shards[g]` are group g's files in manifest order. A group
 * whose files are too short is an error naming the file where the first missing weight lies.
 */
export function decodeWeights(groups: readonly WeightGroup[], shards: readonly (readonly Shard[])[], source: string): Map<string, Weight> {
  const out = new Map<string, Weight>();
  groups.forEach((group, g) => {
    const files = shards[g] ?? [];
    const total = files.reduce((a, s) => a + s.bytes.length, 0);
    const bytes = concat(files);
    let offset = 0;
    for (const spec of group.weights) {
      const storedAs = spec.quantization?.dtype ?? spec.dtype;
      const size = BYTES[storedAs];
      if (size === undefined) throw new Error(`${source}: weight '${spec.name}' has dtype '${storedAs}', which the importer cannot read (float32, int32, bool or quantized uint8/uint16/float16)`);
      const length = elementCount(spec.shape) * size;
      if (offset + length > total) {
        throw new Error(
          `${source}: weight '${spec.name}' [${spec.shape.join(', ')}] needs bytes ${offset}..${offset + length} of weight group ${g} ` +
            `(${group.paths.join(', ')}), but its shards hold only ${total} bytes: '${culprit(files, group.paths)}' is missing or truncated`,
        );
      }
      out.set(spec.name, { name: spec.name, shape: [...spec.shape], data: decodeOne(bytes.subarray(offset, offset + length), spec, storedAs) });
      offset += length;
    }
  });
  return out;
}

function decodeOne(raw: Uint8Array, spec: WeightSpec, storedAs: string): Float32Array {
  // Copy into an aligned buffer: shard offsets need not be multiples of 4.
  const buf = raw.slice().buffer;
  const q = spec.quantization;
  switch (storedAs) {
    case 'float32':
      return new Float32Array(buf);
    case 'int32':
      return Float32Array.from(new Int32Array(buf));
    case 'bool':
    case 'int8':
      return Float32Array.from(storedAs === 'int8' ? new Int8Array(buf) : new Uint8Array(buf));
    case 'float16':
      return Float32Array.from(new Uint16Array(buf), halfToFloat);
    case 'uint8':
    case 'uint16': {
      // Affine dequantization as tfjs does it: value = q * scale + min.
      const ints = storedAs === 'uint8' ? new Uint8Array(buf) : new Uint16Array(buf);
      const scale = q?.scale ?? 1;
      const min = q?.min ?? 0;
      return Float32Array.from(ints, (v) => v * scale + min);
    }
    default:
      throw new Error(`weight '${spec.name}': unreadable dtype '${storedAs}'`);
  }
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

function concat(files: readonly Shard[]): Uint8Array {
  if (files.length === 1) return files[0].bytes;
  const out = new Uint8Array(files.reduce((a, s) => a + s.bytes.length, 0));
  let at = 0;
  for (const s of files) {
    out.set(s.bytes, at);
    at += s.bytes.length;
  }
  return out;
}

/** The shard to blame for a short group: the first one never supplied, else the last (bytes are missing at the end). */
function culprit(files: readonly Shard[], paths: readonly string[]): string {
  if (files.length < paths.length) return paths[files.length];
  return files.at(-1)?.path ?? paths[0] ?? '(no shard)';
}
