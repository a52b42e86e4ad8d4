import fs from 'node:fs';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { compilePass, findBatchNorms } from '@edgetta/compiler';
import { compose, layerKey } from '@edgetta/core';
import { decodeModel } from '@edgetta/onnx';
import { AdaptiveSession } from '@edgetta/sdk';
import { goldenInput, resnetPath } from '@edgetta/testing';
import { gradientError, tfjsGradients, useTfjsBackend } from '@edgetta/testing/tfjs';
import { priorAdjust } from '@edgetta/adapter-prior';
import { batchStats, roidObjective } from '../src/index.js';

/*
 * ROID on ResNet-20 (golden noisy input). The loss is recomputed on the host in float64 from the
 * returned pre-update logits (the paper's equations, written here separately); the gradients of
 * the compiled graph equal tfjs autodiff of the same forward; the class-probability average, the
 * weight ensembling with the source and the prior-corrected answer follow their rules.
 */
const K = 10;
const input = goldenInput(192);
const batch = (b: number, n = 64) => new ort.Tensor('float32', input.slice(b * n * 3072, (b + 1) * n * 3072), [n, 3, 32, 32]);
const raw = compose({ name: 'roid-raw', norm: batchStats, objective: roidObjective });

/** ROID's loss in float64 from logits [N, K] and pbar. */
function roidLoss64(z: Float32Array, pbar: ArrayLike<number>, T = 1 / 3): { loss: number; selected: number } {
  const n = z.length / K;
  const p: number[][] = [];
  for (let i = 0; i < n; i++) {
    const row = Array.from(z.subarray(i * K, (i + 1) * K));
    const m = Math.max(...row);
    const e = row.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    p.push(e.map((v) => v / s));
  }
  const norm = (a: ArrayLike<number>) => Math.sqrt(Array.from(a).reduce((s, v) => s + v * v, 0));
  const div = p.map((q) => 1 - q.reduce((s, v, c) => s + v * pbar[c], 0) / Math.max(norm(q) * norm(pbar), 1e-8));
  const ent = p.map((q) => -q.reduce((s, v) => s + (v > 0 ? v * Math.log(v) : 0), 0));
  const mm = (v: number[]) => {
    const lo = Math.min(...v);
    const hi = Math.max(...v);
    return v.map((x) => (x - lo) / Math.max(hi - lo, 1e-12));
  };
  const d = mm(div);
  const cert = mm(ent.map((h) => -h));
  const mean = d.reduce((a, b) => a + b, 0) / n;
  let loss = 0;
  let selected = 0;
  for (let i = 0; i < n; i++) {
    if (d[i] < mean) continue;
    selected++;
    const w = Math.exp((d[i] * cert[i]) / T);
    const slr = -p[i].reduce((s, v) => {
      const q = Math.min(v, 0.99);
      return s + q * Math.log(q / (1 - q) + 1e-5);
    }, 0);
    loss += (w * slr) / n;
  }
  return { loss, selected };
}

