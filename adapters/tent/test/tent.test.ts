import fs from 'node:fs';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdaptiveSession } from '@edgetta/sdk';
import { compilePass, findBatchNorms } from '@edgetta/compiler';
import { decodeModel } from '@edgetta/onnx';
import { countErrors, embeddedModelPath, goldenDir, goldenInput, noisyEmbeddedSample, readNpyFile, resnetPath } from '@edgetta/testing';
import { tfjsGradients, useTfjsBackend } from '@edgetta/testing/tfjs';
import type { MethodDefinition } from '@edgetta/core';
import { tent, type TentOptions } from '../src/index.js';

/*
 * Tent on ResNet-20 through AdaptiveSession (onnxruntime-node), against PyTorch's golden logits
 * and a step computed by hand from the tfjs autodiff oracle and Adam's formula.
 */
const input = goldenInput(256);
const batch = (b: number, n = 64) => new ort.Tensor('float32', input.slice(b * 64 * 3072, (b * 64 + n) * 3072), [n, 3, 32, 32]);
const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

describe('tent on ResNet-20', () => {
  let s: AdaptiveSession;
  beforeAll(async () => {
    s = await AdaptiveSession.create(resnetPath, { method: 'tent', runtime: 'node' });
  });
  afterAll(() => s.dispose());

  it('4 batches of 64: the returned logits match PyTorch (logits_tent.npy) within 1e-2', async () => {
    s.reset();
    const gold = readNpyFile(`${goldenDir}logits_tent.npy`).data as Float32Array;
    const diffs: number[] = [];
    for (let b = 0; b < 4; b++) {
      const out = await s.run({ input: batch(b) });
      diffs.push(maxAbs(out.logits.data as Float32Array, gold.subarray(b * 640, (b + 1) * 640)));
      expect(s.stats.lastUpdate?.applied).toBe(true);
    }
    console.log(`tent vs PyTorch, max abs logit difference per batch: ${diffs.map((d) => d.toExponential(2)).join(', ')}`);
    // The first batch is pre-update (source parameters); later ones follow 1-3 Adam steps.
    for (const d of diffs) expect(d).toBeLessThan(1e-2);
    expect(s.stats.updates).toEqual({ applied: 4, skipped: 0 });
  });

  it('the first batch gradients seen by the step equal PyTorch (tent_first_batch_grads.npy, relative L2 <= 1e-3)', async () => {
    let grads: Record<string, Float32Array> = {};
    const probe: MethodDefinition<TentOptions> = {
      ...tent,
      name: 'tent-probe',
      step: (ctx) => tent.step({ ...ctx, run: async (pass, args) => { const out = await ctx.run(pass, args); grads = out.grads!; return out; } }),
    };
    const p = await AdaptiveSession.create(resnetPath, { method: probe, runtime: 'node' });
    await p.run({ input: batch(0) });
    await p.dispose();
    const golden = readNpyFile(`${goldenDir}tent_first_batch_grads.npy`).data as Float32Array;
    const mine = s.layerInfo.flatMap((_, i) => [...grads[`layer.${i}.gamma`], ...grads[`layer.${i}.beta`]]);
    let num = 0;
    let den = 0;
    for (let i = 0; i < golden.length; i++) (num += (mine[i] - golden[i]) ** 2), (den += golden[i] ** 2);
    console.log(`tent first-batch gradients through AdaptiveSession vs PyTorch: rel L2 ${Math.sqrt(num / den).toExponential(2)}`);
    expect(mine.length).toBe(golden.length);
    expect(Math.sqrt(num / den)).toBeLessThan(1e-3);
  });

  it('one step equals Adam applied by hand to the tfjs-oracle gradients (batch 16)', async () => {
    s.reset();
    const x = batch(0, 16);
    await s.run({ input: x });
    const state = s.snapshot().state;
    // Oracle: tfjs autodiff of the compiled forward graph at the source parameters.
    const model = decodeModel(new Uint8Array(fs.readFileSync(resnetPath)));
    const sites = findBatchNorms(model);
    const layers = sites.map(({ node: _n, input: _i, output: _o, ...l }) => ({ ...l, rank: 4 }));
    const forward = compilePass(model, sites, layers, { ...tent.passes.adapt, grads: [] }, { options: tent.defaults });
    const feeds: Record<string, { data: Float32Array; dims: number[] }> = { input: { data: x.data as Float32Array, dims: [16, 3, 32, 32] } };
    const keys = sites.flatMap((l) => [`layer.${l.index}.gamma`, `layer.${l.index}.beta`]);
    for (const l of sites) {
      feeds[`edgetta.state.layer.${l.index}.gamma`] = { data: l.gamma, dims: [l.channels] };
      feeds[`edgetta.state.layer.${l.index}.beta`] = { data: l.beta, dims: [l.channels] };
    }
    await useTfjsBackend('wasm');
    const { grads } = tfjsGradients(forward.model, feeds, forward.grad!.loss, keys.map((k) => `edgetta.state.${k}`));
    await useTfjsBackend('cpu');
    // Adam, first step (t = 1): m = 0.1 g, v = 0.001 g^2, theta -= lr * m_hat / (sqrt(v_hat) + eps).
    const lr = 1e-3;
    let worstTheta = 0;
    let flips = 0;
    let mErr = 0;
    let mNorm = 0;
    for (const k of keys) {
      const i = Number(k.split('.')[1]);
      const theta0 = k.endsWith('gamma') ? sites[i].gamma : sites[i].beta;
      const g = grads[`edgetta.state.${k}`];
      const name = k.split('.')[2];
      for (let j = 0; j < g.length; j++) {
        const expected = theta0[j] - (lr * g[j]) / (Math.abs(g[j]) + 1e-8);
        const d = Math.abs(state[k][j] - expected);
        // Adam's first step is lr * sign(g): a gradient within noise of 0 may flip it (counted).
        if (Math.abs(g[j]) < 1e-6 && d > 1e-5) flips++;
        else worstTheta = Math.max(worstTheta, d);
        mErr += (state[`layer.${i}.adam.m.${name}`][j] - 0.1 * g[j]) ** 2;
        mNorm += (0.1 * g[j]) ** 2;
      }
    }
    const mRel = Math.sqrt(mErr / mNorm);
    console.log(`one Tent step vs hand-computed Adam: max |theta - expected| ${worstTheta.toExponential(2)}, rel L2 of the first moment m vs 0.1 g ${mRel.toExponential(2)}, sign flips at |g| < 1e-6: ${flips}`);
    expect(state['adam.t'][0]).toBe(1);
    expect(worstTheta).toBeLessThan(1e-6);
    expect(mRel).toBeLessThan(1e-3);
    expect(flips).toBe(0);
  });
});

