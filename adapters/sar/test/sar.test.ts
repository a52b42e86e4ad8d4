import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LayerSource, PassOutput, StepContext } from '@edgetta/core';
import { AdaptiveSession } from '@edgetta/sdk';
import { goldenInput, resnetPath } from '@edgetta/testing';
import { excludedLayers, sar, type SarOptions } from '../src/index.js';

/*
 * SAR on ResNet-20 (golden noisy input, batches of 64). The two passes are observed through a
 * wrapper of the method's step: the perturbed point, the mask handed to the second pass, and the
 * final SGD step are checked against the update rule (tta-spec 4.3) to float32 rounding (1e-6).
 */
const input = goldenInput(128);
const batch = (b: number) => new ort.Tensor('float32', input.slice(b * 64 * 3072, (b + 1) * 64 * 3072), [64, 3, 32, 32]);
const isParam = (k: string) => /^layer\.\d+\.(gamma|beta)$/.test(k);

describe('sar on ResNet-20', () => {
  const calls: { pass: string; mask?: Float32Array; params: Record<string, Float32Array>; out: PassOutput }[] = [];
  const probe = {
    ...sar,
    name: 'sar-probe',
    step(ctx: StepContext<SarOptions>) {
      return sar.step({
        ...ctx,
        run: async (pass, args) => {
          const params = Object.fromEntries(ctx.state.keys().filter(isParam).map((k) => [k, ctx.state.get(k).slice()]));
          const out = await ctx.run(pass, args);
          calls.push({ pass, mask: args?.inputs?.mask?.data.slice(), params, out });
          return out;
        },
      });
    },
  };
  let s: AdaptiveSession;
  beforeAll(async () => {
    s = await AdaptiveSession.create(resnetPath, { method: probe, runtime: 'node' });
  });
  afterAll(() => s.dispose());

  it('the deepest stage (8x8 maps: the last 6 of 19 BN layers) is excluded by default', () => {
    const layers = s.layerInfo.map((l, index) => ({ ...l, index, inputDims: [1, l.channels, ...(l.channels === 64 ? [8, 8] : l.channels === 32 ? [16, 16] : [32, 32])] })) as unknown as LayerSource[];
    expect([...excludedLayers(layers, -1)]).toEqual([13, 14, 15, 16, 17, 18]);
    expect([...excludedLayers(layers, 2)]).toEqual([17, 18]);
    expect(excludedLayers(layers, 0).size).toBe(0);
  });

  it('one step: SAM ascent to theta + rho g1/||g1||, second pass on the first pass mask, SGD step with g2 from theta', async () => {
    calls.length = 0;
    s.reset();
    const theta0 = Object.fromEntries(Object.entries(s.snapshot().state).filter(([k]) => isParam(k)));
    await s.run({ input: batch(0) });
    const [first, second] = calls;
    expect([first.pass, second.pass]).toEqual(['adapt', 'sharp']);
    // Only the 13 trainable layers have gradients.
    expect(Object.keys(first.out.grads!).length).toBe(26);
    expect(Object.keys(first.out.grads!).some((k) => k.startsWith('layer.13.'))).toBe(false);
    const g1 = first.out.grads!;
    const norm = Math.sqrt(Object.values(g1).reduce((a, g) => a + g.reduce((x, v) => x + v * v, 0), 0));
    let worst = 0;
    for (const [k, t0] of Object.entries(theta0)) {
      const expected = g1[k] ? Array.from(t0, (v, i) => v + (0.05 * g1[k][i]) / (norm + 1e-12)) : Array.from(t0);
      for (let i = 0; i < t0.length; i++) worst = Math.max(worst, Math.abs(second.params[k][i] - expected[i]));
    }
    expect(worst).toBeLessThan(1e-6);
    expect(second.mask).toEqual(first.out.extras!.mask.data);
    const state = s.snapshot().state;
    const g2 = second.out.grads!;
    let worstStep = 0;
    for (const [k, t0] of Object.entries(theta0)) {
      for (let i = 0; i < t0.length; i++) worstStep = Math.max(worstStep, Math.abs(state[k][i] - (g2[k] ? t0[i] - 1e-3 * g2[k][i] : t0[i])));
    }
    console.log(`sar step: ${first.out.extras!.count.data[0]} reliable samples, ${second.out.extras!.count.data[0]} at the perturbed point; max |theta' - expected| ${worst.toExponential(2)}, max |theta1 - (theta0 - lr g2)| ${worstStep.toExponential(2)}`);
    expect(worstStep).toBeLessThan(1e-6);
    expect(state['sar.ema']).toEqual(Float32Array.of(second.out.loss!, 1));
    expect(s.stats.lastUpdate).toMatchObject({ applied: true, samples: second.out.extras!.count.data[0] });
  });

  it('model recovery: an entropy moving average under the threshold resets parameters and optimizer', async () => {
    const r = await AdaptiveSession.create(resnetPath, { method: 'sar', runtime: 'node', methodOptions: { resetThreshold: 10 } });
    const source = r.snapshot().state;
    await r.run({ input: batch(0) });
    expect(r.stats.lastUpdate).toMatchObject({ applied: true, events: ['reset'] });
    const state = r.snapshot().state;
    for (const k of Object.keys(source)) expect(state[k], k).toEqual(source[k]);
    await r.dispose();
  });

  it('no reliable sample: the update is skipped and the state is unchanged', async () => {
    const r = await AdaptiveSession.create(resnetPath, { method: 'sar', runtime: 'node', methodOptions: { e0Factor: 1e-6 } });
    const source = r.snapshot().state;
    // A blank batch: every sample has the same, non-zero entropy, above the tiny threshold.
    await r.run({ input: new ort.Tensor('float32', new Float32Array(64 * 3072).fill(0.5), [64, 3, 32, 32]) });
    expect(r.stats.lastUpdate).toMatchObject({ applied: false, skipped: 'no reliable sample in the batch' });
    const state = r.snapshot().state;
    for (const k of Object.keys(source)) expect(state[k], k).toEqual(source[k]);
    await r.dispose();
  });
});
