import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import {
  anchorPenalty,
  argmaxCrossEntropyLoss,
  entropyThreshold,
  meanEntropyLoss,
  nd,
  referenceOps,
  reliableEntropyLoss,
  Rng,
  softCrossEntropyLoss,
  type NDArray,
  type Ops,
} from '@edgetta/core';
import { OnnxOps } from '@edgetta/compiler';
import { encodeModel, GraphBuilder } from '@edgetta/onnx';
import { emptyModel } from '@edgetta/testing';

/*
 * The loss pieces, written once against Ops: the ONNX graph (onnxruntime, float32) equals the
 * float64 reference interpreter (relative error <= 1e-5), masks and counts exactly.
 */
const rng = new Rng(21);
const N = 12;
const K = 5;
// Logits with a wide spread of confidences, so the entropy filters keep some samples and drop others.
const logits = Float32Array.from({ length: N * K }, (_, i) => rng.normal() * (1 + 4 * ((i / K) % 3)));
const average = Float32Array.from({ length: K }, () => 0.1 + rng.random());
const targets = Float32Array.from({ length: N * K }, () => rng.random());
const weights = Float32Array.from({ length: N }, () => rng.random());
const mask = Float32Array.from({ length: N }, (_, i) => (i % 4 === 3 ? 0 : 1));
const param = Float32Array.from({ length: 6 }, () => rng.normal());
const anchor = Float32Array.from({ length: 6 }, () => rng.normal());
const fisher = Float32Array.from({ length: 6 }, () => rng.random());
const inputs: Record<string, { data: Float32Array; dims: number[] }> = {
  logits: { data: logits, dims: [N, K] },
  average: { data: average, dims: [K] },
  active: { data: Float32Array.of(1), dims: [1] },
  targets: { data: targets, dims: [N, K] },
  weights: { data: weights, dims: [N] },
  mask: { data: mask, dims: [N] },
  param: { data: param, dims: [6] },
  anchor: { data: anchor, dims: [6] },
  fisher: { data: fisher, dims: [6] },
};

/** Every loss piece, generic in the op builder; returns named values to compare. */
function losses<T>(ops: Ops<T>, v: Record<string, T>): Record<string, T> {
  const e0 = entropyThreshold(ops, v.logits, 0.4);
  const eta = reliableEntropyLoss(ops, v.logits, { e0, weighted: true, redundancy: { average: v.average, active: v.active, margin: 0.9 } });
  const sar = reliableEntropyLoss(ops, v.logits, { e0, mask: v.mask });
  return {
    tent: meanEntropyLoss(ops, v.logits),
    e0,
    eta: eta.loss,
    etaMask: eta.mask,
    etaCount: eta.count,
    sar: sar.loss,
    sarCount: sar.count,
    softce: softCrossEntropyLoss(ops, v.logits, v.targets, v.weights),
    argmaxce: argmaxCrossEntropyLoss(ops, v.logits),
    anchor: anchorPenalty(ops, [{ param: v.param, anchor: v.anchor, weight: v.fisher }], 2),
  };
}

describe('loss pieces: ONNX graph vs float64 reference', () => {
  it('tent, E0, ETA/EATA (weights, redundancy), SAR (mask), soft CE, argmax CE, anchor penalty', async () => {
    const m = emptyModel(15);
    const b = new GraphBuilder(m);
    const handles: Record<string, string> = {};
    for (const [k, v] of Object.entries(inputs)) handles[k] = b.input({ name: k, elemType: 1, shape: v.dims });
    const graph = losses(new OnnxOps(b, 15, 'loss'), handles);
    for (const [k, v] of Object.entries(graph)) b.output(v, `out.${k}`);
    const session = await ort.InferenceSession.create(encodeModel(m));
    const feeds = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, new ort.Tensor('float32', v.data, v.dims)]));
    const got = await session.run(feeds);
    const ref = losses<NDArray>(referenceOps, Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, nd(v.data, v.dims)])));
    for (const [k, r] of Object.entries(ref)) {
      const g = got[`out.${k}`].data as Float32Array;
      expect(g.length, k).toBe(r.data.length);
      for (let i = 0; i < g.length; i++) expect(Math.abs(g[i] - r.data[i]), `${k}[${i}]`).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(r.data[i])));
    }
    // The filters are exercised: some samples kept, some dropped.
    const etaCount = (got['out.etaCount'].data as Float32Array)[0];
    const sarCount = (got['out.sarCount'].data as Float32Array)[0];
    console.log(`ETA keeps ${etaCount} of ${N}, SAR keeps ${sarCount} of ${N} (mask keeps ${mask.reduce((a, x) => a + x, 0)})`);
    expect(etaCount).toBeGreaterThan(0);
    expect(etaCount).toBeLessThan(N);
    expect(sarCount).toBeGreaterThan(0);
    expect(sarCount).toBeLessThan(9);
  });
});
