import { describe, expect, it } from 'vitest';
import { adam, MapStateStore, sam, sgd, slotKey } from '../src/index.js';

/*
 * Optimizers against their update rules written out by hand (torch.optim semantics), in float64;
 * the store holds float32, so values agree to float32 rounding (1e-6 relative).
 */
const close = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(b[i])));
};

function store(opt: ReturnType<typeof adam>, theta: number[]) {
  return new MapStateStore({ 'layer.0.gamma': Float32Array.from(theta), ...prefix(opt.slots(['gamma'], theta.length)), ...opt.init() });
}
const prefix = (slots: Record<string, Float32Array>) => Object.fromEntries(Object.entries(slots).map(([k, v]) => [`layer.0.${k}`, v]));

describe('optimizers', () => {
  it('slot keys sit next to their parameter', () => {
    expect(slotKey('layer.3.gamma', 'adam.m')).toBe('layer.3.adam.m.gamma');
    expect(slotKey('bias', 'sgd.buf')).toBe('sgd.buf.bias');
  });

  it('Adam: three steps with bias correction and L2 weight decay', () => {
    const [lr, b1, b2, eps, wd] = [0.01, 0.8, 0.95, 1e-6, 0.1];
    const opt = adam({ lr, betas: [b1, b2], eps, weightDecay: wd });
    const s = store(opt, [1, -2, 0.5]);
    const theta = [1, -2, 0.5];
    const m = [0, 0, 0];
    const v = [0, 0, 0];
    const grads = [[0.3, -0.1, 2], [0.2, 0.05, -1], [-0.4, 0.3, 0.5]];
    grads.forEach((g, step) => {
      const t = step + 1;
      for (let i = 0; i < 3; i++) {
        const d = g[i] + wd * theta[i];
        m[i] = b1 * m[i] + (1 - b1) * d;
        v[i] = b2 * v[i] + (1 - b2) * d * d;
        theta[i] -= (lr * (m[i] / (1 - b1 ** t))) / (Math.sqrt(v[i] / (1 - b2 ** t)) + eps);
      }
      expect(opt.step(s, { 'layer.0.gamma': Float32Array.from(g) })).toEqual({ applied: true });
      close(s.get('layer.0.gamma'), theta);
      close(s.get('layer.0.adam.m.gamma'), m);
      close(s.get('layer.0.adam.v.gamma'), v);
      expect(s.get('adam.t')[0]).toBe(t);
    });
  });

  for (const [label, o] of [
    ['momentum, dampening, weight decay', { lr: 0.1, momentum: 0.9, dampening: 0.2, weightDecay: 0.01 }],
    ['nesterov', { lr: 0.05, momentum: 0.8, nesterov: true }],
    ['plain', { lr: 0.3 }],
  ] as const) {
    it(`SGD (${label}): the first step seeds the buffer with the gradient, as torch.optim.SGD`, () => {
      const opt = sgd(o);
      const s = store(opt as never, [1, -1]);
      const theta = [1, -1];
      const buf = [0, 0];
      const { lr, momentum = 0, dampening = 0, weightDecay = 0, nesterov = false } = o as { lr: number; momentum?: number; dampening?: number; weightDecay?: number; nesterov?: boolean };
      [[0.5, -0.2], [0.1, 0.4], [-0.3, 0.2]].forEach((g, step) => {
        for (let i = 0; i < 2; i++) {
          let d = g[i] + weightDecay * theta[i];
          if (momentum) {
            buf[i] = step === 0 ? d : momentum * buf[i] + (1 - dampening) * d;
            d = nesterov ? d + momentum * buf[i] : buf[i];
          }
          theta[i] -= lr * d;
        }
        expect(opt.step(s, { 'layer.0.gamma': Float32Array.from(g) }).applied).toBe(true);
        close(s.get('layer.0.gamma'), theta);
      });
    });
  }

  it('a non-finite gradient or result changes nothing and says why', () => {
    const opt = adam({ lr: 1e39 });
    const s = store(opt, [1, 2]);
    const before = s.snapshot();
    expect(opt.step(s, { 'layer.0.gamma': Float32Array.of(NaN, 1) })).toEqual({ applied: false, skipped: "non-finite gradient NaN in 'layer.0.gamma'" });
    expect(opt.step(s, { 'layer.0.gamma': Float32Array.of(1, 1) })).toMatchObject({ applied: false, skipped: expect.stringMatching(/would make 'layer\.0\.gamma' non-finite/) });
    expect(s.snapshot()).toEqual(before);
  });

  it('SAM: ascend to theta + rho g / ||g|| over all parameters, descend back and take the base step', () => {
    const base = sgd({ lr: 0.1 });
    const s = new MapStateStore({ a: Float32Array.of(1, 2), b: Float32Array.of(-1), ...base.init() });
    const g = { a: Float32Array.of(3, 0), b: Float32Array.of(4) };
    const up = sam.ascend(s, g, 0.5);
    expect(up.applied).toBe(true);
    close(s.get('a'), [1 + 0.5 * 0.6, 2]);
    close(s.get('b'), [-1 + 0.5 * 0.8]);
    const g2 = { a: Float32Array.of(1, -1), b: Float32Array.of(2) };
    expect(sam.descend(s, up.saved, base, g2).applied).toBe(true);
    close(s.get('a'), [1 - 0.1, 2 + 0.1]);
    close(s.get('b'), [-1 - 0.2]);
  });
});
