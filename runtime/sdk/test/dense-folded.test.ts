/**
 * A dense model with dynamic H and W and mostly folded BatchNorm: the trained CGNet with every BN
 * that directly follows a Conv folded into it (as an eval-mode export folds them; the BNs after
 * concatenations stay) and its input declared [N, 3, 'H', 'W']. `source` equals onnxruntime at two
 * sizes; with calibration the folded BNs are recovered and `norm` and `tent` run at both sizes.
 */
import fs from 'node:fs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { findBatchNorms, surveySites } from '@edgetta/compiler';
import { cloneModel, decodeModel, encodeModel, float32Tensor, tensorDims, tensorToFloat32, type Model } from '@edgetta/onnx';
import { randomInput, sharedDir } from '@edgetta/testing';
import { AdaptiveSession, restoreBatchNorm } from '@edgetta/sdk';
import { maxAbsDiff, plainRun } from './helpers.js';

/** CGNet with the BNs that read a Conv output (and are its only reader) folded into that Conv. */
function foldedCgnet(): { model: Model; folded: number; kept: number } {
  const m = decodeModel(new Uint8Array(fs.readFileSync(`${sharedDir}models/cgnet-camvid.onnx`)));
  const g = m.graph;
  const readers = new Map<string, number>();
  for (const n of g.nodes) for (const i of n.inputs) readers.set(i, (readers.get(i) ?? 0) + 1);
  let folded = 0;
  for (const bn of findBatchNorms(m)) {
    const conv = g.nodes.find((n) => n.opType === 'Conv' && n.outputs[0] === bn.input);
    if (!conv || readers.get(bn.input) !== 1) continue;
    const wt = g.initializers.get(conv.inputs[1])!;
    const w = tensorToFloat32(wt);
    const c = bn.channels;
    const per = w.length / c;
    const scale = bn.gamma.map((gm, ch) => gm / Math.sqrt(bn.variance[ch] + bn.epsilon));
    const b0 = conv.inputs[2] ? tensorToFloat32(g.initializers.get(conv.inputs[2])!) : new Float32Array(c);
    const wn = `${conv.name}.folded_w`;
    const bnn = `${conv.name}.folded_b`;
    g.initializers.set(wn, float32Tensor(wn, w.map((v, i) => v * scale[Math.floor(i / per)]), tensorDims(wt)));
    g.initializers.set(bnn, float32Tensor(bnn, b0.map((v, ch) => (v - bn.mean[ch]) * scale[ch] + bn.beta[ch]), [c]));
    const at = g.nodes.indexOf(conv);
    g.nodes[at] = { ...conv, inputs: [conv.inputs[0], wn, bnn], outputs: [bn.output], source: undefined };
    g.nodes.splice(g.nodes.indexOf(bn.node), 1);
    folded++;
  }
  g.inputs[0].shape = ['N', 3, 'H', 'W'];
  return { model: m, folded, kept: surveySites(m)['batch-norm'] ?? 0 };
}

describe('dense, dynamic H and W, mostly folded BN (CGNet)', () => {
  const { model, folded, kept } = foldedCgnet();
  const bytes = encodeModel(model);
  const sizes: [number, number][] = [[64, 96], [96, 128]];
  const batch = ([h, w]: [number, number], seed: number) => ({ input: new ort.Tensor('float32', randomInput(seed, [2, 3, h, w]), [2, 3, h, w]) });
  const calibration = [new ort.Tensor('float32', randomInput(7, [32, 3, 64, 96]), [32, 3, 64, 96])];

  it('is mostly folded', () => {
    expect(folded).toBeGreaterThanOrEqual(kept);
    console.log(`CGNet: ${folded} BatchNorms folded into their convs, ${kept} kept`);
  });

  it('source equals onnxruntime at both sizes', async () => {
    const s = await AdaptiveSession.create(bytes, { method: 'source', runtime: 'node' });
    for (const [k, hw] of sizes.entries()) {
      const f = batch(hw, k);
      const ours = (await s.run(f)).logits;
      expect(ours.dims).toEqual([2, 11, ...hw]);
      expect(maxAbsDiff(ours.data as Float32Array, (await plainRun(bytes, f)).logits.data as Float32Array)).toBeLessThanOrEqual(1e-5);
    }
    await s.dispose();
  });

  it('norm and tent with calibration recover the folded BNs and run at both sizes', async () => {
    for (const method of ['norm', 'tent']) {
      const s = await AdaptiveSession.create(bytes, { method, runtime: 'node', calibration });
      expect(s.recovery!.recovered.length).toBeGreaterThan(0);
      expect(s.stats.layers).toBe(kept + s.recovery!.recovered.length);
      for (const [k, hw] of sizes.entries()) {
        const out = (await s.run(batch(hw, 10 + k))).logits;
        expect(out.dims).toEqual([2, 11, ...hw]);
        expect([...(out.data as Float32Array)].every(Number.isFinite)).toBe(true);
      }
      if (method === 'tent') expect(s.stats.updates.applied).toBe(2);
      await s.dispose();
    }
  });

  it('tent on the dynamic model equals tent on a fixed-size copy of it (two steps, 64x96)', async () => {
    const { model: restored } = await restoreBatchNorm(bytes, calibration, { runtime: 'node' });
    const fixed = cloneModel(restored);
    fixed.graph.inputs[0].shape = ['N', 3, 64, 96];
    const a = await AdaptiveSession.create(restored, { method: 'tent', runtime: 'node' });
    const b = await AdaptiveSession.create(fixed, { method: 'tent', runtime: 'node' });
    for (let k = 0; k < 2; k++) {
      const f = batch([64, 96], 20 + k);
      const [ya, yb] = [(await a.run(f)).logits.data as Float32Array, (await b.run(f)).logits.data as Float32Array];
      expect(maxAbsDiff(ya, yb), `step ${k}`).toBeLessThanOrEqual(1e-4);
    }
    await a.dispose();
    await b.dispose();
  });
});