describe('tent: guarded updates, state, options', () => {
  let s: AdaptiveSession;
  beforeAll(async () => {
    s = await AdaptiveSession.create(resnetPath, { method: 'tent', runtime: 'node' });
  });
  afterAll(() => s.dispose());

  it('a NaN loss skips the update, reports it, and leaves the state exactly as it was', async () => {
    s.reset();
    await s.run({ input: batch(0, 16) });
    const before = s.snapshot().state;
    // Finite but huge pixels overflow the first convolution: inf - inf = NaN in the batch statistics.
    const huge = new ort.Tensor('float32', new Float32Array(16 * 3072).fill(3e38), [16, 3, 32, 32]);
    await s.run({ input: huge });
    expect(s.stats.lastUpdate).toMatchObject({ applied: false, skipped: expect.stringMatching(/non-finite loss/) });
    expect(s.stats.updates).toEqual({ applied: 1, skipped: 1 });
    const after = s.snapshot().state;
    for (const k of Object.keys(before)) expect(after[k], k).toEqual(before[k]);
  });

  it('snapshot/restore covers the parameters and the Adam moments; reset returns to the source', async () => {
    s.reset();
    await s.run({ input: batch(0, 16) });
    await s.run({ input: batch(1, 16) });
    const snap = s.snapshot();
    expect(snap.state['adam.t'][0]).toBe(2);
    expect(snap.state['layer.3.adam.v.gamma'].some((v) => v > 0)).toBe(true);
    const a = (await s.run({ input: batch(2, 16) })).logits.data as Float32Array;
    s.restore(snap);
    const b = (await s.run({ input: batch(2, 16) })).logits.data as Float32Array;
    expect(b).toEqual(a);
    s.reset();
    const state = s.snapshot().state;
    expect(state['adam.t'][0]).toBe(0);
    expect(state['layer.0.adam.m.beta'].every((v) => v === 0)).toBe(true);
    expect(s.stats.updates).toEqual({ applied: 0, skipped: 0 });
  });

  it('a step that would make a parameter non-finite is skipped', async () => {
    const t = await AdaptiveSession.create(resnetPath, { method: 'tent', runtime: 'node', methodOptions: { lr: 1e39 } });
    const before = t.snapshot().state;
    await t.run({ input: batch(0, 16) });
    expect(t.stats.lastUpdate).toMatchObject({ applied: false, skipped: expect.stringMatching(/would make 'layer\.\d+\.(gamma|beta)' non-finite/) });
    const after = t.snapshot().state;
    for (const k of Object.keys(before)) expect(after[k], k).toEqual(before[k]);
    await t.dispose();
  });

  it('episodic resets before every batch; steps > 1 adapts several times per batch; options are validated', async () => {
    const e = await AdaptiveSession.create(resnetPath, { method: 'tent', runtime: 'node', methodOptions: { episodic: true, steps: 2 } });
    const first = (await e.run({ input: batch(0, 16) })).logits.data as Float32Array;
    expect(e.snapshot().state['adam.t'][0]).toBe(2);
    await e.run({ input: batch(1, 16) });
    const again = (await e.run({ input: batch(0, 16) })).logits.data as Float32Array;
    expect(again).toEqual(first);
    await e.dispose();
    await expect(AdaptiveSession.create(resnetPath, { method: 'tent', methodOptions: { episodic: 1 } })).rejects.toThrow(/episodic: expected true or false/);
    await expect(AdaptiveSession.create(resnetPath, { method: 'tent', methodOptions: { steps: 0 } })).rejects.toThrow(/steps: must be >= 1/);
  });
});

