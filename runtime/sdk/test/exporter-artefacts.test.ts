/**
 * What exporters write around BatchNorm: parameters reached through Identity chains and shared
 * initializers (PyTorch's PRESERVE export deduplicates identical tensors that way), explicit
 * training_mode=0, and opsets 11 to 21. Each variant of the BN-kept ResNet-20 must adapt exactly
 * as the plain file does.
 */
import fs from 'node:fs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { findBatchNorms } from '@edgetta/compiler';
import { cloneModel, decodeModel, float32Tensor, tensorDims, tensorToFloat32, type Model, type Node } from '@edgetta/onnx';
import { embeddedModelPath, noisyEmbeddedSample } from '@edgetta/testing';
import { AdaptiveSession } from '@edgetta/sdk';
import { maxAbsDiff } from './helpers.js';

const kept = decodeModel(new Uint8Array(fs.readFileSync(embeddedModelPath)));
const batches = [0, 1, 2].map((k) => ({ input: new ort.Tensor('float32', noisyEmbeddedSample(32, 40 + k).x, [32, 3, 32, 32]) }));


/** Logits of `method` over the three batches. */
async function logitsOf(model: Model, method: string): Promise<Float32Array[]> {
  const s = await AdaptiveSession.create(model, { method, runtime: 'node' });
  const out: Float32Array[] = [];
  for (const f of batches) out.push((await s.run(f)).logits.data as Float32Array);
  await s.dispose();
  return out;
}

const bnNodes = (m: Model): Node[] => m.graph.nodes.filter((n) => n.opType === 'BatchNormalization');

/** Every BN parameter read through a two-Identity chain, as exporters write deduplicated tensors. */
function withIdentityChains(): Model {
  const m = cloneModel(kept);
  const front: Node[] = [];
  bnNodes(m).forEach((bn, i) => {
    bn.source = undefined;
    bn.inputs = bn.inputs.map((v, k) => {
      if (k === 0) return v;
      const a = `id/${i}/${k}/a`;
      const b = `id/${i}/${k}/b`;
      front.push({ opType: 'Identity', domain: '', name: a, inputs: [v], outputs: [a], attrs: {} }, { opType: 'Identity', domain: '', name: b, inputs: [a], outputs: [b], attrs: {} });
      return b;
    });
  });
  m.graph.nodes = [...front, ...m.graph.nodes];
  return m;
}

/**
 * Layers 1 and 2 given identical source parameters, first as separate copies, then as one shared
 * initializer per role (reached through an Identity for layer 2).
 */
function sharedPair(): { copies: Model; shared: Model } {
  const copies = cloneModel(kept);
  const [, b1, b2] = bnNodes(copies);
  for (let k = 1; k < 5; k++) {
    const t = copies.graph.initializers.get(b1.inputs[k])!;
    copies.graph.initializers.set(`copy/${k}`, float32Tensor(`copy/${k}`, tensorToFloat32(t).slice(), tensorDims(t)));
  }
  b2.source = undefined;
  b2.inputs = [b2.inputs[0], 'copy/1', 'copy/2', 'copy/3', 'copy/4'];
  const shared = cloneModel(kept);
  const [, s1, s2] = bnNodes(shared);
  s2.source = undefined;
  const ids: Node[] = s1.inputs.slice(1).map((v, k) => ({ opType: 'Identity', domain: '', name: `share/${k}`, inputs: [v], outputs: [`share/${k}`], attrs: {} }));
  s2.inputs = [s2.inputs[0], ...ids.map((n) => n.outputs[0])];
  shared.graph.nodes = [...ids, ...shared.graph.nodes];
  return { copies, shared };
}

describe('exporter artefacts around BatchNorm', () => {
  it('parameters through Identity chains: found, and every method adapts as on the plain file', async () => {
    const m = withIdentityChains();
    const a = findBatchNorms(m);
    const b = findBatchNorms(kept);
    expect(a).toHaveLength(19);
    a.forEach((s, i) => expect([...s.gamma, ...s.mean]).toEqual([...b[i].gamma, ...b[i].mean]));
    for (const method of ['norm', 'tent', 'sar']) {
      const [x, y] = [await logitsOf(m, method), await logitsOf(kept, method)];
      x.forEach((l, k) => expect(maxAbsDiff(l, y[k]), `${method} batch ${k}`).toBeLessThanOrEqual(1e-6));
    }
  });

  it('a shared initializer gives each layer its own state', async () => {
    const { copies, shared } = sharedPair();
    const s = await AdaptiveSession.create(shared, { method: 'tent', runtime: 'node' });
    const r = await AdaptiveSession.create(copies, { method: 'tent', runtime: 'node' });
    for (const f of batches) {
      const [x, y] = [(await s.run(f)).logits.data as Float32Array, (await r.run(f)).logits.data as Float32Array];
      expect(maxAbsDiff(x, y)).toBeLessThanOrEqual(1e-6);
    }
    // Both layers moved, and independently (the two arrays are not one buffer).
    const st = s.snapshot().state;
    const g1 = st['layer.1.gamma'];
    const g2 = st['layer.2.gamma'];
    expect(maxAbsDiff(g1, findBatchNorms(kept)[1].gamma)).toBeGreaterThan(0);
    expect(maxAbsDiff(g1, g2)).toBeGreaterThan(0);
    await s.dispose();
    await r.dispose();
  });

  it('an explicit training_mode=0 attribute (opset 15+) is the inference form', async () => {
    const m = cloneModel(kept);
    m.opsets.set('', 15);
    for (const bn of bnNodes(m)) {
      bn.source = undefined;
      bn.attrs = { ...bn.attrs, training_mode: { kind: 'int', value: 0 } };
    }
    const [x, y] = [await logitsOf(m, 'tent'), await logitsOf(kept, 'tent')];
    x.forEach((l, k) => expect(maxAbsDiff(l, y[k])).toBeLessThanOrEqual(1e-5));
    const t = cloneModel(m);
    bnNodes(t)[3].attrs = { ...bnNodes(t)[3].attrs, training_mode: { kind: 'int', value: 1 } };
    await expect(AdaptiveSession.create(t, { method: 'norm', runtime: 'node' })).rejects.toThrow(/BatchNormalization '.*' is exported in training mode; export the model in eval mode/);
  });

  for (const opset of [11, 12, 14, 17, 18, 21]) {
    it(`opset ${opset}: source, norm, alpha-bn, tent and sar adapt as at opset 13`, async () => {
      // The model's own ops mean the same from opset 11 to 21; the method graphs edgetta emits
      // (Reduce* axes as attributes or inputs, Split, Pad, BatchNormalization forms) follow the opset.
      // Before opset 14 BatchNormalization has no training mode, so batch statistics come from
      // reductions (float32 sums in another order: logits of size ~10 move by ~1e-4).
      const tolerance = opset < 14 ? 5e-4 : 1e-5;
      const m = cloneModel(kept);
      m.opsets.set('', opset);
      for (const method of ['source', 'norm', 'alpha-bn', 'tent', 'sar']) {
        const [x, y] = [await logitsOf(m, method), await logitsOf(kept, method)];
        x.forEach((l, k) => expect(maxAbsDiff(l, y[k]), `${method} batch ${k}`).toBeLessThanOrEqual(tolerance));
      }
    });
  }
});
