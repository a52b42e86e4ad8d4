/**
 * Scoring of one (method, seed) pass over a stream: online error from the logits `run()`
 * returned for each batch (tta-spec 2.3), expected calibration error, mean entropy, latency and
 * memory, per domain and over the whole stream, plus a rolling error curve for the report.
 */

/** Confidence bins of the expected calibration error (Guo et al. 2017 use 15). */
export const ECE_BINS = 15;

/** Per-sample numbers of a [n, K] logits block: prediction, max softmax probability, entropy (nats). */
export function scoreLogits(logits: Float32Array, n: number, k: number): { pred: Int32Array; conf: Float64Array; entropy: Float64Array } {
  const pred = new Int32Array(n);
  const conf = new Float64Array(n);
  const entropy = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    const o = r * k;
    let best = 0;
    for (let j = 1; j < k; j++) if (logits[o + j] > logits[o + best]) best = j;
    const max = logits[o + best];
    let sum = 0;
    for (let j = 0; j < k; j++) sum += Math.exp(logits[o + j] - max);
    const logSum = Math.log(sum);
    let h = 0;
    for (let j = 0; j < k; j++) {
      const lp = logits[o + j] - max - logSum;
      h -= Math.exp(lp) * lp;
    }
    pred[r] = best;
    conf[r] = 1 / sum;
    entropy[r] = h;
  }
  return { pred, conf, entropy };
}

/** Running sums for one group of samples (a domain, or the whole stream). */
export class Tally {
  n = 0;
  errors = 0;
  entropy = 0;
  private readonly binCount = new Float64Array(ECE_BINS);
  private readonly binConf = new Float64Array(ECE_BINS);
  private readonly binCorrect = new Float64Array(ECE_BINS);
  readonly latencies: number[] = [];
  peakRss = 0;

  add(correct: boolean, conf: number, entropy: number): void {
    this.n++;
    if (!correct) this.errors++;
    this.entropy += entropy;
    // Bins are (i/B, (i+1)/B]; a confidence of exactly 0 cannot occur with softmax.
    const bin = Math.min(ECE_BINS - 1, Math.max(0, Math.ceil(conf * ECE_BINS) - 1));
    this.binCount[bin]++;
    this.binConf[bin] += conf;
    if (correct) this.binCorrect[bin]++;
  }

  /** ECE = sum over bins of |B|/n * |accuracy(B) - confidence(B)|, as a fraction. */
  ece(): number {
    if (this.n === 0) return 0;
    let e = 0;
    for (let b = 0; b < ECE_BINS; b++) {
      if (this.binCount[b] === 0) continue;
      e += Math.abs(this.binCorrect[b] - this.binConf[b]) / this.n;
    }
    return e;
  }

  summary(): GroupMetrics {
    return {
      n: this.n,
      errors: this.errors,
      errorPct: this.n ? (100 * this.errors) / this.n : 0,
      ece: this.ece(),
      meanEntropy: this.n ? this.entropy / this.n : 0,
      batches: this.latencies.length,
      msPerBatch: this.latencies.length ? { median: quantile(this.latencies, 0.5), p95: quantile(this.latencies, 0.95), mean: mean(this.latencies) } : null,
      peakRssMB: this.peakRss / 2 ** 20,
    };
  }
}

export interface GroupMetrics {
  n: number;
  errors: number;
  errorPct: number;
  /** Expected calibration error with {@link ECE_BINS} equal-width confidence bins (a fraction). */
  ece: number;
  /** Mean softmax entropy of the returned logits (nats). */
  meanEntropy: number;
  /** Batches timed for this group (batches mixing domains are counted only in the whole-stream total). */
  batches: number;
  /** Wall time of `run()` per batch, ms; null when no batch belongs to the group alone. */
  msPerBatch: { median: number; p95: number; mean: number } | null;
  /** Largest process RSS seen after a batch of this group, MiB. */
  peakRssMB: number;
}

/** Linear-interpolated quantile (numpy's default) of unsorted values. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

export function mean(values: readonly number[]): number {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN;
}

/** Sample standard deviation (n - 1); 0 for a single value. */
export function std(values: readonly number[]): number {
  if (values.length < 2) return 0;
  const m = mean(values);
  return Math.sqrt(values.reduce((a, v) => a + (v - m) ** 2, 0) / (values.length - 1));
}

export interface RollingError {
  /** Samples in the window. */
  window: number;
  /** Stream position (samples seen) of each point. */
  x: number[];
  /** Error % over the last `window` samples (fewer at the start) at each point. */
  y: number[];
}

/**
 * Error over the stream in a sliding window, sampled at about `points` positions. `wrong[i]` is 1
 * when the i-th sample of the stream was misclassified.
 */
export function rollingError(wrong: Uint8Array, points = 400, window?: number): RollingError {
  const total = wrong.length;
  const w = window ?? Math.max(1, Math.min(1000, Math.round(total / 20)));
  const step = Math.max(1, Math.ceil(total / points));
  const x: number[] = [];
  const y: number[] = [];
  let inWindow = 0;
  for (let i = 0; i < total; i++) {
    inWindow += wrong[i];
    if (i >= w) inWindow -= wrong[i - w];
    if ((i + 1) % step === 0 || i === total - 1) {
      x.push(i + 1);
      y.push(Number(((100 * inWindow) / Math.min(w, i + 1)).toFixed(3)));
    }
  }
  return { window: w, x, y };
}
