/**
 * skimage.color.rgb2hsv / hsv2rgb (skimage 0.19) on float64 pixels (x / 255), with the same
 * tie-breaking (blue beats green beats red when several channels equal the maximum) and numpy's float
 * modulo. Used by brightness and saturate, which edit one HSV channel and convert back.
 */

/** v / 255 for v = 0..255 (float64, as toUnitFloat). */
const UNIT = (() => {
  const t = new Float64Array(256);
  for (let v = 0; v < 256; v++) t[v] = v / 255;
  return t;
})();

/**
 * For each pixel of an RGB uint8 image, x = rgb / 255 -> rgb2hsv -> edit one channel -> hsv2rgb, returned
 * through unitToU8 (clip, * 255, truncate). The two edits the corruptions make:
 * - 'value' (brightness): V = clip(V + b, 0, 1);
 * - 'saturation' (saturate): S = clip(S * k + b, 0, 1).
 */
export function hsvEditU8(rgb: Uint8Array, channel: 'value' | 'saturation', k: number, b: number): Uint8Array {
  const out = new Uint8Array(rgb.length);
  const editValue = channel === 'value';
  for (let p = 0; p < rgb.length; p += 3) {
    const r = UNIT[rgb[p]];
    const g = UNIT[rgb[p + 1]];
    const bl = UNIT[rgb[p + 2]];
    // --- rgb2hsv
    const v = r > g ? (r > bl ? r : bl) : g > bl ? g : bl;
    const mn = r < g ? (r < bl ? r : bl) : g < bl ? g : bl;
    const delta = v - mn;
    let h = 0;
    let s = 0;
    if (delta !== 0) {
      s = delta / v;
      let hh: number;
      if (bl === v) hh = 4 + (r - g) / delta;
      else if (g === v) hh = 2 + (bl - r) / delta;
      else hh = (g - bl) / delta;
      h = pyMod1(hh / 6);
    }
    let S = s;
    let V = v;
    if (editValue) {
      const e = v + b;
      V = e < 0 ? 0 : e > 1 ? 1 : e;
    } else {
      const e = s * k + b;
      S = e < 0 ? 0 : e > 1 ? 1 : e;
    }
    // --- hsv2rgb
    const hi6 = Math.floor(h * 6);
    const f = h * 6 - hi6;
    const pp = V * (1 - S);
    const q = V * (1 - f * S);
    const t = V * (1 - (1 - f) * S);
    let o0: number;
    let o1: number;
    let o2: number;
    switch (((hi6 % 6) + 6) % 6) {
      case 0:
        o0 = V; o1 = t; o2 = pp;
        break;
      case 1:
        o0 = q; o1 = V; o2 = pp;
        break;
      case 2:
        o0 = pp; o1 = V; o2 = t;
        break;
      case 3:
        o0 = pp; o1 = q; o2 = V;
        break;
      case 4:
        o0 = t; o1 = pp; o2 = V;
        break;
      default:
        o0 = V; o1 = pp; o2 = q;
    }
    out[p] = o0 > 0 ? (o0 < 1 ? (o0 * 255) | 0 : 255) : 0;
    out[p + 1] = o1 > 0 ? (o1 < 1 ? (o1 * 255) | 0 : 255) : 0;
    out[p + 2] = o2 > 0 ? (o2 < 1 ? (o2 * 255) | 0 : 255) : 0;
  }
  return out;
}

/** numpy's `a % 1.0` for floats: the result takes the divisor's sign. */
function pyMod1(a: number): number {
  const m = a % 1;
  return m < 0 ? m + 1 : m === 0 ? 0 : m;
}

/** OpenCV COLOR_RGB2GRAY on float data: 0.299 R + 0.587 G + 0.114 B. */
export function grayRgb(r: number, g: number, b: number): number {
  return 0.299 * r + 0.587 * g + 0.114 * b;
}
