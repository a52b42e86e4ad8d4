import type { StateStore } from '@edgetta/core';

/**
 * The sliding window of MD-TTA's single-sample mode (tta-spec 2.2 item 8): the last `length`
 * samples, so methods that need batch statistics can answer one image at a time. Every call
 * forwards the whole window and answers with the rows of the new samples; the method adapts only
 * when the window has been fully refreshed since its last adaptation, otherwise the window is
 * only inferred on. The window lives in the session's state store (`window.x`, `window.count`,
 * `window.fresh`), so snapshot, restore and reset cover it.
 */
export class SampleWindow {
  constructor(
    readonly length: number,
    /** Values per sample (C * H * W). */
    readonly sampleSize: number,
  ) {}

  /** The entries to add to a fresh state store. */
  init(): Record<string, Float32Array> {
    return { 'window.x': new Float32Array(this.length * this.sampleSize), 'window.count': new Float32Array(1), 'window.fresh': new Float32Array(1) };
  }

  /**
   * Appends `n` samples (oldest dropped) and returns the window in arrival order, how many samples
   * it holds, and whether it has been fully refreshed since the last adaptation (then the caller
   * adapts on it and calls `adapted`).
   */
  push(store: StateStore, data: Float32Array, n: number): { data: Float32Array; count: number; adapt: boolean } {
    const x = store.write('window.x');
    const count = store.write('window.count');
    const fresh = store.write('window.fresh');
    const per = this.sampleSize;
    const keep = Math.min(n, this.length);
    const held = Math.min(count[0], this.length - keep);
    // Shift the newest `held` samples to the front, then append the last `keep` new ones.
    x.copyWithin(0, (count[0] - held) * per, count[0] * per);
    x.set(data.subarray((n - keep) * per, n * per), held * per);
    count[0] = held + keep;
    fresh[0] += n;
    return { data: x.slice(0, count[0] * per), count: count[0], adapt: fresh[0] >= this.length };
  }

  adapted(store: StateStore): void {
    store.set('window.fresh', new Float32Array(1));
  }
}
