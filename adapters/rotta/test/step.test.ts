import { describe, expect, it } from 'vitest';
import { layerKey, MapStateStore, nd, RejectedStateError, referenceOps, Rng, type Batch, type LayerSource, type NDArray, type PassOutput, type RunArgs, type StepContext } from '@edgetta/core';
import { rotta, rbnEval, rbnTrain, type RottaOptions } from '../src/index.js';
import { nchwToNhwc } from '../src/layout.js';

/*
 * The RBN equations written out by hand (independently of rbn.ts), and the host-side step on a
 * scripted context: atomic skipped updates, the teacher EMA, NHWC batches, several updates per batch.
 */

const rand = (rng: Rng, n: number, scale = 1, offset = 0) => Float32Array.from({ length: n }, () => offset + scale * rng.normal());

describe('rotta RBN equations', () => {
  const rng = new Rng(3);
  const [B, C, H, W] = [3, 2, 4, 4];
  const x = rand(rng, B * C * H * W, 2, 0.5);
  const st: Record<string, Float32Array> = {};
  for (const who of ['t', 's']) {
    st[`${who}.mean`] = rand(rng, C, 0.3);
    st[`${who}.variance`] = Float32Array.from(rand(rng, C, 0.2, 1), Math.abs);
    st[`${who}.gamma`] = rand(rng, C, 0.2, 1);
    st[`${who}.beta`] = rand(rng, C, 0.1);
  }
  const layer = { index: 0, name: 'bn', channels: C, rank: 4, epsilon: 1e-5 };
  const args = { ops: referenceOps, x: nd(x, [B, C, H, W]), layer, options: { alpha: 0.05 }, gamma: nd([9, 9], [C]), beta: nd([9, 9], [C]), source: { mean: nd([9, 9], [C]), variance: nd([9, 9], [C]) }, state: Object.fromEntries(Object.entries(st).map(([k, v]) => [k, nd(v, [C])])) as Record<string, NDArray>, hyper: {} };
  const at = (b: number, c: number, i: number) => x[(b * C + c) * H * W + i];

  it("train mode mixes the model's own globals with the biased batch statistics (alpha 0.05), normalizes with and writes back the mix", () => {
    for (const who of ['t', 's'] as const) {
      const r = rbnTrain(args, who);
      for (let c = 0; c < C; c++) {
        let m = 0;
        for (let b = 0; b < B; b++) for (let i = 0; i < H * W; i++) m += at(b, c, i);
        m /= B * H * W;
        let v = 0;
        for (let b = 0; b < B; b++) for (let i = 0; i < H * W; i++) v += (at(b, c, i) - m) ** 2;
        v /= B * H * W; // biased
        const mu = 0.95 * st[`${who}.mean`][c] + 0.05 * m;
        const va = 0.95 * st[`${who}.variance`][c] + 0.05 * v;
        expect(r.state![`${who}.mean`].data[c]).toBeCloseTo(mu, 12);
        expect(r.state![`${who}.variance`].data[c]).toBeCloseTo(va, 12);
        for (let b = 0; b < B; b++) {
          for (let i = 0; i < H * W; i++) {
            const want = (st[`${who}.gamma`][c] * (at(b, c, i) - mu)) / Math.sqrt(va + 1e-5) + st[`${who}.beta`][c];
            expect(r.y.data[(b * C + c) * H * W + i]).toBeCloseTo(want, 10);
          }
        }
      }
    }
  });

  it("eval mode normalizes with the model's stored globals and affine parameters only", () => {
    const r = rbnEval(args, 't');
    for (let c = 0; c < C; c++) {
      for (let i = 0; i < H * W; i++) {
        const want = (st['t.gamma'][c] * (at(1, c, i) - st['t.mean'][c])) / Math.sqrt(st['t.variance'][c] + 1e-5) + st['t.beta'][c];
        expect(r.y.data[(1 * C + c) * H * W + i]).toBeCloseTo(want, 10);
      }
    }
    expect(r.state).toBeUndefined();
  });
});

