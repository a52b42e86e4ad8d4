/**
 * Collapse guards: watch what an adapting session answers and decide when to send it back to the
 * source state. Long and non-i.i.d. streams make entropy-minimizing and statistics-swapping
 * methods degrade, sometimes below the model they wrap (tta-spec section 7, item 2); these guards
 * are method-agnostic and cost only arithmetic on the returned logits.
 *
 * - entropy floor (SAR's model recovery, generalized): reset when the EMA of the batches' mean
 *   softmax entropy falls below `entropyFloor` — the signature of a collapsed, over-confident model;
 * - periodic reset (RDumb): reset after `resetEvery` adapted batches;
 * - prediction diversity: the share of the most frequent class over the last `window` answers, in
 *   `stats`; with `maxClassShare` it also resets (off by default, because label-correlated streams
 *   are legitimately skewed);
 * - source blend: answer with p = (1 - w) softmax(adapted) + w softmax(source), the unadapted model
 *   run on the same batch. Resets cannot help a stateless method that is worse than the source on
 *   a mild shift (test-batch statistics on JPEG), and no label-free signal we measured tells when
 *   adaptation hurts (the source is as confident where it is wrong), so the answer hedges instead:
 *   the blend is never far from the better of the two and often better than both
 *   (docs/streams-and-guards.md). Costs one plain inference per batch.
 */

export interface GuardOptions {
  /** Reset when the entropy EMA falls below this (natural log units; SAR uses 0.2). @defaultValue off */
  entropyFloor?: number;
  /** Weight of the history in the entropy EMA (e <- m e + (1 - m) H). @defaultValue 0.9 */
  entropyMomentum?: number;
  /** Reset after this many adapted batches (RDumb: 1000). @defaultValue off */
  resetEvery?: number;
  /** Answers (samples) in the prediction-diversity window. @defaultValue 256 */
  window?: number;
  /** Reset when the most frequent class exceeds this share of a full window, in (0, 1]. @defaultValue off */
  maxClassShare?: number;
  /**
   * Weight w in (0, 1) of the unadapted model in every answer: the first output becomes
   * log((1 - w) softmax(adapted) + w softmax(source)) (log-probabilities, so softmax and argmax of
   * it are the blend's). For classifiers whose first output is logits [N, K]. @defaultValue off
   */
  sourceWeight?: number;
}

export interface GuardStats {
  /** EMA of the batches' mean entropy since the last reset, or null before the first batch. */
  entropyEma: number | null;
  /** Share of the most frequent predicted class over the window, or null while it is empty. */
  topClassShare: number | null;
  /** Resets the guard triggered since the session was created. */
  resets: number;
  /** The last guard reset: why and after how many batches since the previous reset. */
  lastReset: { reason: string; afterBatches: number } | null;
  /** With `sourceWeight`: share of the last batch where the adapted and the source model's argmax agree; else null. */
  sourceAgreement: number | null;
}

const KEYS: (keyof GuardOptions)[] = ['entropyFloor', 'entropyMomentum', 'resetEvery', 'window', 'maxClassShare', 'sourceWeight'];

/** Validates guard options (argument name `guard`), naming the bad field and what is valid. */
export function resolveGuard(g: GuardOptions | undefined): Required<Pick<GuardOptions, 'entropyMomentum' | 'window'>> & GuardOptions {
  if (g === undefined) return { entropyMomentum: 0.9, window: 256 };
  if (g === null || typeof g !== 'object') throw new TypeError(`guard: expected an object with any of ${KEYS.join(', ')}`);
  for (const k of Object.keys(g)) if (!KEYS.includes(k as keyof GuardOptions)) throw new Error(`guard: unknown option '${k}'; valid options: ${KEYS.join(', ')}`);
  const num = (k: keyof GuardOptions, ok: (v: number) => boolean, what: string) => {
    const v = g[k];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || !ok(v))) throw new Error(`guard.${k}: expected ${what}, got ${String(v)}`);
  };
  num('entropyFloor', (v) => v > 0, 'a number > 0');
  num('entropyMomentum', (v) => v >= 0 && v < 1, 'a number in [0, 1)');
  num('resetEvery', (v) => Number.isInteger(v) && v >= 1, 'an integer >= 1');
  num('window', (v) => Number.isInteger(v) && v >= 1, 'an integer >= 1');
  num('maxClassShare', (v) => v > 0 && v <= 1, 'a number in (0, 1]');
  num('sourceWeight', (v) => v > 0 && v < 1, 'a number in (0, 1)');
  return { ...g, entropyMomentum: g.entropyMomentum ?? 0.9, window: g.window ?? 256 };
}

/** The guard's running state for one session. */
export class Guard {
  private ema: number | null = null;
  private batches = 0;
  private readonly recent: Int32Array;
  private filled = 0;
  private head = 0;
  private counts = new Map<number, number>();
  private resets = 0;
  private lastReset: GuardStats['lastReset'] = null;
  private agreement: number | null = null;

