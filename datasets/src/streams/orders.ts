/**
 * Sample orders inside a domain (tta-spec 2.2). Each function takes positions into the source
 * (`selection`) and returns them reordered; random draws come from the `rng` passed in, in the
 * order documented on each function.
 */
import { DatasetError } from '../loaders/errors.js';
import type { Rng } from '../rng.js';

/** The first `samples` entries of a uniform random permutation of 0..count-1 (one `rng.permutation(count)`). */
export function selectSamples(count: number, samples: number, rng: Rng): Int32Array {
  const perm = rng.permutation(count);
  return samples >= count ? perm : perm.slice(0, samples);
}

/** Stable sort by label (counting sort): classes ascending, ties keep their order. No random draws. */
export function labelSortedOrder(selection: Int32Array, labels: Int32Array, numClasses: number): Int32Array {
  const start = new Int32Array(numClasses + 1);
  for (let i = 0; i < selection.length; i++) start[labels[selection[i]] + 1]++;
  for (let k = 0; k < numClasses; k++) start[k + 1] += start[k];
  const out = new Int32Array(selection.length);
  for (let i = 0; i < selection.length; i++) out[start[labels[selection[i]]]++] = selection[i];
  return out;
}

/** Positions (into `selection`) of each class, in selection order. */
function classPositions(selection: Int32Array, labels: Int32Array, numClasses: number): Int32Array[] {
  const counts = new Int32Array(numClasses);
  for (let i = 0; i < selection.length; i++) {
    const y = labels[selection[i]];
    if (y < 0 || y >= numClasses) throw new DatasetError('labels', `label ${y} outside [0, ${numClasses})`);
    counts[y]++;
  }
  const out = Array.from(counts, (c) => new Int32Array(c));
  counts.fill(0);
  for (let i = 0; i < selection.length; i++) {
    const y = labels[selection[i]];
    out[y][counts[y]++] = i;
  }
  return out;
}

/**
 * Split points of `n` items by cumulative proportions, as `(cumsum(q)[:-1] * n).astype(int)`:
 * part j is [cut[j - 1], cut[j]) with cut[-1] = 0 and cut[last] = n.
 */
function cumulativeCuts(q: ArrayLike<number>, n: number): Int32Array {
  const cuts = new Int32Array(q.length);
  let acc = 0;
  for (let j = 0; j < q.length - 1; j++) {
    acc += q[j];
    cuts[j] = Math.min(n, Math.max(0, Math.floor(acc * n)));
  }
  cuts[q.length - 1] = n;
  return cuts;
}

export interface DirichletOptions {
  /** Smallest chunk accepted; the whole draw is repeated until every chunk reaches it. @defaultValue 10 */
  minChunkSize?: number;
  /** Draws tried before giving up with an error. @defaultValue 1000 */
  maxAttempts?: number;
}

/**
 * NOTE-style class-correlated order (tta-spec 2.2 item 6; MD-TTA `sort_by_dirichlet`).
 * N = selection.length, K = numClasses chunks. One attempt: for each class k in 0..K-1, shuffle
 * the class's positions (`rng.shuffle`), draw q ~ Dir(delta * 1_K) (`rng.dirichlet`, K gammas),
 * zero q_j for every chunk already holding >= N/K samples, renormalise, and split the shuffled
 * positions across the chunks by the cumulative proportions (floored). Attempts repeat until the
 * smallest chunk has `minChunkSize` samples (at most `maxAttempts`). Then, for each chunk in
 * order, one `rng.shuffle` of the K class ids gives the order in which the chunk's classes are emitted.
 */
