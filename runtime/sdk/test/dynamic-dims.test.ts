/**
 * Models with dynamic height and width: the ResNet-20 exported by PyTorch with dynamic H/W axes
 * (and BN folded, so recovered from calibration) runs `source`, the statistics methods and the
 * gradient methods on batches of several sizes; symbolic dims that are not H/W, and state that
 * depends on the spatial size, are refused clearly.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { cloneModel, decodeModel, type Model } from '@edgetta/onnx';
import { batchStatsNorm, meanEntropyLoss, type LayerSource, type PassSpec } from '@edgetta/core';
import { compilePass, findBatchNorms } from '@edgetta/compiler';
import { randomInput } from '@edgetta/testing';
import { tfjsGradients } from '@edgetta/testing/tfjs';
import { AdaptiveSession, listMethods, restoreBatchNorm } from '@edgetta/sdk';
import { maxAbsDiff, relL2 } from './helpers.js';

const dynPath = fileURLToPath(new URL('../../../bench/assets/resnet20-cifar10-folded-dynhw.onnx', import.meta.url));
const dynBytes = new Uint8Array(fs.readFileSync(dynPath));
const calibration = [new ort.Tensor('float32', randomInput(1, [48, 3, 32, 32]), [48, 3, 32, 32])];
const batch = (seed: number, n: number, hw: number) => ({ input: new ort.Tensor('float32', randomInput(seed, [n, 3, hw, hw]), [n, 3, hw, hw]) });


function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) (out.set(p, o), (o += p.length));
  return out;
}


/** The model with its input declared at a fixed size (what a static export would give). */
function fixedAt(model: Model, hw: number): Model {
  const m = cloneModel(model);
  m.graph.inputs[0].shape = ['N', 3, hw, hw];
  return m;
}

describe('dynamic H and W', () => {
  it('source equals plain onnxruntime at every size', async () => {
    const s = await AdaptiveSession.create(dynPath, { method: 'source', runtime: 'node' });
    const plain = await ort.InferenceSession.create(dynBytes);
    for (const [seed, hw] of [[1, 32], [2, 40], [3, 24]]) {
      const f = batch(seed, 4, hw);
      expect(maxAbsDiff((await s.run(f)).logits.data as Float32Array, (await plain.run(f)).logits.data as Float32Array)).toBeLessThanOrEqual(1e-5);
    }
    await plain.release();
    await s.dispose();
  });

  for (const method of ['norm', 'tent', 'sar', 'eata']) {
    it(`${method}: the compiled passes of the dynamic model equal those of a fixed-size copy, at 40x40 then 24x24`, async () => {
      // Recovered once (calibration at 32x32), so both sessions adapt the same BatchNorm layers.
      const { model } = await restoreBatchNorm(dynPath, calibration, { runtime: 'node' });
      const dyn = await AdaptiveSession.create(model, { method, runtime: 'node', calibration });
      for (const hw of [40, 24]) {
        const fixed = await AdaptiveSession.create(fixedAt(model, hw), { method, runtime: 'node', calibration: [batch(5, 48, hw).input] });
        dyn.reset();
        for (let k = 0; k < 3; k++) {
          const f = batch(10 + k, 16, hw);
          const a = (await dyn.run(f)).logits.data as Float32Array;
          const b = (await fixed.run(f)).logits.data as Float32Array;
          expect(maxAbsDiff(a, b), `${method} ${hw}x${hw} step ${k}`).toBeLessThanOrEqual(1e-4);
        }
        await fixed.dispose();
      }
      await dyn.dispose();
    });
  }

  it('every registered method runs on batches of changing size, or refuses the change clearly', async () => {
    const outcomes: Record<string, string> = {};
    for (const method of listMethods()) {
      const s = await AdaptiveSession.create(dynPath, { method, runtime: 'node', calibration });
      const r: string[] = [];
      for (const hw of [32, 40]) {
        try {
          const out = await s.run(batch(hw, 8, hw));
          expect(out.logits.dims).toEqual([8, 10]);
          expect([...(out.logits.data as Float32Array)].every(Number.isFinite)).toBe(true);
          r.push('ok');
        } catch (e) {
          r.push((e as Error).message);
        }
      }
      outcomes[method] = r.join(' / ');
      await s.dispose();
    }
    for (const [m, o] of Object.entries(outcomes)) {
      // RoTTA's memory bank holds images of the first batch's size.
      if (m === 'rotta') expect(o).toMatch(/^ok \/ rotta: the memory holds images of 3072 values, this batch has 4800 per image; reset\(\) before changing the input size$/);
      else expect(o, m).toBe('ok / ok');
    }
  });

  it('a window needs fixed sample dims; a symbolic channel dim is refused', async () => {
    await expect(AdaptiveSession.create(dynPath, { method: 'norm', runtime: 'node', calibration, window: 8 })).rejects.toThrow(
      /window: single-sample mode keeps a window of fixed-size samples; input 'input' has dims \[N, 3, H, W\]/,
    );
    const m = cloneModel(decodeModel(dynBytes));
    m.graph.inputs[0].shape = ['N', 'C', 'H', 'W'];
    await expect(AdaptiveSession.create(m, { method: 'norm', runtime: 'node', calibration })).rejects.toThrow(/input 'input' has a symbolic dimension 1 \('C'\); edgetta accepts a dynamic batch and dynamic height and width/);
  });
});

