/**
 * GroupNorm as torch.onnx (opset < 18) writes it: Reshape [0, G, -1] -> InstanceNormalization ->
 * Reshape(Shape(x)) -> Mul gamma [C, 1, 1] -> Add beta. One group-norm site per chain: the
 * compiled site is the exported chain, Tent's gradients of the per-channel affine equal finite
 * differences, the gradient methods adapt it, the statistics methods refuse.
 */
import fs from 'node:fs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { batchStatsNorm, meanEntropyLoss, Rng, type LayerSource, type PassSpec } from '@edgetta/core';
import { compilePass, findSites, surveySites } from '@edgetta/compiler';
import { decodeModel, encodeModel, f, GraphBuilder, type Model } from '@edgetta/onnx';
import { emptyModel, randomInput } from '@edgetta/testing';
import { AdaptiveSession } from '@edgetta/sdk';
import { maxAbsDiff, plainRun } from './helpers.js';

/** Conv -> GroupNorm(4 groups of 2) -> Relu -> Conv (stride 2) -> GroupNorm(2 groups of 4) -> Relu -> GAP -> Gemm. */
function gnModel(seed = 2): Uint8Array {
  const rng = new Rng(seed);
  const m: Model = emptyModel(13);
  const b = new GraphBuilder(m, 'm');
  const randn = (n: number, s: number, o = 0) => Float32Array.from({ length: n }, () => o + s * rng.normal());
  const x = b.input({ name: 'input', elemType: 1, shape: ['N', 3, 8, 8] });
  const groupNorm = (h: string, c: number, g: number): string => {
    const r = b.op('Reshape', [h, b.int64([0, g, -1])]);
    const n = b.op('InstanceNormalization', [r, b.initializer('ones', new Float32Array(g).fill(1), [g]), b.initializer('zeros', new Float32Array(g), [g])], { epsilon: f(1e-5) });
    const back = b.op('Reshape', [n, b.op('Shape', [h])]);
    return b.op('Add', [b.op('Mul', [back, b.initializer('gn_w', randn(c, 0.3, 1), [c, 1, 1])]), b.initializer('gn_b', randn(c, 0.2), [c, 1, 1])]);
  };
  let h = b.op('Conv', [x, b.initializer('w1', randn(8 * 3 * 9, 0.3), [8, 3, 3, 3])], { pads: [1, 1, 1, 1] });
  h = b.op('Relu', [groupNorm(h, 8, 4)]);
  h = b.op('Conv', [h, b.initializer('w2', randn(8 * 8 * 9, 0.2), [8, 8, 3, 3])], { pads: [1, 1, 1, 1], strides: [2, 2] });
  h = b.op('Relu', [groupNorm(h, 8, 2)]);
  h = b.op('Flatten', [b.op('GlobalAveragePool', [h])], { axis: 1 });
  b.output(b.op('Gemm', [h, b.initializer('fc', randn(5 * 8, 0.5), [5, 8])], { transB: 1 }), 'logits', ['N', 5]);
  return encodeModel(m);
}

