/**
 * uint8 HWC images to the float tensor a model expects. The default is what the CIFAR models of
 * this project take (NCHW float32 RGB in [0, 1], normalization inside the graph); models that
 * normalize outside the graph set `mean`/`std`, NHWC models set `layout`, Caffe-style models
 * `channelOrder: 'bgr'` and `scale: 1`. Each output value is `(u8 * scale - mean[c]) / std[c]`,
 * computed through a 256-entry table per channel (no per-pixel arithmetic).
 */

export interface Preprocess {
  /** 'nchw' (default) or 'nhwc'. */
  layout: 'nchw' | 'nhwc';
  /** Multiplies the uint8 value first. @defaultValue 1/255 */
  scale: number;
  /** Per-channel mean subtracted after scaling, in output channel order. @defaultValue [0, 0, 0] */
  mean: [number, number, number];
  /** Per-channel divisor after subtracting the mean. @defaultValue [1, 1, 1] */
  std: [number, number, number];
  /** Output channel order. @defaultValue 'rgb' */
  channelOrder: 'rgb' | 'bgr';
}

const DEFAULTS: Preprocess = { layout: 'nchw', scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1], channelOrder: 'rgb' };
export const DEFAULT_PREPROCESS: Readonly<Preprocess> = Object.freeze(DEFAULTS);

/** ImageNet statistics for torchvision-style models that normalize outside the graph. */
export const IMAGENET_MEAN_STD: Pick<Preprocess, 'mean' | 'std'> = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

/** Fills in defaults and validates; the result is plain JSON for manifests. */
export function resolvePreprocess(p: Partial<Preprocess> = {}): Preprocess {
  const r: Preprocess = {
    layout: p.layout ?? DEFAULT_PREPROCESS.layout,
    scale: p.scale ?? DEFAULT_PREPROCESS.scale,
    mean: [...(p.mean ?? DEFAULT_PREPROCESS.mean)] as Preprocess['mean'],
    std: [...(p.std ?? DEFAULT_PREPROCESS.std)] as Preprocess['std'],
    channelOrder: p.channelOrder ?? DEFAULT_PREPROCESS.channelOrder,
  };
  if (r.layout !== 'nchw' && r.layout !== 'nhwc') throw new RangeError(`preprocess.layout must be 'nchw' or 'nhwc', got ${String(r.layout)}`);
  if (r.channelOrder !== 'rgb' && r.channelOrder !== 'bgr') throw new RangeError(`preprocess.channelOrder must be 'rgb' or 'bgr'`);
  if (r.mean.length !== 3 || r.std.length !== 3) throw new RangeError('preprocess.mean and preprocess.std need 3 values');
  if (r.std.some((s) => !(s !== 0 && Number.isFinite(s)))) throw new RangeError(`preprocess.std must be finite and non-zero, got [${r.std.join(', ')}]`);
  if (!Number.isFinite(r.scale)) throw new RangeError(`preprocess.scale must be finite, got ${r.scale}`);
  return r;
}

/**
 * Converts `count` packed HWC RGB uint8 images to float32 in the requested layout. Writes into
 * `out` when given (it must hold count * 3 * height * width values).
 */
export function toFloat32(
  images: Uint8Array,
  count: number,
  height: number,
  width: number,
  preprocess: Partial<Preprocess> = {},
  out?: Float32Array,
): Float32Array {
  const p = resolvePreprocess(preprocess);
  const plane = height * width;
  const n = count * 3 * plane;
  if (images.length < n) throw new RangeError(`toFloat32: ${images.length} bytes for ${count} images of ${height}x${width}x3`);
  const dst = out ?? new Float32Array(n);
  if (dst.length < n) throw new RangeError(`toFloat32: output holds ${dst.length} values, ${n} needed`);
  // Table per output channel; `srcOf[oc]` is the input (RGB) channel feeding output channel oc.
  const srcOf = p.channelOrder === 'rgb' ? [0, 1, 2] : [2, 1, 0];
  const lut = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) for (let v = 0; v < 256; v++) lut[c * 256 + v] = (v * p.scale - p.mean[c]) / p.std[c];
  if (p.layout === 'nhwc') {
    for (let i = 0; i < n; i += 3) {
      dst[i] = lut[images[i + srcOf[0]]];
      dst[i + 1] = lut[256 + images[i + srcOf[1]]];
      dst[i + 2] = lut[512 + images[i + srcOf[2]]];
    }
    return dst;
  }
  for (let b = 0; b < count; b++) {
    const src = b * 3 * plane;
    for (let c = 0; c < 3; c++) {
      const o = src + c * plane;
      const s = src + srcOf[c];
      const base = c * 256;
      for (let q = 0; q < plane; q++) dst[o + q] = lut[base + images[s + 3 * q]];
    }
  }
  return dst;
}