// A scripted context: one 2-channel layer, images [n, 2, 3, 3], 2 classes.
const C = 2;
const PER = C * 9;
const layer: LayerSource = { index: 0, name: 'bn', channels: C, rank: 4, epsilon: 1e-5, gamma: Float32Array.of(1, 0.5), beta: Float32Array.of(0, 0.1), mean: Float32Array.of(0.2, -0.1), variance: Float32Array.of(1, 2) };

interface Script {
  /** Teacher eval logits per sample (2 classes). */
  logits?: (i: number) => [number, number];
  teacher?: (state: MapStateStore) => void;
  student?: (state: MapStateStore) => Partial<PassOutput>;
}

function context(options: Partial<RottaOptions>, batch: Batch, script: Script = {}) {
  const o = { ...rotta.defaults, capacity: 4, updateEvery: 4, ...options };
  const init: Record<string, Float32Array> = { ...rotta.initState!(o) };
  for (const [k, v] of Object.entries(rotta.initLayerState!(layer, o))) init[layerKey(0, k)] = v;
  const state = new MapStateStore(init);
  const calls: { pass: string; args?: RunArgs }[] = [];
  const logits = (n: number, f: (i: number) => [number, number]) => ({ data: Float32Array.from({ length: 2 * n }, (_, j) => f(j >> 1)[j & 1]), dims: [n, 2] });
  const ctx: StepContext<RottaOptions> = {
    options: o,
    batch,
    layers: [layer],
    state,
    step: 0,
    async run(pass, args) {
      calls.push({ pass, args });
      const n = (args?.input ?? batch).dims[0];
      if (pass === 'predict') return { outputs: {}, logits: logits(n, script.logits ?? ((i) => (i % 2 ? [0, 1 + i] : [1 + i, 0]))) };
      if (pass === 'teacher') {
        (script.teacher ?? ((s) => s.set(layerKey(0, 't.mean'), Float32Array.of(9, 9))))(state);
        return { outputs: {}, logits: logits(n, () => [1, 0]) };
      }
      state.set(layerKey(0, 's.mean'), Float32Array.of(7, 7));
      return { outputs: {}, logits: logits(n, () => [0, 1]), loss: 0.5, grads: { [layerKey(0, 's.gamma')]: Float32Array.of(1, -1), [layerKey(0, 's.beta')]: Float32Array.of(0.5, 0) }, ...script.student?.(state) };
    },
  };
  return { ctx, state, calls, init };
}

const images = (n: number) => Float32Array.from({ length: n * PER }, (_, i) => ((i * 37) % 101) / 101);
const nchw = (n: number): Batch => ({ data: images(n), dims: [n, C, 3, 3] });

