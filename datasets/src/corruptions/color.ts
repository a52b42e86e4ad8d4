/**
 * skimage.color.rgb2hsv / hsv2rgb (skimage 0.19) on one float64 pixel, with the same tie-breaking
 * (blue beats green beats red when several channels equal the maximum) and numpy's float modulo.
 * Used by brightness and saturate, which edit one HSV channel and convert back.
 */

/** Edits the HSV representation of every pixel of a [0,1] HWC float array in place. */
export function mapHsv(x: Float64Array, edit: (hsv: Float64Array) => void): void {
  const hsv = new Float64Array(3);
  for (let p = 0; p < x.length; p += 3) {
    const r = x[p];
    const g = x[p + 1];
    const b = x[p + 2];
    // --- rgb2hsv
    const v = r > g ? (r > b ? r : b) : g > b ? g : b;
    const mn = r < g ? (r < b ? r : b) : g < b ? g : b;
    const delta = v - mn;
    let h = 0;
    let s = 0;
    if (delta !== 0) {
      s = delta / v;
      let hh: number;
      if (b === v) hh = 4 + (r - g) / delta;
      else if (g === v) hh = 2 + (b - r) / delta;
      else hh = (g - b) / delta;
      h = pyMod1(hh / 6);
    }
    hsv[0] = h;
    hsv[1] = s;
    hsv[2] = v;
    edit(hsv);
    // --- hsv2rgb
    const H = hsv[0];
    const S = hsv[1];
    const V = hsv[2];
    const hi6 = Math.floor(H * 6);
    const f = H * 6 - hi6;
    const pp = V * (1 - S);
    const q = V * (1 - f * S);
    const t = V * (1 - (1 - f) * S);
    // numpy: hi.astype(uint8) % 6 (hi is in [0, 6] for H in [0, 1]).
    switch (((hi6 % 6) + 6) % 6) {
      case 0:
        x[p] = V; x[p + 1] = t; x[p + 2] = pp;
        break;
      case 1:
        x[p] = q; x[p + 1] = V; x[p + 2] = pp;
        break;
      case 2:
        x[p] = pp; x[p + 1] = V; x[p + 2] = t;
        break;
      case 3:
        x[p] = pp; x[p + 1] = q; x[p + 2] = V;
        break;
      case 4:
        x[p] = t; x[p + 1] = pp; x[p + 2] = V;
        break;
      default:
        x[p] = V; x[p + 1] = pp; x[p + 2] = q;
    }
  }
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
