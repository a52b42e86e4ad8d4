/**
 * DUA in float64 typed arrays, written from /work/shared/docs/tta-spec.md section 3.6 (with the
 * Notation paragraph's BN definition and section 8's convention "PyTorch running updates use
 * unbiased" variance), NOT from adapters/dua/src. It imports nothing from the method and uses no
 * edgetta ops: plain loops over Float64Array.
 *
 * Spec 3.6. State: BN running statistics, initialized from the source ones, and the image counter t.
 * For each incoming image t = 1..T:
 *   1. m_t = m0 * omega^t + m_min.
 *   2. The image becomes a batch of augmented copies (crop with padding, flip, rotation).
 *   3. One train-mode forward with momentum m_t: every layer normalizes with the batch statistics
 *      (mean, biased variance over (b, h, w)) and updates
 *        mu_run <- (1 - m_t) mu_run + m_t mu_B;  var_run <- (1 - m_t) var_run + m_t var_B_unbiased,
 *      var_B_unbiased = var_B * N / (N - 1), N = B * H * W. Its output is discarded; no gradients.
 *   4. Predict in eval mode with the running statistics.
 * After T images the statistics freeze (T = `maxUpdates`; 0 = never). A batch of several images is
 * adapted on image by image, then predicted as a whole (the online protocol of spec 2.3: the answer
 * for a batch comes after the adaptation that batch drives).
 *
 * The augmentation is random. This reference does not draw views itself: `step` takes them from
 * the caller, which feeds it the views the method actually produced (recorded from the method's
 * update pass); the test checks separately that those views are augmentations of the right image
 * (`isAugmentationOf`, written from spec 3.6 item 2). Everything downstream of the views (the
 * statistics, momentum schedule, counter, freezing and prediction) is computed here.
 */

export interface RunningStats {
  mean: Float64Array;
  variance: Float64Array;
}

export interface DuaLayerParams {
  gamma: ArrayLike<number>;
  beta: ArrayLike<number>;
  mean: ArrayLike<number>;
  variance: ArrayLike<number>;
  epsilon: number;
}

export interface DuaRefOptions {
  m0: number;
  omega: number;
  mMin: number;
  maxUpdates: number;
}

/** Per-layer normalization on x [n, c, s] (s spatial positions; 1 for rank-2 layers). */
export type NormFn = (layer: number, x: Float64Array, n: number, c: number, s: number) => Float64Array;

/** Spec 3.6 step 1. */
export function duaMomentum(t: number, o: Pick<DuaRefOptions, 'm0' | 'omega' | 'mMin'>): number {
  return o.m0 * Math.pow(o.omega, t) + o.mMin;
}

/** Spec 3.6 step 3 for one layer: train-mode BN output and the updated running statistics. */
export function trainModeBn(x: Float64Array, n: number, c: number, s: number, p: DuaLayerParams, run: RunningStats, m: number): { y: Float64Array; next: RunningStats } {
  const N = n * s;
  const y = new Float64Array(x.length);
  const mean = new Float64Array(c);
  const variance = new Float64Array(c);
  for (let ch = 0; ch < c; ch++) {
    let sum = 0;
    for (let b = 0; b < n; b++) for (let i = 0; i < s; i++) sum += x[(b * c + ch) * s + i];
    const mu = sum / N;
    let q = 0;
    for (let b = 0; b < n; b++) for (let i = 0; i < s; i++) q += (x[(b * c + ch) * s + i] - mu) ** 2;
    const biased = q / N;
    for (let b = 0; b < n; b++) for (let i = 0; i < s; i++) y[(b * c + ch) * s + i] = (p.gamma[ch] * (x[(b * c + ch) * s + i] - mu)) / Math.sqrt(biased + p.epsilon) + p.beta[ch];
    mean[ch] = (1 - m) * run.mean[ch] + m * mu;
    variance[ch] = (1 - m) * run.variance[ch] + m * ((biased * N) / (N - 1));
  }
  return { y, next: { mean, variance } };
}