describe('tent on the embedded sample with Gaussian noise (severity 5)', () => {
  it('improves on norm and lowers the mean entropy (two passes over 960 images, batches of 64)', async () => {
    const { x, labels } = noisyEmbeddedSample(960);
    const result: Record<string, { errors: number; entropy: number[] }> = {};
    for (const method of ['norm', 'tent']) {
      const m = await AdaptiveSession.create(embeddedModelPath, { method, runtime: 'node' });
      const r = (result[method] = { errors: 0, entropy: [] as number[] });
      for (let i = 0; i < 30; i++) {
        const b = i % 15;
        const out = await m.run({ input: new ort.Tensor('float32', x.slice(b * 64 * 3072, (b + 1) * 64 * 3072), [64, 3, 32, 32]) });
        r.errors += countErrors(out.logits.data as Float32Array, labels, b * 64);
        r.entropy.push(m.stats.lastEntropy!);
      }
      await m.dispose();
    }
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    const { norm, tent: t } = result;
    console.log(
      `noisy sample, 1920 predictions: norm ${((100 * norm.errors) / 1920).toFixed(2)} % error, tent ${((100 * t.errors) / 1920).toFixed(2)} %; ` +
        `tent mean entropy ${mean(t.entropy.slice(0, 15)).toFixed(3)} (pass 1) -> ${mean(t.entropy.slice(15)).toFixed(3)} (pass 2), norm ${mean(norm.entropy.slice(15)).toFixed(3)} (pass 2)`,
    );
    expect(t.errors).toBeLessThan(norm.errors);
    expect(mean(t.entropy.slice(15))).toBeLessThan(mean(t.entropy.slice(0, 15)) - 0.03);
    expect(mean(t.entropy.slice(15))).toBeLessThan(mean(norm.entropy.slice(15)));
  });
});