describe('GroupNorm chains', () => {
  const bytes = gnModel();
  const feeds = (seed: number) => ({ input: new ort.Tensor('float32', randomInput(seed, [6, 3, 8, 8]), [6, 3, 8, 8]) });

  it('count as group-norm sites, not instance-norm ones', () => {
    expect(surveySites(decodeModel(bytes))).toEqual({ 'group-norm': 2 });
  });

  it('tent: the first answer is the exported model; Adam steps move the per-channel affine', async () => {
    const s = await AdaptiveSession.create(bytes, { method: 'tent', runtime: 'node', methodOptions: { lr: 1e-2 } });
    expect(s.layerInfo).toHaveLength(2);
    const ref = (await plainRun(bytes, feeds(1))).logits.data as Float32Array;
    expect(maxAbsDiff((await s.run(feeds(1))).logits.data as Float32Array, ref)).toBeLessThanOrEqual(1e-5);
    expect(s.snapshot().state['layer.0.gamma']).toHaveLength(8);
    await s.dispose();
  });

  it("Tent's gradient of every GN scale and bias equals central finite differences", async () => {
    // Tent's pass compiled directly: its gradient outputs against the loss it computes.
    const model = decodeModel(bytes);
    const sites = findSites(model, ['group-norm']);
    const layers: LayerSource[] = sites.map(({ node: _n, input: _i, output: _o, ...rest }) => ({ ...rest, rank: 4 }));
    const pass: PassSpec<object> = { reads: ['gamma', 'beta'], grads: ['gamma', 'beta'], norm: batchStatsNorm, loss: { build: ({ ops, logits }) => ({ loss: meanEntropyLoss(ops, logits) }) } };
    const compiled = compilePass(model, sites, layers, pass, { options: {} });
    const forward = compilePass(model, sites, layers, { ...pass, grads: [] }, { options: {} });
    const params: Record<string, Float32Array> = Object.fromEntries(sites.flatMap((s) => [[`edgetta.state.layer.${s.index}.gamma`, s.gamma], [`edgetta.state.layer.${s.index}.beta`, s.beta]]));
    const base = { ...feeds(2), ...Object.fromEntries(Object.entries(params).map(([k, v]) => [k, new ort.Tensor('float32', v, [v.length])])) };
    const gs = await ort.InferenceSession.create(compiled.encode());
    const fs = await ort.InferenceSession.create(forward.encode());
    const r = await gs.run(base);
    const h = 1e-3;
    let num = 0;
    let den = 0;
    for (const g of compiled.grad!.grads) {
      const key = `edgetta.state.${g.key}`;
      const analytic = r[g.name].data as Float32Array;
      for (let i = 0; i < analytic.length; i++) {
        const at = async (d: number) => {
          const p = params[key].slice();
          p[i] += d;
          return ((await fs.run({ ...base, [key]: new ort.Tensor('float32', p, [p.length]) }))[forward.grad!.loss].data as Float32Array)[0];
        };
        const fd = ((await at(h)) - (await at(-h))) / (2 * h);
        num += (analytic[i] - fd) ** 2;
        den += fd ** 2;
      }
    }
    await gs.release();
    await fs.release();
    console.log(`GroupNorm Tent gradients vs finite differences (32 elements): rel L2 ${Math.sqrt(num / den).toExponential(2)}`);
    expect(Math.sqrt(num / den)).toBeLessThan(1e-2);
  });

  it('eta, eata and sar adapt it; statistics methods refuse naming what applies', async () => {
    for (const method of ['eta', 'eata', 'sar']) {
      const s = await AdaptiveSession.create(bytes, { method, runtime: 'node' });
      await s.run(feeds(3));
      await s.dispose();
    }
    await expect(AdaptiveSession.create(bytes, { method: 'norm', runtime: 'node' })).rejects.toThrow(/this model has group-norm x2; methods that apply to this model: eata, eta, lame, roid, sar, source, tent$/);
  });

  it('the GroupNorm ResNet-20 trained here (bench/assets, 19 chains) adapts from the exported model', async () => {
    const file = new URL('../../../bench/assets/resnet20gn-cifar10.onnx', import.meta.url);
    const real = new Uint8Array(fs.readFileSync(file));
    expect(surveySites(decodeModel(real))).toEqual({ 'group-norm': 19 });
    const batch = { input: new ort.Tensor('float32', randomInput(9, [8, 3, 32, 32]), [8, 3, 32, 32]) };
    const s = await AdaptiveSession.create(real, { method: 'tent', runtime: 'node' });
    expect(s.layerInfo).toHaveLength(19);
    expect(maxAbsDiff((await s.run(batch)).logits.data as Float32Array, (await plainRun(real, batch)).logits.data as Float32Array)).toBeLessThanOrEqual(1e-5);
    await s.dispose();
  });
});
