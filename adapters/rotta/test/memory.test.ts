import { describe, expect, it } from 'vitest';
import { emptyBank, insert, occupancy, score, timeliness, type Bank, type BankConfig } from '../src/memory.js';

/*
 * Every branch of the CSTU insertion rule (tta-spec 4.4) on hand-built banks. Images are one value
 * each (per = 1), holding an id so the test can tell which item sits where.
 */
const cfg = (capacity: number, classes: number, lambdaT = 1, lambdaU = 1): BankConfig => ({ capacity, classes, lambdaT, lambdaU });
const items = (bank: Bank) => Array.from({ length: bank.count[0] }, (_, i) => ({ id: bank.x[i], y: bank.y[i], u: bank.u[i], age: bank.age[i] }));
const ids = (bank: Bank) => items(bank).map((it) => it.id).sort((a, b) => a - b);
const put = (bank: Bank, c: BankConfig, id: number, y: number, u: number) => insert(bank, c, { x: [id], y, u });

describe('rotta CSTU memory bank', () => {
  it('score = lambdaT sigmoid(age/N) + lambdaU u / ln K; a new item scores 0.5 lambdaT + lambdaU u / ln K', () => {
    const c = cfg(64, 10, 2, 3);
    expect(score(0, 0.7, c)).toBeCloseTo(2 * 0.5 + (3 * 0.7) / Math.log(10), 14);
    expect(score(64, 0, c)).toBeCloseTo(2 / (1 + Math.exp(-1)), 14);
  });

  it('class below quota and bank below capacity: the item is added, and every item (the new one too) ages by one', () => {
    const c = cfg(4, 2);
    const bank = emptyBank(4, 1);
    expect(put(bank, c, 1, 0, 0.1)).toEqual({ kind: 'added', slot: 0 });
    expect(items(bank)).toEqual([{ id: 1, y: 0, u: expect.closeTo(0.1, 7), age: 1 }]);
    expect(put(bank, c, 2, 1, 0.2)).toEqual({ kind: 'added', slot: 1 });
    expect(items(bank).map((it) => it.age)).toEqual([2, 1]);
    expect(bank.count[0]).toBe(2);
  });

  it('ageing happens after every attempt, also a refused one', () => {
    const c = cfg(2, 2);
    const bank = emptyBank(2, 1);
    put(bank, c, 1, 0, 0.5);
    // Class 0 is at its quota of 1 and the newcomer is far more uncertain than the stored item: refused.
    expect(put(bank, c, 2, 0, 5)).toEqual({ kind: 'dropped' });
    expect(items(bank)).toEqual([{ id: 1, y: 0, u: 0.5, age: 2 }]);
  });

  it('bank full, class below quota: the highest-score item of the majority classes is evicted when it scores higher', () => {
    // N = 6, K = 3, quota 2. A class cannot pass its quota through insertion, so the full bank is built directly.
    const c = cfg(6, 3);
    const bank = emptyBank(6, 1);
    const rows = [
      [1, 0, 0.1, 10],
      [2, 0, 0.9, 9], // highest score of the majority classes: u 0.9
      [3, 0, 0.2, 8],
      [4, 1, 0.3, 7],
      [5, 1, 0.1, 6],
      [6, 2, 1.5, 5], // class 2 has the highest score overall but is not a majority class
    ];
    rows.forEach(([id, y, u, age], i) => ((bank.x[i] = id), (bank.y[i] = y), (bank.u[i] = u), (bank.age[i] = age)));
    bank.count[0] = 6;
    expect([...occupancy(bank, 3)]).toEqual([3, 2, 1]);
    // New class-2 item (1 < quota 2), confident: s_new = 0.5 + 0 < score of id 2.
    const r = put(bank, c, 7, 2, 0);
    expect(r).toMatchObject({ kind: 'replaced', evicted: { y: 0, age: 9 } });
    expect(ids(bank)).toEqual([1, 3, 4, 5, 6, 7]);
    expect(items(bank).find((it) => it.id === 7)!.age).toBe(1);
    expect(items(bank).find((it) => it.id === 1)!.age).toBe(11);
  });

  it('majority classes are all classes tied at the maximum occupancy', () => {
    const c = cfg(4, 3, 0, 1); // lambdaT 0: the score is the uncertainty alone
    const bank = emptyBank(4, 1);
    [
      [1, 0, 0.2],
      [2, 0, 0.3],
      [3, 1, 0.1],
      [4, 1, 0.8], // highest among the two tied majority classes 0 and 1
    ].forEach(([id, y, u], i) => ((bank.x[i] = id), (bank.y[i] = y), (bank.u[i] = u)));
    bank.count[0] = 4;
    expect(put(bank, c, 5, 2, 0.05)).toMatchObject({ kind: 'replaced', evicted: { y: 1 } });
    expect(ids(bank)).toEqual([1, 2, 3, 5]);
  });

  it('bank full, class below quota: a majority item scoring lower or equal keeps its place and the new sample is dropped', () => {
    const c = cfg(4, 2, 0, 1);
    const bank = emptyBank(4, 1);
    [
      [1, 0, 0.3],
      [2, 0, 0.4],
      [3, 0, 0.2],
      [4, 1, 0.1],
    ].forEach(([id, y, u], i) => ((bank.x[i] = id), (bank.y[i] = y), (bank.u[i] = u)));
    bank.count[0] = 4;
    // Lower: the best majority score (0.4 / ln 2) is below the newcomer's (0.9 / ln 2).
    expect(put(bank, c, 5, 1, 0.9)).toEqual({ kind: 'dropped' });
    // Equal: not strictly higher, so still dropped.
    expect(put(bank, c, 6, 1, 0.4)).toEqual({ kind: 'dropped' });
    expect(ids(bank)).toEqual([1, 2, 3, 4]);
    expect(items(bank).map((it) => it.age)).toEqual([2, 2, 2, 2]);
  });

  it('class at quota: eviction within the class only (even when another class holds a higher score)', () => {
    const c = cfg(4, 2, 0, 1); // quota 2
    const bank = emptyBank(4, 1);
    put(bank, c, 1, 0, 0.5);
    put(bank, c, 2, 0, 0.2);
    put(bank, c, 3, 1, 2.0);
    expect(put(bank, c, 4, 0, 0.3)).toMatchObject({ kind: 'replaced', evicted: { y: 0, u: expect.closeTo(0.5, 7) } });
    expect(ids(bank)).toEqual([2, 3, 4]);
    expect(bank.count[0]).toBe(3);
    // Class 0 full again; its best (0.3) does not beat a newcomer with u 0.3 -> dropped although the bank has room.
    expect(put(bank, c, 5, 0, 0.3)).toEqual({ kind: 'dropped' });
    expect(bank.count[0]).toBe(3);
  });

  it('a score tie is broken towards the later (younger) item', () => {
    const c = cfg(4, 2, 0, 1); // scores are u / ln 2: equal u -> equal scores
    const bank = emptyBank(4, 1);
    put(bank, c, 1, 0, 0.6); // older
    put(bank, c, 2, 0, 0.6); // later, same score
    expect(put(bank, c, 3, 0, 0.1)).toMatchObject({ kind: 'replaced', evicted: { age: 1 } });
    expect(ids(bank)).toEqual([1, 3]);
    // The same when the later item sits in the lower slot (slots are reused after an eviction).
    const b2 = emptyBank(4, 1);
    [
      [1, 0, 0.6, 1], // later (younger)
      [2, 0, 0.6, 5],
    ].forEach(([id, y, u, age], i) => ((b2.x[i] = id), (b2.y[i] = y), (b2.u[i] = u), (b2.age[i] = age)));
    b2.count[0] = 2;
    expect(put(b2, c, 3, 0, 0.1)).toMatchObject({ kind: 'replaced', slot: 0, evicted: { age: 1 } });
  });

  it('the quota is the float N/K: with N = 64, K = 10 a class holds 7 items before its own items are evicted (6 < 6.4 <= 7)', () => {
    const c = cfg(64, 10, 0, 1);
    const bank = emptyBank(64, 1);
    for (let i = 0; i < 7; i++) expect(put(bank, c, i, 3, 1).kind).toBe('added');
    expect(occupancy(bank, 10)[3]).toBe(7);
    // The eighth class-3 sample takes the class-full branch: a more confident one replaces a class-3 item...
    expect(put(bank, c, 100, 3, 0.5)).toMatchObject({ kind: 'replaced', evicted: { y: 3 } });
    // ...a less confident one is dropped, although the bank (8 of 64) has room.
    expect(put(bank, c, 101, 3, 2)).toEqual({ kind: 'dropped' });
    expect(bank.count[0]).toBe(7);
    // With N = 60 the quota is exactly 6, so the seventh sample already takes the class-full branch.
    const c60 = cfg(60, 10, 0, 1);
    const b60 = emptyBank(60, 1);
    for (let i = 0; i < 6; i++) put(b60, c60, i, 3, 1);
    expect(put(b60, c60, 6, 3, 2)).toEqual({ kind: 'dropped' });
  });

  it('timeliness weights are sigmoid(-age/N): 0.5 at age 0, 0.269 at age N', () => {
    const bank = emptyBank(64, 1);
    bank.count[0] = 2;
    bank.age[0] = 0;
    bank.age[1] = 64;
    const w = timeliness(bank, 64);
    expect(w[0]).toBeCloseTo(0.5, 7);
    expect(w[1]).toBeCloseTo(1 / (1 + Math.E), 7);
  });

  it('rejects a pseudo-label outside [0, K) and an item of the wrong size', () => {
    const bank = emptyBank(4, 2);
    expect(() => insert(bank, cfg(4, 2), { x: [0, 0], y: 2, u: 0 })).toThrow(/not a class/);
    expect(() => insert(bank, cfg(4, 2), { x: [0], y: 0, u: 0 })).toThrow(/values/);
  });
});
