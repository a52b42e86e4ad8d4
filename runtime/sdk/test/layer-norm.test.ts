/**
 * LayerNorm sites, on the trained Tiniest (ConvNeXt-style CIFAR-10 classifier, 8
 * LayerNormalization nodes, no BN): the compiled per-sample normalization equals onnxruntime's
 * native LayerNormalization, Tent's gradients of the LN scales and biases equal finite differences, the
 * gradient methods run and the statistics methods refuse naming what applies.
 */
import fs from 'node:fs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { meanEntropyLoss, type LayerSource, type PassSpec } from '@edgetta/core';
import { compilePass, findSites } from '@edgetta/compiler';
import { decodeModel } from '@edgetta/onnx';
import { noisyEmbeddedSample, sharedDir } from '@edgetta/testing';
import { AdaptiveSession } from '@edgetta/sdk';
import { relL2 } from './helpers.js';

const path = `${sharedDir}models/tiniest-cifar10.onnx`;
const bytes = new Uint8Array(fs.readFileSync(path));


describe('LayerNorm sites (Tiniest)', () => {
  it('finds the 8 LayerNormalization nodes with their affine and axis', () => {
    const sites = findSites(decodeModel(bytes), ['layer-norm']);
    expect(sites).toHaveLength(8);
    for (const s of sites) {
      expect(s.kind).toBe('layer-norm');
      expect(s.axis).toBe(-1);
      expect(s.gamma.length).toBe(s.channels);
      expect(s.mean.length).toBe(0);
    }
  });

  it("Tent's gradients of the LN scales and biases equal central finite differences (batch 8)", async () => {
    const model = decodeModel(bytes);
    const sites = findSites(model, ['layer-norm']);
    const layers: LayerSource[] = sites.map(({ node: _n, input: _i, output: _o, ...s }) => ({ ...s, rank: 4 }));
    const pass: PassSpec<object> = {
      reads: ['gamma', 'beta'],
      grads: ['gamma', 'beta'],
      norm: () => {
        throw new Error('LayerNorm sites normalize with their own statistics');
      },
      loss: { build: ({ ops, logits }) => ({ loss: meanEntropyLoss(ops, logits) }) },
    };
    const order = sites.flatMap((s) => [`edgetta.state.layer.${s.index}.gamma`, `edgetta.state.layer.${s.index}.beta`]);
    const params = Object.fromEntries(sites.flatMap((s) => [[order[2 * s.index], s.gamma], [order[2 * s.index + 1], s.beta]]));
    const compiled = compilePass(model, sites, layers, pass, { options: {} });
    const x = noisyEmbeddedSample(8, 5).x;
    const session = await ort.InferenceSession.create(compiled.encode());
    const feeds: Record<string, ort.Tensor> = { input: new ort.Tensor('float32', x, [8, 3, 32, 32]) };
    for (const [k, v] of Object.entries(params)) feeds[k] = new ort.Tensor('float32', v, [v.length]);
    const r = await session.run(feeds);
    await session.release();
    // The compiled forward (LayerNorm as its own-statistics subgraph) is the exported model.
    const plain = await ort.InferenceSession.create(bytes);
    const ref = (await plain.run({ input: feeds.input })).logits.data as Float32Array;
    await plain.release();
    const ours = r[compiled.modelOutputs[0]].data as Float32Array;
    let d = 0;
    for (let i = 0; i < ref.length; i++) d = Math.max(d, Math.abs(ours[i] - ref[i]));
    expect(d).toBeLessThanOrEqual(1e-5);
    const byInput = Object.fromEntries(compiled.grad!.grads.map((g) => [`edgetta.state.${g.key}`, r[g.name].data as Float32Array]));
    // tfjs cannot differentiate Tiniest's dilated depthwise convolutions: central finite
    // differences of the loss (float64 steps on the float32 graph) at 3 elements of every scale and bias.
    const forward = await ort.InferenceSession.create(compilePass(model, sites, layers, { ...pass, grads: [] }, { options: {} }).encode());
    const lossAt = async (key: string, i: number, delta: number): Promise<number> => {
      const p = params[key].slice();
      p[i] += delta;
      const out = await forward.run({ ...feeds, [key]: new ort.Tensor('float32', p, [p.length]) });
      return (out[compiled.grad!.loss].data as Float32Array)[0];
    };
    const h = 1e-2;
    const mine: number[] = [];
    const fd: number[] = [];
    for (const key of order) {
      const n = params[key].length;
      for (const i of [0, Math.floor(n / 2), n - 1]) {
        mine.push(byInput[key][i]);
        fd.push(((await lossAt(key, i, h)) - (await lossAt(key, i, -h))) / (2 * h));
      }
    }
    await forward.release();
    const err = relL2(mine, fd);
    console.log(`Tiniest Tent: ${compiled.grad!.backwardNodes} backward nodes, ${mine.length} elements, rel L2 vs finite differences ${err.toExponential(2)}`);
    expect(err).toBeLessThan(1e-3);
  });

  it('tent, eta, eata and sar adapt the LN affine: the first answer is the exported model, the next ones moved', async () => {
    const plain = await ort.InferenceSession.create(bytes);
    const batches = [0, 1].map((k) => ({ input: new ort.Tensor('float32', noisyEmbeddedSample(16, 60 + k).x, [16, 3, 32, 32]) }));
    const ref = await Promise.all(batches.map(async (f) => (await plain.run(f)).logits.data as Float32Array));
    await plain.release();
    for (const method of ['tent', 'eta', 'eata', 'sar']) {
      const s = await AdaptiveSession.create(bytes, { method, runtime: 'node', methodOptions: { lr: 1e-2 } });
      expect(s.layerInfo.map((l) => l.name)).toHaveLength(8);
      const diffs: number[] = [];
      for (const [k, f] of batches.entries()) {
        const y = (await s.run(f)).logits.data as Float32Array;
        let d = 0;
        for (let i = 0; i < y.length; i++) d = Math.max(d, Math.abs(y[i] - ref[k][i]));
        diffs.push(d);
      }
      expect(diffs[0], method).toBeLessThanOrEqual(1e-5);
      // The second answer comes from updated LN scales and biases (SAR may skip an unreliable batch).
      if (method !== 'sar' || s.stats.updates.applied > 0) expect(diffs[1], method).toBeGreaterThan(1e-4);
      const st = s.snapshot().state;
      expect(st['layer.0.gamma']).toHaveLength(findSites(decodeModel(bytes), ['layer-norm'])[0].channels);
      await s.dispose();
    }
  });

  it('statistics methods refuse a LayerNorm model, naming the methods that apply', async () => {
    for (const method of ['norm', 'alpha-bn', 'bn-ema', 'dua', 'unmix-tns', 'rotta']) {
      await expect(AdaptiveSession.create(bytes, { method, runtime: 'node' })).rejects.toThrow(
        new RegExp(`method '${method}' adapts batch-norm sites, and this model has layer-norm x8; methods that apply to this model: eata, eta, lame, roid, sar, source, tent$`),
      );
    }
  });
});
