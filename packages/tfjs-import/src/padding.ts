/**
 * TensorFlow's window padding, made explicit for ONNX. 'same' pads a total of
 * max((ceil(in/s) - 1) * s + (k - 1) * d + 1 - in, 0) and puts the odd element at the end
 * (bottom/right), which differs from a symmetric pad for even kernels or strides.
 */

export interface Window {
  kernel: number[];
  strides: number[];
  dilations: number[];
  padding: string;
}

export interface Padded {
  /** ONNX `pads`: all begins, then all ends. Absent when a spatial size is unknown. */
  pads?: number[];
  /** ONNX `auto_pad` used instead of `pads` for unknown sizes (SAME_UPPER is TF's rule). */
  autoPad?: string;
  /** Output spatial sizes (null when unknown). */
  out: (number | null)[];
}

export function windowPadding(inSizes: readonly (number | null)[], w: Window, where: string): Padded {
  const padding = w.padding.toLowerCase();
  if (padding !== 'same' && padding !== 'valid') throw new Error(`${where}: padding '${w.padding}' is not supported (same, valid)`);
  const begins: number[] = [];
  const ends: number[] = [];
  const out: (number | null)[] = [];
  let unknown = false;
  inSizes.forEach((size, i) => {
    const k = (w.kernel[i] - 1) * w.dilations[i] + 1;
    const s = w.strides[i];
    if (size === null) {
      unknown = true;
      out.push(null);
      return;
    }
    if (padding === 'valid') {
      begins.push(0);
      ends.push(0);
      out.push(Math.floor((size - k) / s) + 1);
      return;
    }
    const o = Math.ceil(size / s);
    const total = Math.max((o - 1) * s + k - size, 0);
    begins.push(Math.floor(total / 2));
    ends.push(total - Math.floor(total / 2));
    out.push(o);
  });
  if (unknown) return { autoPad: padding === 'same' ? 'SAME_UPPER' : 'VALID', out };
  return { pads: [...begins, ...ends], out };
}

/**
 * ONNX padding attributes of a window op. A pool reading a Pad node's output gets `auto_pad`
 * (VALID, or SAME_UPPER which is TF's 'same') instead of `pads`: onnxruntime's PadFusion folds a
 * zero Pad into a following MaxPool/AveragePool's `pads`, where padding acts as -inf / is left out
 * of the average, which changes the result (and fails once pads reach the kernel size); it leaves
 * nodes with an `auto_pad` alone. Convs keep explicit pads, since folding zeros into them is exact.
 */
export function padAttributes(p: Padded, readsPad = false): Record<string, number[] | string> {
  if (p.autoPad) return { auto_pad: p.autoPad };
  if (readsPad) return { auto_pad: p.pads!.every((v) => v === 0) ? 'VALID' : 'SAME_UPPER' };
  return { pads: p.pads! };
}

/** `kernel_size`, `strides`, ... as a per-axis list (Keras allows a single int). */
export function perAxis(v: unknown, n: number, fallback: number): number[] {
  if (v === undefined || v === null) return new Array<number>(n).fill(fallback);
  if (typeof v === 'number') return new Array<number>(n).fill(v);
  if (Array.isArray(v) && v.length === n) return v.map(Number);
  if (Array.isArray(v) && v.length === 1) return new Array<number>(n).fill(Number(v[0]));
  throw new Error(`expected ${n} values, got ${JSON.stringify(v)}`);
}
