import type { StateStore } from './method.js';

/** A {@link StateStore} over a Map of named Float32Arrays. */
export class MapStateStore implements StateStore {
  private readonly map = new Map<string, Float32Array>();

  constructor(init?: Record<string, Float32Array>) {
    if (init) for (const [k, v] of Object.entries(init)) this.map.set(k, v);
  }

  get(key: string): Float32Array {
    const v = this.map.get(key);
    if (!v) throw new Error(`state: no entry '${key}'`);
    return v;
  }

  has(key: string): boolean {
    return this.map.has(key);
  }

  set(key: string, value: Float32Array): void {
    this.map.set(key, value);
  }

  keys(): string[] {
    return [...this.map.keys()];
  }

  /** A deep copy as a plain object of new Float32Arrays. */
  snapshot(): Record<string, Float32Array> {
    const out: Record<string, Float32Array> = {};
    for (const [k, v] of this.map) out[k] = v.slice();
    return out;
  }

  /** Replaces the whole content with copies of `entries`. */
  replace(entries: Record<string, Float32Array>): void {
    this.map.clear();
    for (const [k, v] of Object.entries(entries)) this.map.set(k, v.slice());
  }
}
