/**
 * Optimizers over named Float32Arrays in the session's state store (PyTorch semantics), so their
 * moments are part of snapshot()/restore()/reset() like any other state. A parameter `layer.3.gamma`
 * keeps its Adam moments at `layer.3.adam.m.gamma` / `layer.3.adam.v.gamma`; the step count at
 * `adam.t`. Steps are all-or-nothing: a non-finite gradient or result leaves every entry untouched.
 */
import type { StateStore } from './method.js';

export interface StepOutcome {
  applied: boolean;
  /** Why nothing changed. */
  skipped?: string;
}

export interface Optimizer {
  readonly name: string;
  /** Per-parameter state entries for `names` of one layer (`initLayerState`), zeros of `size`. */
  slots(names: readonly string[], size: number): Record<string, Float32Array>;
  /** Method-level entries (`initState`). */
  init(): Record<string, Float32Array>;
  /** One step on every parameter in `grads` (keys of the store). */
  step(store: StateStore, grads: Readonly<Record<string, Float32Array>>): StepOutcome;
}

/** Key of an optimizer slot of a parameter: `layer.3.gamma` + `adam.m` -> `layer.3.adam.m.gamma`. */
export function slotKey(param: string, slot: string): string {
  const i = param.lastIndexOf('.');
  return `${param.slice(0, i + 1)}${slot}.${param.slice(i + 1)}`;
}

function zeros(names: readonly string[], slots: readonly string[], size: number): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const n of names) for (const s of slots) out[`${s}.${n}`] = new Float32Array(size);
  return out;
}

/** The first non-finite gradient, for the skip reason. */
function badGradient(grads: Readonly<Record<string, Float32Array>>): string | undefined {
  for (const [k, g] of Object.entries(grads)) for (let i = 0; i < g.length; i++) if (!Number.isFinite(g[i])) return `non-finite gradient ${g[i]} in '${k}'`;
  return undefined;
}

/** Computes every new value first, then commits them together only if all are finite. */
function commit(store: StateStore, updates: Map<string, Float32Array>): StepOutcome {
  for (const [k, v] of updates) {
    for (let i = 0; i < v.length; i++) {
      if (!Number.isFinite(v[i])) return { applied: false, skipped: `the step would make '${k}' non-finite (${v[i]})` };
    }
  }
  for (const [k, v] of updates) store.set(k, v);
  return { applied: true };
}

export interface SgdOptions {
  lr: number;
  /** @defaultValue 0 */
  momentum?: number;
  /** @defaultValue 0 */
  dampening?: number;
  /** @defaultValue false */
  nesterov?: boolean;
  /** L2 penalty added to the gradient. @defaultValue 0 */
  weightDecay?: number;
}

/** torch.optim.SGD: g += wd*theta; buf = g on the first step, else mu*buf + (1 - dampening)*g; theta -= lr*(nesterov ? g + mu*buf : buf). */
export function sgd(o: SgdOptions): Optimizer {
  const { lr, momentum = 0, dampening = 0, nesterov = false, weightDecay = 0 } = o;
  if (nesterov && (momentum <= 0 || dampening !== 0)) throw new Error('sgd: nesterov needs momentum > 0 and dampening 0');
  return {
    name: 'sgd',
    slots: (names, size) => (momentum ? zeros(names, ['sgd.buf'], size) : {}),
    init: () => ({ 'sgd.t': new Float32Array(1) }),
    step(store, grads) {
      const bad = badGradient(grads);
      if (bad) return { applied: false, skipped: bad };
      const first = store.get('sgd.t')[0] === 0;
      const updates = new Map<string, Float32Array>();
      for (const [k, g] of Object.entries(grads)) {
        const theta = store.get(k);
        const buf = momentum ? store.get(slotKey(k, 'sgd.buf')) : undefined;
        const nt = new Float32Array(theta.length);
        const nb = buf ? new Float32Array(buf.length) : undefined;
        for (let i = 0; i < theta.length; i++) {
          let d = g[i] + weightDecay * theta[i];
          if (nb) {
            nb[i] = first ? d : momentum * buf![i] + (1 - dampening) * d;
            d = nesterov ? d + momentum * nb[i] : nb[i];
          }
          nt[i] = theta[i] - lr * d;
        }
        updates.set(k, nt);
        if (nb) updates.set(slotKey(k, 'sgd.buf'), nb);
      }
      updates.set('sgd.t', Float32Array.of(store.get('sgd.t')[0] + 1));
      return commit(store, updates);
    },
  };
}

