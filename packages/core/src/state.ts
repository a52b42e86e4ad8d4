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

/**
 * Thrown by the host when a pass would write a non-finite value into the state: the write is
 * refused and the state is unchanged. Methods that batch several passes into one update (RoTTA)
 * recognise it with {@link isRejectedState} and roll their own earlier writes back.
 */
export class RejectedStateError extends Error {
  readonly code = 'edgetta.rejected-state';
  constructor(message: string, readonly key: string) {
    super(message);
    this.name = 'RejectedStateError';
  }
}

/** True for a {@link RejectedStateError}, also one thrown by another copy of this package. */
export function isRejectedState(e: unknown): e is RejectedStateError {
  return !!e && typeof e === 'object' && (e as { code?: unknown }).code === 'edgetta.rejected-state';
}