describe('roid on ResNet-20', () => {
  const open: AdaptiveSession[] = [];
  afterAll(async () => {
    for (const s of open) await s.dispose();
  });

  it('loss from the paper equations (1e-5), class-probability average, over 3 batches', async () => {
    const s = await AdaptiveSession.create(resnetPath, { method: raw, runtime: 'node' });
    open.push(s);
    let pbar = new Float64Array(K).fill(1 / K);
    for (let b = 0; b < 3; b++) {
      const z = (await s.run({ input: batch(b) })).logits.data as Float32Array;
      const want = roidLoss64(z, pbar);
      const u = s.stats.lastUpdate!;
      expect(u.applied).toBe(true);
      expect(Math.abs(u.loss! - want.loss) / want.loss, `batch ${b} loss ${u.loss} vs ${want.loss}`).toBeLessThan(1e-5);
      expect(want.selected).toBeGreaterThan(5);
      expect(want.selected).toBeLessThan(64);
      // pbar <- 0.9 pbar + 0.1 mean softmax.
      const mean = new Float64Array(K);
      for (let i = 0; i < 64; i++) {
        const row = Array.from(z.subarray(i * K, (i + 1) * K));
        const m = Math.max(...row);
        const e = row.map((v) => Math.exp(v - m));
        const t = e.reduce((x, y) => x + y, 0);
        e.forEach((v, c) => (mean[c] += v / t / 64));
      }
      pbar = pbar.map((v, c) => 0.9 * v + 0.1 * mean[c]);
      const got = s.snapshot().state['roid.probs'];
      for (let c = 0; c < K; c++) expect(got[c]).toBeCloseTo(pbar[c], 6);
    }
  });

  it('weight ensembling: (gamma, beta) = 0.99 Adam-updated + 0.01 source after each step', async () => {
    const a = await AdaptiveSession.create(resnetPath, { method: raw, runtime: 'node' });
    const b = await AdaptiveSession.create(resnetPath, { method: raw, runtime: 'node', methodOptions: { momentumSrc: 1 } });
    open.push(a, b);
    const src = a.snapshot().state;
    await a.run({ input: batch(0) });
    await b.run({ input: batch(0) });
    const ens = a.snapshot().state;
    const plain = b.snapshot().state;
    let moved = 0;
    for (const key of Object.keys(src).filter((k) => /^layer\.\d+\.(gamma|beta)$/.test(k))) {
      for (let i = 0; i < src[key].length; i++) {
        expect(ens[key][i]).toBeCloseTo(0.99 * plain[key][i] + 0.01 * src[key][i], 6);
        moved = Math.max(moved, Math.abs(plain[key][i] - src[key][i]));
      }
    }
    expect(moved).toBeGreaterThan(1e-4);
  });

  it('answers with the prior-corrected logits of the adapting forward (ROID code form: z * smoothed prior)', async () => {
    const a = await AdaptiveSession.create(resnetPath, { method: 'roid', runtime: 'node' });
    const b = await AdaptiveSession.create(resnetPath, { method: raw, runtime: 'node' });
    open.push(a, b);
    for (let k = 0; k < 2; k++) {
      const za = (await a.run({ input: batch(k) })).logits;
      const zb = (await b.run({ input: batch(k) })).logits;
      const want = priorAdjust({ logits: { data: zb.data as Float32Array, dims: zb.dims }, options: { scaleLogits: true } });
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs((za.data as Float32Array)[i] - want[i]));
      expect(worst).toBeLessThan(1e-4);
    }
    expect(a.options.scaleLogits).toBe(true);
  });

  it('gradients of the compiled loss equal the tfjs autodiff oracle (relative L2 <= 1e-3)', async () => {
    const model = decodeModel(new Uint8Array(fs.readFileSync(resnetPath)));
    const sites = findBatchNorms(model);
    const layers = sites.map(({ node: _n, input: _i, output: _o, ...l }) => ({ ...l, rank: 4 }));
    const feeds: Record<string, { data: Float32Array; dims: number[] }> = { input: { data: goldenInput(32), dims: [32, 3, 32, 32] } };
    for (const l of sites) for (const [k, v] of Object.entries({ gamma: l.gamma, beta: l.beta })) feeds[`edgetta.state.${layerKey(l.index, k)}`] = { data: v, dims: [l.channels] };
    const pbar = Float32Array.from({ length: K }, (_, c) => (c === 3 ? 0.4 : 0.6 / 9));
    const spec = raw.passes.adapt;
    const withGrads = compilePass(model, sites, layers, spec, { options: raw.defaults, stateDims: { 'roid.probs': [K] } });
    const g = withGrads.grad!;
    feeds[g.stateInputs[0].name] = { data: pbar, dims: [K] };
    const session = await ort.InferenceSession.create(withGrads.encode());
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) ortFeeds[k] = new ort.Tensor('float32', v.data, v.dims);
    const out = await session.run(ortFeeds, [g.loss, ...g.grads.map((x) => x.name)]);
    await session.release();
    const forward = compilePass(model, sites, layers, { ...spec, grads: [] }, { options: raw.defaults, stateDims: { 'roid.probs': [K] } });
    await useTfjsBackend('wasm');
    const oracle = tfjsGradients(forward.model, feeds, forward.grad!.loss, g.grads.map((x) => `edgetta.state.${x.key}`));
    await useTfjsBackend('cpu');
    const { rel, norm } = gradientError(g.grads, out, oracle.grads);
    const loss = (out[g.loss].data as Float32Array)[0];
    console.log(`roid adapt pass vs tfjs: loss ${loss} vs ${oracle.loss}; gradients rel L2 ${rel.toExponential(2)}`);
    expect(Math.abs(loss - oracle.loss) / Math.abs(oracle.loss)).toBeLessThan(1e-5);
    expect(norm).toBeGreaterThan(0);
    expect(rel).toBeLessThan(1e-3);
  });

  it('refuses a batch of one and out-of-range options, with what to use instead', async () => {
    await expect(AdaptiveSession.create(resnetPath, { method: 'roid', runtime: 'node', methodOptions: { temperature: 0 } })).rejects.toThrow(/methodOptions\.temperature: must be > 0/);
    await expect(AdaptiveSession.create(resnetPath, { method: 'roid', runtime: 'node', methodOptions: { momentumSrc: 1.5 } })).rejects.toThrow(/methodOptions\.momentumSrc: must be <= 1/);
    const s = await AdaptiveSession.create(resnetPath, { method: 'roid', runtime: 'node' });
    open.push(s);
    await expect(s.run({ input: batch(0, 1) })).rejects.toThrow(/balanced-bn\+roid/);
  });
});