export interface AdamOptions {
  lr: number;
  /** @defaultValue [0.9, 0.999] */
  betas?: readonly [number, number];
  /** @defaultValue 1e-8 */
  eps?: number;
  /** L2 penalty added to the gradient (torch.optim.Adam, not AdamW). @defaultValue 0 */
  weightDecay?: number;
}

/** torch.optim.Adam: m, v moments with bias correction; theta -= lr * m_hat / (sqrt(v_hat) + eps). */
export function adam(o: AdamOptions): Optimizer {
  const { lr, betas: [b1, b2] = [0.9, 0.999], eps = 1e-8, weightDecay = 0 } = o;
  return {
    name: 'adam',
    slots: (names, size) => zeros(names, ['adam.m', 'adam.v'], size),
    init: () => ({ 'adam.t': new Float32Array(1) }),
    step(store, grads) {
      const bad = badGradient(grads);
      if (bad) return { applied: false, skipped: bad };
      const t = store.get('adam.t')[0] + 1;
      const bc1 = 1 - Math.pow(b1, t);
      const bc2 = 1 - Math.pow(b2, t);
      const updates = new Map<string, Float32Array>();
      for (const [k, g] of Object.entries(grads)) {
        const theta = store.get(k);
        const m = store.get(slotKey(k, 'adam.m'));
        const v = store.get(slotKey(k, 'adam.v'));
        const nt = new Float32Array(theta.length);
        const nm = new Float32Array(m.length);
        const nv = new Float32Array(v.length);
        for (let i = 0; i < theta.length; i++) {
          const d = g[i] + weightDecay * theta[i];
          nm[i] = b1 * m[i] + (1 - b1) * d;
          nv[i] = b2 * v[i] + (1 - b2) * d * d;
          nt[i] = theta[i] - (lr / bc1) * (nm[i] / (Math.sqrt(nv[i]) / Math.sqrt(bc2) + eps));
        }
        updates.set(k, nt).set(slotKey(k, 'adam.m'), nm).set(slotKey(k, 'adam.v'), nv);
      }
      updates.set('adam.t', Float32Array.of(t));
      return commit(store, updates);
    },
  };
}

/**
 * Sharpness-aware minimization (Foret et al., ICLR 2021), as SAR uses it: `ascend` moves the
 * parameters to theta + rho * g / ||g||_2 (norm over all of them) and returns the point to come back
 * to; `descend` restores it and takes the base optimizer's step with the gradient taken there.
 */
export const sam = {
  ascend(store: StateStore, grads: Readonly<Record<string, Float32Array>>, rho: number): { applied: boolean; skipped?: string; saved: Record<string, Float32Array> } {
    const bad = badGradient(grads);
    if (bad) return { applied: false, skipped: bad, saved: {} };
    let sq = 0;
    for (const g of Object.values(grads)) for (let i = 0; i < g.length; i++) sq += g[i] * g[i];
    const scale = rho / (Math.sqrt(sq) + 1e-12);
    const saved: Record<string, Float32Array> = {};
    const updates = new Map<string, Float32Array>();
    for (const [k, g] of Object.entries(grads)) {
      const theta = store.get(k);
      saved[k] = theta.slice();
      updates.set(k, Float32Array.from(theta, (v, i) => v + scale * g[i]));
    }
    const r = commit(store, updates);
    return { ...r, saved };
  },
  descend(store: StateStore, saved: Readonly<Record<string, Float32Array>>, base: Optimizer, grads: Readonly<Record<string, Float32Array>>): StepOutcome {
    for (const [k, v] of Object.entries(saved)) store.set(k, v.slice());
    return base.step(store, grads);
  },
};
