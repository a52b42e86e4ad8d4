import type { StateStore } from './method.js';

/** An undo record: the entry's previous array, or the previous values of a range written in place. */
type Undo = { key: string; array: Float32Array | undefined } | { key: string; start: number; values: Float32Array };

/**
 * A {@link StateStore} over a Map of named Float32Arrays, with nested transactions. Inside
 * `begin()`, a `set` records the entry's previous array (never copied: by the store's rule it was
 * not mutated) and a `write` records a copy of the range it hands out, so `rollback()` restores
 * exactly what the step changed and costs what the step wrote, whatever the size of the state.
 */
export class MapStateStore implements StateStore {
  private readonly map = new Map<string, Float32Array>();
  private readonly undo: Undo[] = [];
  private readonly marks: number[] = [];

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
    if (this.marks.length) this.undo.push({ key, array: this.map.get(key) });
    this.map.set(key, value);
  }

  write(key: string, start = 0, end?: number): Float32Array {
    const v = this.get(key);
    const stop = end ?? v.length;
    if (!(Number.isInteger(start) && Number.isInteger(stop) && start >= 0 && start <= stop && stop <= v.length)) {
      throw new RangeError(`state: write('${key}', ${start}, ${end}) is outside the entry's ${v.length} values`);
    }
    if (this.marks.length) this.undo.push({ key, start, values: v.slice(start, stop) });
    return v.subarray(start, stop);
  }

  /** Starts a (nested) transaction: every later change can be undone by `rollback()`. */
  begin(): void {
    this.marks.push(this.undo.length);
  }

  /** Keeps the changes since the matching `begin()` (an enclosing transaction can still undo them). */
  commit(): void {
    const mark = this.marks.pop();
    if (mark === undefined) throw new Error('state: commit() without begin()');
    if (!this.marks.length) this.undo.length = 0;
  }

  /** Undoes every change since the matching `begin()`, newest first. */
  rollback(): void {
    const mark = this.marks.pop();
    if (mark === undefined) throw new Error('state: rollback() without begin()');
    while (this.undo.length > mark) {
      const u = this.undo.pop()!;
      if ('values' in u) this.map.get(u.key)!.set(u.values, u.start);
      else if (u.array) this.map.set(u.key, u.array);
      else this.map.delete(u.key);
    }
  }

  /** Values held by the undo log (for tests and leak checks). */
  get journalSize(): number {
    let n = 0;
    for (const u of this.undo) n += 'values' in u ? u.values.length : 0;
    return n;
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

  /** Replaces the whole content with copies of `entries` (journaled inside a transaction). */
  replace(entries: Record<string, Float32Array>): void {
    for (const k of [...this.map.keys()]) {
      if (k in entries) continue;
      if (this.marks.length) this.undo.push({ key: k, array: this.map.get(k) });
      this.map.delete(k);
    }
    for (const [k, v] of Object.entries(entries)) this.set(k, v.slice());
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
