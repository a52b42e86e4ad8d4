/**
 * RoTTA's category-balanced sampling with timeliness and uncertainty (CSTU, tta-spec 4.4), as pure
 * functions over typed arrays, so the bank can live in the session's state store and
 * snapshot/restore/reset cover it exactly.
 *
 * Layout: slots 0..count-1 hold items (x: `per` floats each, CHW; y: class; u: entropy; age).
 * An evicted item's slot is reused by the new one, so slot order is not insertion order; "the
 * later item" of a score tie is the more recently inserted one, i.e. the one with the smaller age
 * (ages of stored items are pairwise distinct: at most one item joins per attempt, and every
 * attempt ages all of them by one).
 */

export interface Bank {
  /** [capacity * per] images, CHW (read-only: slots are written through `writeSlot`). */
  x: Float32Array;
  /** A writable view of one slot's image. */
  writeSlot(slot: number): Float32Array;
  /** [capacity] pseudo-labels. */
  y: Float32Array;
  /** [capacity] uncertainties (teacher entropy). */
  u: Float32Array;
  /** [capacity] ages (insertion attempts since the item joined). */
  age: Float32Array;
  /** [1] number of stored items. */
  count: Float32Array;
}

export interface BankConfig {
  /** N. */
  capacity: number;
  /** K, the number of classes. */
  classes: number;
  lambdaT: number;
  lambdaU: number;
}

export type InsertOutcome =
  | { kind: 'added'; slot: number }
  | { kind: 'replaced'; slot: number; evicted: { y: number; u: number; age: number } }
  | { kind: 'dropped' };

/** An empty bank for images of `per` floats. */
export function emptyBank(capacity: number, per: number): Bank {
  const x = new Float32Array(capacity * per);
  return { x, writeSlot: (slot) => x.subarray(slot * per, (slot + 1) * per), y: new Float32Array(capacity), u: new Float32Array(capacity), age: new Float32Array(capacity), count: new Float32Array(1) };
}

/** s(age, u) = lambdaT * sigmoid(age / N) + lambdaU * u / ln K. */
export function score(age: number, u: number, c: BankConfig): number {
  return c.lambdaT / (1 + Math.exp(-age / c.capacity)) + (c.lambdaU * u) / Math.log(c.classes);
}

/** Items per class, [K]. */
export function occupancy(bank: Bank, classes: number): Int32Array {
  const occ = new Int32Array(classes);
  for (let i = 0; i < bank.count[0]; i++) occ[bank.y[i]]++;
  return occ;
}

/** The slot of the highest-score item among those whose class is in `among`; ties go to the later (younger) item. */
function worstSlot(bank: Bank, c: BankConfig, among: (cls: number) => boolean): { slot: number; score: number } {
  let slot = -1;
  let best = -Infinity;
  for (let i = 0; i < bank.count[0]; i++) {
    if (!among(bank.y[i])) continue;
    const s = score(bank.age[i], bank.u[i], c);
    if (slot < 0 || s > best || (s === best && bank.age[i] <= bank.age[slot])) {
      slot = i;
      best = s;
    }
  }
  return { slot, score: best };
}

/** Everyone gets one attempt older (after every insertion attempt, including a refused one). */
export function ageAll(bank: Bank): void {
  for (let i = 0; i < bank.count[0]; i++) bank.age[i] += 1;
}

/**
 * One insertion attempt (tta-spec 4.4): class below quota N/K -> add if the bank has room, else
 * evict the highest-score item of the majority classes if it scores higher than the new item;
 * class at quota -> the same test within the class. Then every item ages by one.
 */
export function insert(bank: Bank, c: BankConfig, item: { x: ArrayLike<number>; y: number; u: number }): InsertOutcome {
  const per = bank.x.length / c.capacity;
  if (item.x.length !== per) throw new Error(`rotta memory: an item has ${item.x.length} values, the bank stores ${per} per image`);
  if (!(Number.isInteger(item.y) && item.y >= 0 && item.y < c.classes)) throw new Error(`rotta memory: pseudo-label ${item.y} is not a class in [0, ${c.classes})`);
  const quota = c.capacity / c.classes;
  const occ = occupancy(bank, c.classes);
  const count = bank.count[0];
  // Scored as it would be once stored (float32), so a tie with a stored twin is a tie.
  const sNew = score(0, Math.fround(item.u), c);
  let victim: { slot: number; score: number };
  if (occ[item.y] < quota) {
    if (count < c.capacity) return place(bank, per, item, count, { kind: 'added', slot: count });
    let max = 0;
    for (let k = 0; k < c.classes; k++) max = Math.max(max, occ[k]);
    victim = worstSlot(bank, c, (k) => occ[k] === max);
  } else {
    victim = worstSlot(bank, c, (k) => k === item.y);
  }
  if (victim.slot < 0 || !(victim.score > sNew)) {
    ageAll(bank);
    return { kind: 'dropped' };
  }
  const evicted = { y: bank.y[victim.slot], u: bank.u[victim.slot], age: bank.age[victim.slot] };
  return place(bank, per, item, victim.slot, { kind: 'replaced', slot: victim.slot, evicted });
}

/** Writes the item into `slot` with age 0, then ages everyone (the new item too). */
function place(bank: Bank, per: number, item: { x: ArrayLike<number>; y: number; u: number }, slot: number, outcome: InsertOutcome): InsertOutcome {
  bank.writeSlot(slot).set(item.x);
  bank.y[slot] = item.y;
  bank.u[slot] = item.u;
  bank.age[slot] = 0;
  if (outcome.kind === 'added') bank.count[0] = slot + 1;
  ageAll(bank);
  return outcome;
}

/** Timeliness weights w_i = sigmoid(-age_i / N) of the stored items, [count]. */
export function timeliness(bank: Bank, capacity: number): Float32Array {
  const n = bank.count[0];
  const w = new Float32Array(n);
  for (let i = 0; i < n; i++) w[i] = 1 / (1 + Math.exp(bank.age[i] / capacity));
  return w;
}
