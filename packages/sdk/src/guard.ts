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
 *   are legitimately skewed).
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
}

const KEYS: (keyof GuardOptions)[] = ['entropyFloor', 'entropyMomentum', 'resetEvery', 'window', 'maxClassShare'];

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

  constructor(private readonly o: ReturnType<typeof resolveGuard>) {
    this.recent = new Int32Array(o.window);
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
      this.ema = this.ema === null ? meanEntropy : this.o.entropyMomentum * this.ema + (1 - this.o.entropyMomentum) * meanEntropy;
    }
    if (this.o.entropyFloor !== undefined && this.ema !== null && this.ema < this.o.entropyFloor) {
      return `entropy EMA ${this.ema.toFixed(4)} fell below the floor ${this.o.entropyFloor}`;
    }
    if (this.o.resetEvery !== undefined && this.batches >= this.o.resetEvery) return `periodic reset after ${this.batches} batches`;
    const share = this.topClassShare();
    if (this.o.maxClassShare !== undefined && this.filled === this.recent.length && share !== null && share > this.o.maxClassShare) {
      return `the most frequent class took ${(100 * share).toFixed(1)} % of the last ${this.filled} answers (limit ${100 * this.o.maxClassShare} %)`;
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
    return { entropyEma: this.ema, topClassShare: this.topClassShare(), resets: this.resets, lastReset: this.lastReset };
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
