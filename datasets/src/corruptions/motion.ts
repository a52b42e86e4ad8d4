/**
 * ImageMagick 6 `MotionBlurImage(radius, sigma, angle)` (Q16, non-HDRI, as wand calls it in the
 * reference's motion_blur and snow), on 8-bit data:
 * - kernel width = 2 * ceil(radius) + 1; one-sided Gaussian weights exp(-i^2 / (2 sigma^2)), i = 0..width-1,
 *   normalised to sum 1 (so the blur trails behind each pixel, it is not centred);
 * - tap i reads the pixel at (x + ceil(i * cos(a) - 0.5), y + ceil(i * sin(a) - 0.5)) with edge clamping
 *   (ImageMagick's default "edge" virtual pixels);
 * - samples are 16-bit quanta (8-bit value * 257); the sum is clamped and rounded to a quantum, then the
 *   PNG writer truncates it back to 8 bits (floor(q / 257)), as the reference's PNG round trip does.
 */

const SQ2PI = 2.50662827463100024161235523934010416269302368164062;
const EPSILON = 1.0e-12; // MagickEpsilon (Q16 build)

export interface MotionKernel {
  weights: Float64Array;
  dx: Int32Array;
  dy: Int32Array;
}

/** GetMotionBlurKernel + the tap offsets of MotionBlurImage. */
export function motionKernel(radius: number, sigma: number, angleDeg: number): MotionKernel {
  // GetOptimalKernelWidth1D for a positive radius (the reference always passes one).
  if (!(radius > EPSILON)) throw new RangeError(`motionKernel: radius must be positive, got ${radius}`);
  const width = 2 * Math.ceil(radius) + 1;
  const s = Math.abs(sigma) < EPSILON ? EPSILON : sigma;
  const weights = new Float64Array(width);
  let normalize = 0;
  for (let i = 0; i < width; i++) {
    weights[i] = Math.exp(-(i * i) / (2 * s * s)) / (SQ2PI * s);
    normalize += weights[i];
  }
  for (let i = 0; i < width; i++) weights[i] /= normalize;
  const rad = (Math.PI * angleDeg) / 180;
  const px = width * Math.sin(rad);
  const py = width * Math.cos(rad);
  const hyp = Math.hypot(px, py);
  const dx = new Int32Array(width);
  const dy = new Int32Array(width);
  for (let i = 0; i < width; i++) {
    dx[i] = Math.ceil((i * py) / hyp - 0.5);
    dy[i] = Math.ceil((i * px) / hyp - 0.5);
  }
  return { weights, dx, dy };
}

/** Motion-blurs an interleaved uint8 image with `channels` channels (3 for RGB, 1 for grey). */
export function motionBlurU8(src: Uint8Array, height: number, width: number, channels: number, k: MotionKernel): Uint8Array {
  const out = new Uint8Array(src.length);
  const n = k.weights.length;
  const { weights, dx, dy } = k;
  const acc = new Float64Array(channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      acc.fill(0);
      for (let i = 0; i < n; i++) {
        let sx = x + dx[i];
        let sy = y + dy[i];
        sx = sx < 0 ? 0 : sx >= width ? width - 1 : sx;
        sy = sy < 0 ? 0 : sy >= height ? height - 1 : sy;
        const p = (sy * width + sx) * channels;
        const wgt = weights[i];
        for (let c = 0; c < channels; c++) acc[c] += wgt * (src[p + c] * 257);
      }
      const o = (y * width + x) * channels;
      for (let c = 0; c < channels; c++) out[o + c] = quantumToChar(clampToQuantum(acc[c]));
    }
  }
  return out;
}

function clampToQuantum(v: number): number {
  if (v <= 0) return 0;
  if (v >= 65535) return 65535;
  return Math.trunc(v + 0.5);
}

/** The PNG writer scales a quantum to 8 bits by truncation (q * 255 / 65535 = floor(q / 257)), measured against wand. */
function quantumToChar(q: number): number {
  return Math.floor(q / 257);
}