  constructor(readonly options: ReturnType<typeof resolveGuard>) {
    this.recent = new Int32Array(options.window);
  }

  /**
   * Records one answered batch (its logits [N, K] and mean entropy) and returns the reason to
   * reset, or null. The caller resets the session and then calls `didReset`.
   */
  observe(logits: Float32Array, dims: readonly number[], meanEntropy: number | null): string | null {
    this.batches++;
    if (dims.length === 2) {
      const [n, k] = dims;
      for (let r = 0; r < n; r++) {
        let best = 0;
        for (let j = 1; j < k; j++) if (logits[r * k + j] > logits[r * k + best]) best = j;
        this.push(best);
      }
    }
    if (meanEntropy !== null && Number.isFinite(meanEntropy)) {
      this.ema = this.ema === null ? meanEntropy : this.options.entropyMomentum * this.ema + (1 - this.options.entropyMomentum) * meanEntropy;
    }
    if (this.options.entropyFloor !== undefined && this.ema !== null && this.ema < this.options.entropyFloor) {
      return `entropy EMA ${this.ema.toFixed(4)} fell below the floor ${this.options.entropyFloor}`;
    }
    if (this.options.resetEvery !== undefined && this.batches >= this.options.resetEvery) return `periodic reset after ${this.batches} batches`;
    const share = this.topClassShare();
    if (this.options.maxClassShare !== undefined && this.filled === this.recent.length && share !== null && share > this.options.maxClassShare) {
      return `the most frequent class took ${(100 * share).toFixed(1)} % of the last ${this.filled} answers (limit ${100 * this.options.maxClassShare} %)`;
    }
    return null;
  }

  /** Called after the session reset itself because `observe` said so. */
  didReset(reason: string): void {
    this.resets++;
    this.lastReset = { reason, afterBatches: this.batches };
    this.clear();
  }

  /** Clears the running state (also on a user reset). The reset count is kept. */
  clear(): void {
    this.ema = null;
    this.batches = 0;
    this.filled = 0;
    this.head = 0;
    this.counts.clear();
  }

  stats(): GuardStats {
    return { entropyEma: this.ema, topClassShare: this.topClassShare(), resets: this.resets, lastReset: this.lastReset, sourceAgreement: this.agreement };
  }

  /** Records the source agreement of the last blended batch. */
  blended(agreement: number): void {
    this.agreement = agreement;
  }

  private push(label: number): void {
    if (this.filled === this.recent.length) {
      const old = this.recent[this.head];
      this.counts.set(old, (this.counts.get(old) ?? 1) - 1);
    } else {
      this.filled++;
    }
    this.recent[this.head] = label;
    this.head = (this.head + 1) % this.recent.length;
    this.counts.set(label, (this.counts.get(label) ?? 0) + 1);
  }

  private topClassShare(): number | null {
    if (this.filled === 0) return null;
    let max = 0;
    for (const c of this.counts.values()) max = Math.max(max, c);
    return max / this.filled;
  }
}

/**
 * The source blend of the `sourceWeight` guard: per row of [N, K] logits, log((1 - w) softmax(a) +
 * w softmax(s)), computed stably; also the share of rows whose argmax of a and s agree.
 */
export function blendWithSource(adapted: Float32Array, source: Float32Array, dims: readonly number[], w: number): { logits: Float32Array; agreement: number } {
  if (dims.length !== 2 || adapted.length !== source.length) {
    throw new Error(`guard.sourceWeight: needs a classifier whose first output is logits [N, K]; got dims [${dims.join(', ')}]`);
  }
  const [n, k] = dims;
  const out = new Float32Array(n * k);
  let agree = 0;
  for (let r = 0; r < n; r++) {
    const o = r * k;
    let ma = 0;
    let ms = 0;
    for (let j = 1; j < k; j++) {
      if (adapted[o + j] > adapted[o + ma]) ma = j;
      if (source[o + j] > source[o + ms]) ms = j;
    }
    if (ma === ms) agree++;
    let za = 0;
    let zs = 0;
    for (let j = 0; j < k; j++) {
      za += Math.exp(adapted[o + j] - adapted[o + ma]);
      zs += Math.exp(source[o + j] - source[o + ms]);
    }
    for (let j = 0; j < k; j++) {
      const p = ((1 - w) * Math.exp(adapted[o + j] - adapted[o + ma])) / za + (w * Math.exp(source[o + j] - source[o + ms])) / zs;
      // Floored so a vanishing probability stays a finite log (entropy code multiplies p log p).
      out[o + j] = Math.log(Math.max(p, 1e-37));
    }
  }
  return { logits: out, agreement: n ? agree / n : 1 };
}
