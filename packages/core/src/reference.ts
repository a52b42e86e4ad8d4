import type { Ops } from './ops.js';

/** A dense float tensor for the reference interpreter. */
export interface NDArray {
  data: Float64Array;
  shape: number[];
}

export function nd(data: ArrayLike<number>, shape: number[]): NDArray {
  const size = shape.reduce((a, b) => a * b, 1);
  if (size !== data.length) throw new Error(`nd: ${data.length} values for shape [${shape.join(', ')}]`);
  return { data: Float64Array.from(data), shape: [...shape] };
}

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function strides(shape: number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

function norm(axes: number[], rank: number): number[] {
  return axes.map((a) => (a < 0 ? a + rank : a));
}

function broadcast(a: NDArray, b: NDArray, f: (x: number, y: number) => number): NDArray {
  const rank = Math.max(a.shape.length, b.shape.length);
  const as = [...Array(rank - a.shape.length).fill(1), ...a.shape];
  const bs = [...Array(rank - b.shape.length).fill(1), ...b.shape];
  const shape = as.map((d, i) => {
    if (d !== bs[i] && d !== 1 && bs[i] !== 1) throw new Error(`broadcast: shapes [${a.shape}] and [${b.shape}] are incompatible`);
    return Math.max(d, bs[i]);
  });
  const ast = strides(as).map((s, i) => (as[i] === 1 ? 0 : s));
  const bst = strides(bs).map((s, i) => (bs[i] === 1 ? 0 : s));
  const out = new Float64Array(size(shape));
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < out.length; o++) {
    let ai = 0;
    let bi = 0;
    for (let d = 0; d < rank; d++) {
      ai += idx[d] * ast[d];
      bi += idx[d] * bst[d];
    }
    out[o] = f(a.data[ai], b.data[bi]);
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return { data: out, shape };
}

function map(x: NDArray, f: (v: number) => number): NDArray {
  return { data: x.data.map(f), shape: [...x.shape] };
}

function reduce(x: NDArray, axesIn: number[], keepDims: boolean, mean: boolean): NDArray {
  const axes = norm(axesIn, x.shape.length);
  const outShapeKeep = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const out = new Float64Array(size(outShapeKeep));
  const ost = strides(outShapeKeep).map((s, i) => (axes.includes(i) ? 0 : s));
  const idx = new Array<number>(x.shape.length).fill(0);
  for (let i = 0; i < x.data.length; i++) {
    let o = 0;
    for (let d = 0; d < idx.length; d++) o += idx[d] * ost[d];
    out[o] += x.data[i];
    for (let d = idx.length - 1; d >= 0; d--) {
      if (++idx[d] < x.shape[d]) break;
      idx[d] = 0;
    }
  }
  if (mean) {
    const n = axes.reduce((a, ax) => a * x.shape[ax], 1);
    for (let i = 0; i < out.length; i++) out[i] /= n;
  }
  return { data: out, shape: keepDims ? outShapeKeep : x.shape.filter((_, i) => !axes.includes(i)) };
}

/**
 * The typed-array reference interpreter of {@link Ops}: float64 arithmetic, straightforward
 * loops, the textbook definitions (two-pass variance). It is the living definition of what a
 * method computes; compiled graphs are tested against it.
 */
export const referenceOps: Ops<NDArray> = {
  scalar: (v) => ({ data: Float64Array.of(v), shape: [] }),
  add: (a, b) => broadcast(a, b, (x, y) => x + y),
  sub: (a, b) => broadcast(a, b, (x, y) => x - y),
  mul: (a, b) => broadcast(a, b, (x, y) => x * y),
  div: (a, b) => broadcast(a, b, (x, y) => x / y),
  sqrt: (x) => map(x, Math.sqrt),
  exp: (x) => map(x, Math.exp),
  log: (x) => map(x, Math.log),
  abs: (x) => map(x, Math.abs),
  reduceMean: (x, axes, keepDims) => reduce(x, axes, keepDims, true),
  reduceSum: (x, axes, keepDims) => reduce(x, axes, keepDims, false),
  moments(x, axes) {
    const mean = reduce(x, axes, true, true);
    const centered = broadcast(x, mean, (a, b) => (a - b) * (a - b));
    const variance = reduce(centered, axes, false, true);
    return { mean: reduce(x, axes, false, true), variance };
  },
  batchNormTrain(x, gamma, beta, epsilon) {
    const axes = [0, ...x.shape.slice(2).map((_, i) => i + 2)];
    const { mean, variance } = referenceOps.moments(x, axes);
    return { y: referenceOps.batchNorm(x, gamma, beta, mean, variance, epsilon), mean, variance };
  },
  count: (x, axes) => ({ data: Float64Array.of(norm(axes, x.shape.length).reduce((a, ax) => a * x.shape[ax], 1)), shape: [] }),
  unsqueeze(x, axes) {
    const rank = x.shape.length + axes.length;
    const ax = norm(axes, rank);
    const shape: number[] = [];
    let k = 0;
    for (let i = 0; i < rank; i++) shape.push(ax.includes(i) ? 1 : x.shape[k++]);
    return { data: x.data, shape };
  },
  reshape(x, target) {
    const shape = target.map((d, i) => (d === 0 ? x.shape[i] : d));
    const known = shape.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    const full = shape.map((d) => (d === -1 ? x.data.length / known : d));
    if (size(full) !== x.data.length) throw new Error(`reshape: [${x.shape}] cannot become [${target}]`);
    return { data: x.data, shape: full };
  },
  transpose(x, perm) {
    const shape = perm.map((p) => x.shape[p]);
    const ist = strides(x.shape);
    const out = new Float64Array(x.data.length);
    const idx = new Array<number>(shape.length).fill(0);
    for (let o = 0; o < out.length; o++) {
      let i = 0;
      for (let d = 0; d < shape.length; d++) i += idx[d] * ist[perm[d]];
      out[o] = x.data[i];
      for (let d = shape.length - 1; d >= 0; d--) {
        if (++idx[d] < shape[d]) break;
        idx[d] = 0;
      }
    }
    return { data: out, shape };
  },
  matmul(a, b) {
    const [m, k] = a.shape;
    const [k2, n] = b.shape;
    if (a.shape.length !== 2 || b.shape.length !== 2 || k !== k2) throw new Error(`matmul: [${a.shape}] x [${b.shape}]`);
    const out = new Float64Array(m * n);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += a.data[i * k + t] * b.data[t * n + j];
      out[i * n + j] = s;
    }
    return { data: out, shape: [m, n] };
  },
  softmax(x, axis) {
    const ax = norm([axis], x.shape.length)[0];
    // Stable softmax: subtract the max along the axis.
    const outer = x.shape.slice(0, ax).reduce((a, b) => a * b, 1);
    const n = x.shape[ax];
    const inner = x.shape.slice(ax + 1).reduce((a, b) => a * b, 1);
    const out = new Float64Array(x.data.length);
    for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) {
      let m = -Infinity;
      for (let j = 0; j < n; j++) m = Math.max(m, x.data[(o * n + j) * inner + i]);
      let s = 0;
      for (let j = 0; j < n; j++) s += Math.exp(x.data[(o * n + j) * inner + i] - m);
      for (let j = 0; j < n; j++) out[(o * n + j) * inner + i] = Math.exp(x.data[(o * n + j) * inner + i] - m) / s;
    }
    return { data: out, shape: [...x.shape] };
  },
  logSoftmax(x, axis) {
    const p = referenceOps.softmax(x, axis);
    return map(p, Math.log);
  },
  reduceMax(x, axes, keepDims) {
    // max via the same index walk as sums: reduce on -Infinity-initialised buffers.
    const ax = norm(axes, x.shape.length);
    const keepShape = x.shape.map((d, i) => (ax.includes(i) ? 1 : d));
    const out = new Float64Array(size(keepShape)).fill(-Infinity);
    const ost = strides(keepShape).map((s, i) => (ax.includes(i) ? 0 : s));
    const idx = new Array<number>(x.shape.length).fill(0);
    for (let i = 0; i < x.data.length; i++) {
      let o = 0;
      for (let d = 0; d < idx.length; d++) o += idx[d] * ost[d];
      out[o] = Math.max(out[o], x.data[i]);
      for (let d = idx.length - 1; d >= 0; d--) {
        if (++idx[d] < x.shape[d]) break;
        idx[d] = 0;
      }
    }
    return { data: out, shape: keepDims ? keepShape : x.shape.filter((_, i) => !ax.includes(i)) };
  },
  maximum: (a, b) => broadcast(a, b, Math.max),
  less: (a, b) => broadcast(a, b, (x, y) => (x < y ? 1 : 0)),
  stopGradient: (x) => x,
  batchNorm(x, gamma, beta, mean, variance, epsilon) {
    const C = x.shape[1];
    const inner = x.shape.slice(2).reduce((a, b) => a * b, 1);
    const out = new Float64Array(x.data.length);
    for (let i = 0; i < x.data.length; i++) {
      const c = Math.floor(i / inner) % C;
      out[i] = (gamma.data[c] * (x.data[i] - mean.data[c])) / Math.sqrt(variance.data[c] + epsilon) + beta.data[c];
    }
    return { data: out, shape: [...x.shape] };
  },
  scaleShift(x, scale, shift) {
    const inner = x.shape.slice(2).reduce((a, b) => a * b, 1);
    const out = new Float64Array(x.data.length);
    for (let i = 0; i < x.data.length; i++) {
      const nc = Math.floor(i / inner);
      out[i] = x.data[i] * scale.data[nc] + shift.data[nc];
    }
    return { data: out, shape: [...x.shape] };
  },
};
