/**
 * Axis permutations. A tensor's physical layout is described against its Keras layout: physical
 * axis i holds Keras axis `perm[i]`. NHWC data stored as NCHW has perm [0, 3, 1, 2].
 */

export type Perm = readonly number[];

export function identity(rank: number): number[] {
  return Array.from({ length: rank }, (_, i) => i);
}

export function isIdentity(p: Perm): boolean {
  return p.every((v, i) => v === i);
}

export function inverse(p: Perm): number[] {
  const out = new Array<number>(p.length);
  p.forEach((v, i) => (out[v] = i));
  return out;
}

/** Channels-last Keras layout stored channels-first: [0, r-1, 1, ..., r-2]. */
export function channelsFirst(rank: number): number[] {
  return [0, rank - 1, ...identity(rank).slice(1, rank - 1)];
}

/** The ONNX Transpose `perm` that turns data in layout `from` into layout `to` (both against the Keras layout). */
export function transposeBetween(from: Perm, to: Perm): number[] {
  const inv = inverse(from);
  return to.map((k) => inv[k]);
}

/** `perm`-transposed copy of row-major `data` of shape `dims` (output axis i = input axis perm[i]). */
export function transposeData(data: Float32Array, dims: readonly number[], perm: Perm): { data: Float32Array; dims: number[] } {
  const outDims = perm.map((p) => dims[p]);
  const inStrides = strides(dims);
  const outStrides = strides(outDims);
  const out = new Float32Array(data.length);
  const idx = new Array<number>(dims.length).fill(0);
  for (let o = 0; o < data.length; o++) {
    let rem = o;
    let src = 0;
    for (let i = 0; i < outDims.length; i++) {
      idx[i] = Math.floor(rem / outStrides[i]);
      rem -= idx[i] * outStrides[i];
      src += idx[i] * inStrides[perm[i]];
    }
    out[o] = data[src];
  }
  return { data: out, dims: outDims };
}

function strides(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) s[i] = s[i + 1] * dims[i + 1];
  return s;
}

/** A Keras axis (possibly negative) as a non-negative index. */
export function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}