/** Spec 3.6 step 4 for one layer: eval-mode BN with the running statistics. */
export function evalModeBn(x: Float64Array, n: number, c: number, s: number, p: DuaLayerParams, run: RunningStats): Float64Array {
  const y = new Float64Array(x.length);
  for (let b = 0; b < n; b++)
    for (let ch = 0; ch < c; ch++)
      for (let i = 0; i < s; i++) y[(b * c + ch) * s + i] = (p.gamma[ch] * (x[(b * c + ch) * s + i] - run.mean[ch])) / Math.sqrt(run.variance[ch] + p.epsilon) + p.beta[ch];
  return y;
}

/** The DUA state machine: running statistics per layer and the image counter. */
export class DuaReference {
  t = 0;
  stats: RunningStats[];

  constructor(
    readonly o: DuaRefOptions,
    readonly layers: DuaLayerParams[],
    /** The network's float64 forward on x [count, ...] with the given per-layer normalization. */
    readonly forward: (x: ArrayLike<number>, count: number, norm: NormFn) => Float64Array,
  ) {
    this.stats = layers.map((l) => ({ mean: Float64Array.from(l.mean), variance: Float64Array.from(l.variance) }));
  }

  /**
   * One batch of `n` images: adapt on each (views from `viewsOf(image index, t)`, `copies` of
   * them), then predict the batch. Returns the logits and the (image, t) pairs adapted on.
   */
  step(batch: ArrayLike<number>, n: number, copies: number, viewsOf: (image: number, t: number) => ArrayLike<number>): { logits: Float64Array; adapted: { image: number; t: number; momentum: number }[] } {
    const adapted: { image: number; t: number; momentum: number }[] = [];
    for (let i = 0; i < n; i++) {
      const t = this.t + 1;
      if (this.o.maxUpdates > 0 && t > this.o.maxUpdates) break;
      const m = duaMomentum(t, this.o);
      const next: RunningStats[] = [];
      this.forward(viewsOf(i, t), copies, (l, x, b, c, s) => {
        const r = trainModeBn(x, b, c, s, this.layers[l], this.stats[l], m);
        next[l] = r.next;
        return r.y;
      });
      this.stats = next;
      this.t = t;
      adapted.push({ image: i, t, momentum: m });
    }
    const logits = this.forward(batch, n, (l, x, b, c, s) => evalModeBn(x, b, c, s, this.layers[l], this.stats[l]));
    return { logits, adapted };
  }
}

/**
 * Spec 3.6 item 2: is `view` (C x n x n) a crop of `image` with up to `pad` pixels of zero padding
 * (a shift by dy, dx in [-pad, pad], zeros outside), followed by a horizontal flip and/or a rotation
 * by a multiple of 90 degrees? Flip and rotations generate the 8 symmetries of the square, and
 * shifting before or after them gives the same set of views, so all 8 x (2 pad + 1)^2 candidates
 * are tried. Returns the matching transform, or null.
 */
export function isAugmentationOf(view: ArrayLike<number>, image: ArrayLike<number>, c: number, n: number, pad: number): { g: number; dy: number; dx: number } | null {
  const e = n - 1;
  const symmetries: ((y: number, x: number) => [number, number])[] = [
    (y, x) => [y, x],
    (y, x) => [x, e - y],
    (y, x) => [e - y, e - x],
    (y, x) => [e - x, y],
    (y, x) => [y, e - x],
    (y, x) => [x, y],
    (y, x) => [e - y, x],
    (y, x) => [e - x, e - y],
  ];
  const plane = n * n;
  for (let g = 0; g < 8; g++) {
    for (let dy = -pad; dy <= pad; dy++) {
      for (let dx = -pad; dx <= pad; dx++) {
        let ok = true;
        for (let y = 0; y < n && ok; y++) {
          for (let x = 0; x < n && ok; x++) {
            const [u, v] = symmetries[g](y, x);
            const sy = u + dy;
            const sx = v + dx;
            for (let ch = 0; ch < c && ok; ch++) {
              const want = sy < 0 || sy >= n || sx < 0 || sx >= n ? 0 : image[ch * plane + sy * n + sx];
              if (view[ch * plane + y * n + x] !== want) ok = false;
            }
          }
        }
        if (ok) return { g, dy, dx };
      }
    }
  }
  return null;
}