describe('rotta step', () => {
  it('an applied update: Adam on the student, teacher EMA by nu over gamma/beta only, the statistics writes kept', async () => {
    const { ctx, state, init } = context({}, nchw(4));
    const out = await rotta.step(ctx);
    expect(out.update).toMatchObject({ applied: true, loss: 0.5, samples: 4 });
    const sg = state.get('layer.0.s.gamma');
    // Adam's first step: lr * sign(g).
    expect(sg[0]).toBeCloseTo(1 - 1e-3, 6);
    expect(sg[1]).toBeCloseTo(0.5 + 1e-3, 6);
    expect(state.get('layer.0.t.gamma')).toEqual(Float32Array.from(init['layer.0.t.gamma'], (v, i) => 0.999 * v + 0.001 * sg[i]));
    expect(state.get('layer.0.t.mean')).toEqual(Float32Array.of(9, 9));
    expect(state.get('layer.0.s.mean')).toEqual(Float32Array.of(7, 7));
    expect(state.get('rotta.updates')[0]).toBe(1);
  });

  it('a non-finite loss skips the update: nothing of the model changes (statistics writes rolled back), the memory keeps its samples', async () => {
    const { ctx, state, init } = context({}, nchw(4), { student: () => ({ loss: NaN }) });
    const out = await rotta.step(ctx);
    expect(out.update).toMatchObject({ applied: false, skipped: expect.stringMatching(/non-finite loss/) });
    for (const k of Object.keys(init).filter((k) => k.startsWith('layer.') || k === 'adam.t')) expect(state.get(k), k).toEqual(init[k]);
    expect(state.get('rotta.mem.count')[0]).toBeGreaterThan(0);
    expect(state.get('rotta.counter')[0]).toBe(0);
  });

  it('a pass refusing a non-finite statistic is reported as a skipped update and rolled back; other errors propagate', async () => {
    const refuse = () => {
      throw new RejectedStateError("pass 'teacher' produced a non-finite value in state 'layer.0.t.mean'; the update was rejected and the state is unchanged", 'layer.0.t.mean');
    };
    const a = context({}, nchw(4), { teacher: refuse });
    const out = await rotta.step(a.ctx);
    expect(out.update).toMatchObject({ applied: false, skipped: expect.stringMatching(/non-finite value in state/) });
    for (const k of Object.keys(a.init).filter((k) => k.startsWith('layer.'))) expect(a.state.get(k), k).toEqual(a.init[k]);
    const b = context({}, nchw(4), {
      teacher: () => {
        throw new Error('session disposed');
      },
    });
    await expect(rotta.step(b.ctx)).rejects.toThrow(/session disposed/);
    // The decision is typed: the same English text in a plain Error is not a refused write.
    const c = context({}, nchw(4), {
      teacher: () => {
        throw new Error("pass 'teacher' produced a non-finite value in state 'layer.0.t.mean'");
      },
    });
    await expect(rotta.step(c.ctx)).rejects.toThrow(/non-finite value/);
  });

  it('several updates in one batch are each run (mid-batch) and listed in one report', async () => {
    const { ctx, calls } = context({}, nchw(9));
    const out = await rotta.step(ctx);
    expect(calls.map((c) => c.pass)).toEqual(['predict', 'teacher', 'student', 'teacher', 'student']);
    expect(out.update).toMatchObject({ applied: true, events: [expect.stringMatching(/^update 1\/2: applied/), expect.stringMatching(/^update 2\/2: applied/)] });
    expect(ctx.state.get('rotta.counter')[0]).toBe(1);
  });

  it('a sample with non-finite teacher logits is not stored but counts and ages the memory', async () => {
    const { ctx, state } = context({ updateEvery: 64 }, nchw(3), { logits: (i) => (i === 1 ? [NaN, 0] : [1, 0]) });
    await rotta.step(ctx);
    expect(state.get('rotta.mem.count')[0]).toBe(2);
    expect([...state.get('rotta.mem.age').subarray(0, 2)]).toEqual([3, 1]);
    expect(state.get('rotta.counter')[0]).toBe(3);
  });

  it('NHWC batches give the same memory, and the memory batches are fed back as NHWC', async () => {
    const a = context({}, nchw(4));
    await rotta.step(a.ctx);
    const b = context({}, { data: nchwToNhwc(images(4), 4, C, 3, 3), dims: [4, 3, 3, C], layout: 'NHWC' });
    await rotta.step(b.ctx);
    expect(b.state.get('rotta.mem.x')).toEqual(a.state.get('rotta.mem.x'));
    for (const pass of ['teacher', 'student']) {
      const na = a.calls.find((c) => c.pass === pass)!.args!.input!;
      const nb = b.calls.find((c) => c.pass === pass)!.args!.input!;
      expect(nb.dims).toEqual([na.dims[0], 3, 3, C]);
      expect(nb.layout).toBe('NHWC');
      expect(nb.data).toEqual(nchwToNhwc(na.data, na.dims[0], C, 3, 3));
    }
  });

  it('rejects a batch of another image size than the memory holds, and non-image inputs', async () => {
    const { ctx } = context({ updateEvery: 64 }, nchw(2));
    await rotta.step(ctx);
    await expect(rotta.step({ ...ctx, batch: { data: new Float32Array(2 * C * 16), dims: [2, C, 4, 4] } })).rejects.toThrow(/reset\(\) before changing the input size/);
    await expect(rotta.step({ ...ctx, batch: { data: new Float32Array(4), dims: [2, 2] } })).rejects.toThrow(/rank-4 image batch/);
  });
});