describe('Tent gradients on dynamic H and W', () => {
  const pass: PassSpec<object> = {
    reads: ['gamma', 'beta'],
    grads: ['gamma', 'beta'],
    norm: batchStatsNorm,
    loss: { build: ({ ops, logits }) => ({ loss: meanEntropyLoss(ops, logits) }) },
  };
  // (A fixed-size export's gradients are checked against PyTorch and tfjs in packages/autodiff.)
  for (const hw of [40]) {
    const label = `dynamic input at ${hw}x${hw}`;
    it(`every BN scale and bias gradient equals tfjs autodiff (${label})`, async () => {
      const { model } = await restoreBatchNorm(dynPath, calibration, { runtime: 'node' });
      const sites = findBatchNorms(model);
      const layers: LayerSource[] = sites.map(({ node: _n, input: _i, output: _o, ...s }) => ({ ...s, rank: 4 }));
      const order = sites.flatMap((s) => [`edgetta.state.layer.${s.index}.gamma`, `edgetta.state.layer.${s.index}.beta`]);
      const params = Object.fromEntries(sites.flatMap((s) => [[order[2 * s.index], s.gamma], [order[2 * s.index + 1], s.beta]]));
      const compiled = compilePass(model, sites, layers, pass, { options: {} });
      const x = randomInput(21, [8, 3, hw, hw]);
      const session = await ort.InferenceSession.create(compiled.encode());
      const feeds: Record<string, ort.Tensor> = { input: new ort.Tensor('float32', x, [8, 3, hw, hw]) };
      for (const [k, v] of Object.entries(params)) feeds[k] = new ort.Tensor('float32', v, [v.length]);
      const r = await session.run(feeds);
      await session.release();
      const byInput = Object.fromEntries(compiled.grad!.grads.map((g) => [`edgetta.state.${g.key}`, r[g.name].data as Float32Array]));
      const forward = compilePass(model, sites, layers, { ...pass, grads: [] }, { options: {} });
      const tfFeeds: Record<string, { data: Float32Array; dims: number[] }> = { input: { data: x, dims: [8, 3, hw, hw] } };
      for (const [k, v] of Object.entries(params)) tfFeeds[k] = { data: v, dims: [v.length] };
      const ref = tfjsGradients(forward.model, tfFeeds, forward.grad!.loss, order);
      const err = relL2(concat(order.map((k) => byInput[k])), concat(order.map((k) => ref.grads[k])));
      console.log(`${label}: rel L2 vs tfjs ${err.toExponential(2)}`);
      expect(err).toBeLessThan(1e-3);
    });
  }
});