export function dirichletOrder(
  selection: Int32Array,
  labels: Int32Array,
  numClasses: number,
  delta: number,
  rng: Rng,
  options: DirichletOptions = {},
): Int32Array {
  if (!(delta > 0) || !Number.isFinite(delta)) throw new DatasetError('protocol dirichlet', `delta must be a positive number, got ${delta}`);
  const minChunk = options.minChunkSize ?? 10;
  const maxAttempts = options.maxAttempts ?? 1000;
  const K = numClasses;
  const N = selection.length;
  const base = classPositions(selection, labels, K);
  const alpha = new Float64Array(K).fill(delta);
  const sizes = new Int32Array(K);
  // parts[j * K + k] = class k's positions going to chunk j (a view into that class's shuffled positions)
  const parts: Int32Array[] = new Array(K * K);
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    sizes.fill(0);
    for (let k = 0; k < K; k++) {
      const idx = rng.shuffle(base[k].slice());
      const q = rng.dirichlet(alpha);
      let sum = 0;
      for (let j = 0; j < K; j++) {
        if (!(sizes[j] < N / K)) q[j] = 0;
        sum += q[j];
      }
      for (let j = 0; j < K; j++) q[j] = sum > 0 ? q[j] / sum : 0;
      const cuts = cumulativeCuts(q, idx.length);
      for (let j = 0, from = 0; j < K; j++) {
        parts[j * K + k] = idx.subarray(from, cuts[j]);
        sizes[j] += cuts[j] - from;
        from = cuts[j];
      }
    }
    let smallest = Infinity;
    for (let j = 0; j < K; j++) smallest = Math.min(smallest, sizes[j]);
    if (smallest >= minChunk) {
      const out = new Int32Array(N);
      let o = 0;
      for (let j = 0; j < K; j++) {
        const classOrder = rng.permutation(K);
        for (let c = 0; c < K; c++) {
          const part = parts[j * K + classOrder[c]];
          for (let i = 0; i < part.length; i++) out[o++] = selection[part[i]];
        }
      }
      return out;
    }
  }
  throw new DatasetError(
    'protocol dirichlet',
    `no Dirichlet(delta=${delta}) split of ${N} samples into ${K} class chunks gave every chunk >= ${minChunk} samples in ${maxAttempts} attempts; use more samples per domain or a larger delta`,
  );
}

/**
 * RoTTA's PTTA order for one domain (tta-spec 2.2 item 7; `LabelDirichletDomainSequence`).
 * S slots. Draws K vectors q_k ~ Dir(gamma * 1_S) (class order 0..K-1), splits class k's
 * positions (selection order) into the S slots by cumulative proportions, then for each slot
 * draws one `rng.permutation(K)` and emits the slot's class chunks in that order.
 */
export function pttaOrder(
  selection: Int32Array,
  labels: Int32Array,
  numClasses: number,
  gamma: number,
  slots: number,
  rng: Rng,
): Int32Array {
  if (!(gamma > 0) || !Number.isFinite(gamma)) throw new DatasetError('protocol ptta', `gamma must be a positive number, got ${gamma}`);
  if (!Number.isInteger(slots) || slots < 1) throw new DatasetError('protocol ptta', `slots must be a positive integer, got ${slots}`);
  const K = numClasses;
  const base = classPositions(selection, labels, K);
  const alpha = new Float64Array(slots).fill(gamma);
  const q: Float64Array[] = [];
  for (let k = 0; k < K; k++) q.push(rng.dirichlet(alpha));
  const parts: Int32Array[] = new Array(slots * K);
  for (let k = 0; k < K; k++) {
    const cuts = cumulativeCuts(q[k], base[k].length);
    for (let s = 0, from = 0; s < slots; s++) {
      parts[s * K + k] = base[k].subarray(from, cuts[s]);
      from = cuts[s];
    }
  }
  const out = new Int32Array(selection.length);
  let o = 0;
  for (let s = 0; s < slots; s++) {
    const perm = rng.permutation(K);
    for (let c = 0; c < K; c++) {
      const part = parts[s * K + perm[c]];
      for (let i = 0; i < part.length; i++) out[o++] = selection[part[i]];
    }
  }
  return out;
}
