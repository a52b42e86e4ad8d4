import fs from 'node:fs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { compilePass, findBatchNorms } from '@edgetta/compiler';
import { layerKey, Rng } from '@edgetta/core';
import { decodeModel } from '@edgetta/onnx';
import { goldenInput, resnetPath } from '@edgetta/testing';
import { gradientError, tfjsGradients, useTfjsBackend } from '@edgetta/testing/tfjs';
import { rotta } from '../src/index.js';

/*
 * The student pass's loss and gradients (onnxruntime, reverse-mode autodiff of the compiled graph:
 * through the RBN mix of the globals with the batch statistics) against tfjs autodiff of the same
 * forward graph, on ResNet-20 with distinct teacher/student-like state and random soft targets.
 */
describe('rotta student gradients', () => {
  it('equal the tfjs autodiff oracle (relative L2 <= 1e-3, loss within 1e-5 relative)', async () => {
    const model = decodeModel(new Uint8Array(fs.readFileSync(resnetPath)));
    const sites = findBatchNorms(model);
    const layers = sites.map(({ node: _n, input: _i, output: _o, ...l }) => ({ ...l, rank: 4 }));
    const m = 16;
    const rng = new Rng(1);
    const feeds: Record<string, { data: Float32Array; dims: number[] }> = { input: { data: goldenInput(m), dims: [m, 3, 32, 32] } };
    for (const l of sites) {
      // Globals away from the source, so the mix matters.
      const init = rotta.initLayerState!({ ...l, rank: 4 }, rotta.defaults);
      for (const k of ['s.mean', 's.variance', 's.gamma', 's.beta']) {
        const v = Float32Array.from(init[k], (x) => (k === 's.variance' ? x * (1 + 0.3 * rng.random()) : x + 0.05 * rng.normal()));
        feeds[`edgetta.state.${layerKey(l.index, k)}`] = { data: v, dims: [l.channels] };
      }
    }
    const q = new Float32Array(m * 10);
    for (let i = 0; i < m; i++) {
      let s = 0;
      for (let k = 0; k < 10; k++) s += q[i * 10 + k] = rng.random() ** 4;
      for (let k = 0; k < 10; k++) q[i * 10 + k] /= s;
    }
    feeds['edgetta.input.q'] = { data: q, dims: [m, 10] };
    feeds['edgetta.input.w'] = { data: Float32Array.from({ length: m }, () => 0.27 + 0.23 * rng.random()), dims: [m] };

    const withGrads = compilePass(model, sites, layers, rotta.passes.student, { options: rotta.defaults });
    const session = await ort.InferenceSession.create(withGrads.encode());
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) ortFeeds[k] = new ort.Tensor('float32', v.data, v.dims);
    const g = withGrads.grad!;
    const out = await session.run(ortFeeds, [g.loss, ...g.grads.map((x) => x.name)]);
    await session.release();

    const forward = compilePass(model, sites, layers, { ...rotta.passes.student, grads: [] }, { options: rotta.defaults });
    const wrt = g.grads.map((x) => `edgetta.state.${x.key}`);
    await useTfjsBackend('wasm');
    const oracle = tfjsGradients(forward.model, feeds, forward.grad!.loss, wrt);
    await useTfjsBackend('cpu');

    const { rel, norm } = gradientError(g.grads, out, oracle.grads);
    const loss = (out[g.loss].data as Float32Array)[0];
    console.log(`rotta student pass vs tfjs: loss ${loss} vs ${oracle.loss}; gradients rel L2 ${rel.toExponential(2)} over ${g.grads.length} tensors`);
    expect(g.grads).toHaveLength(2 * sites.length);
    expect(Math.abs(loss - oracle.loss) / Math.abs(oracle.loss)).toBeLessThan(1e-5);
    expect(norm).toBeGreaterThan(0);
    expect(rel).toBeLessThan(1e-3);
  });
});
