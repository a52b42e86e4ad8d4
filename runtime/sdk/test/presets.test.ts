import fs from 'node:fs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { layerKey, type LayerSource } from '@edgetta/core';
import { compilePass, findBatchNorms } from '@edgetta/compiler';
import { decodeModel } from '@edgetta/onnx';
import { goldenInput, randomInput, referenceSuite, resnetPath, smallCnn } from '@edgetta/testing';
import { tfjsGradients, useTfjsBackend } from '@edgetta/testing/tfjs';
import { AdaptiveSession, getMethod, listMethods } from '@edgetta/sdk';

listMethods(); // registers the built-ins and presets
const preset = getMethod('unmix-tns+tent');

referenceSuite(preset, [{ pass: 'adapt', hyper: { momentum: 0.1 } }, { pass: 'predict', hyper: { momentum: 0.1 } }]);

function relL2(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    d += (a[i] - b[i]) ** 2;
    n += b[i] ** 2;
  }
  return Math.sqrt(d / n);
}

describe('unmix-tns+tent: a preset composed from the UnMix-TNS policy and the entropy objective', () => {
  it('its gradients through the UnMix-TNS normalization equal tfjs autodiff (small CNN)', async () => {
    const model = decodeModel(smallCnn(3));
    const sites = findBatchNorms(model);
    const layers: LayerSource[] = sites.map(({ node: _n, input: _i, output: _o, ...s }, i) => ({ ...s, rank: i === 3 ? 2 : 4 }));
    const options = { ...preset.defaults };
    const state: Record<string, Float32Array> = {};
    const stateDims: Record<string, number[]> = {};
    for (const l of layers) {
      for (const [k, v] of Object.entries(preset.initLayerState!(l, options))) state[layerKey(l.index, k)] = v;
      for (const [k, d] of Object.entries(preset.layerStateDims!(l, options))) stateDims[layerKey(l.index, k)] = d;
    }
    const pass = preset.passes.adapt;
    const withGrads = compilePass(model, sites, layers, pass, { options, stateDims });
    const forward = compilePass(model, sites, layers, { ...pass, grads: [] }, { options, stateDims });
    const x = randomInput(4, [6, 3, 8, 8]);
    const feeds: Record<string, ort.Tensor> = { x: new ort.Tensor('float32', x, [6, 3, 8, 8]) };
    const tfFeeds: Record<string, { data: Float32Array; dims: number[] }> = { x: { data: x, dims: [6, 3, 8, 8] } };
    for (const s of withGrads.stateInputs) {
      feeds[s.name] = new ort.Tensor('float32', state[s.key], s.dims);
      tfFeeds[s.name] = { data: state[s.key], dims: s.dims };
    }
    for (const [h, name] of Object.entries(withGrads.hyperInputs)) {
      feeds[name] = new ort.Tensor('float32', Float32Array.of(0.1), []);
      tfFeeds[name] = { data: Float32Array.of(0.1), dims: [] };
    }
    const session = await ort.InferenceSession.create(withGrads.encode());
    const r = await session.run(feeds);
    await useTfjsBackend('cpu');
    const params = withGrads.grad!.grads.map((g) => `edgetta.state.${g.key}`);
    const ref = tfjsGradients(forward.model, tfFeeds, forward.grad!.loss, params);
    expect(params).toHaveLength(8); // gamma and beta of the 4 BN layers
    for (const g of withGrads.grad!.grads) {
      const mine = r[g.name].data as Float32Array;
      expect(relL2(mine, ref.grads[`edgetta.state.${g.key}`]), g.key).toBeLessThan(1e-3);
    }
    await session.release();
  });

  it('through AdaptiveSession: answers as unmix-tns before its first update, then trains gamma/beta', async () => {
    const x = goldenInput(64);
    const a = await AdaptiveSession.create(resnetPath, { method: 'unmix-tns+tent', runtime: 'node', methodOptions: { lr: 1e-3 } });
    const b = await AdaptiveSession.create(resnetPath, { method: 'unmix-tns', runtime: 'node' });
    const feed = { input: new ort.Tensor('float32', x, [64, 3, 32, 32]) };
    expect((await a.run(feed)).logits.data).toEqual((await b.run(feed)).logits.data);
    expect(a.stats.lastUpdate).toMatchObject({ applied: true });
    const source = findBatchNorms(decodeModel(new Uint8Array(fs.readFileSync(resnetPath))))[0].gamma;
    const gamma = a.snapshot().state['layer.0.gamma'];
    let maxStep = 0;
    for (let i = 0; i < gamma.length; i++) maxStep = Math.max(maxStep, Math.abs(gamma[i] - source[i]));
    expect(maxStep).toBeGreaterThan(0); // trained
    expect(maxStep).toBeLessThanOrEqual(1.0001e-3); // one Adam step moves each parameter by at most lr
    await Promise.all([a.dispose(), b.dispose()]);
  });
});
