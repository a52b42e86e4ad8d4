import fs from 'node:fs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { batchStatsNorm, meanEntropyLoss, type LayerSource, type PassSpec } from '@edgetta/core';
import { compilePass, findBatchNorms } from '@edgetta/compiler';
import { decodeModel } from '@edgetta/onnx';
import { goldenDir, goldenInput, readNpyFile, resnetPath } from '@edgetta/testing';
import { tfjsGradients, useTfjsBackend } from '@edgetta/testing/tfjs';
import { concat, relL2 } from './harness.js';

/*
 * ResNet-20 (CIFAR-10, opset 13, option-A shortcuts with Slice/Pad/Concat/ConstantOfShape on the
 * gradient path) with Tent's pass: batch-statistics BN, mean entropy, gradients of all 19 BN scales
 * and biases (1,376 numbers). Tolerance: relative L2 <= 1e-3, against PyTorch's gradients of the
 * first golden batch of 64 (tent_first_batch_grads.npy) and against tfjs autodiff of the same
 * compiled forward graph (wasm backend, a batch of 16: its float32 sums over 64x32x32 elements
 * drift by ~3e-3 relative at batch 64, while at 8-16 it agrees with the JS cpu backend to ~3e-5).
 */
const pass: PassSpec<object> = {
  reads: ['gamma', 'beta'],
  grads: ['gamma', 'beta'],
  norm: batchStatsNorm,
  loss: { build: ({ ops, logits }) => ({ loss: meanEntropyLoss(ops, logits) }) },
};

const model = decodeModel(new Uint8Array(fs.readFileSync(resnetPath)));
const sites = findBatchNorms(model);
const layers: LayerSource[] = sites.map(({ node: _n, input: _i, output: _o, ...s }) => ({ ...s, rank: 4 }));
const meta = JSON.parse(fs.readFileSync(`${goldenDir}meta.json`, 'utf8')) as Record<string, number>;
const golden = readNpyFile(`${goldenDir}tent_first_batch_grads.npy`).data as Float32Array;

/** Parameter inputs in the golden file's order: per layer, scale then bias. */
const order = sites.flatMap((s) => [`edgetta.state.layer.${s.index}.gamma`, `edgetta.state.layer.${s.index}.beta`]);
const params: Record<string, Float32Array> = Object.fromEntries(sites.flatMap((s) => [[order[2 * s.index], s.gamma], [order[2 * s.index + 1], s.beta]]));

const compiled = compilePass(model, sites, layers, pass, { options: {} });
let session: ort.InferenceSession | undefined;

/** Loss and gradients (golden order) from the generated graph on the first `n` golden images. */
async function edgetta(n: number): Promise<{ loss: number; grads: Float32Array }> {
  session ??= await ort.InferenceSession.create(compiled.encode());
  const feeds: Record<string, ort.Tensor> = { input: new ort.Tensor('float32', goldenInput(n), [n, 3, 32, 32]) };
  for (const [k, v] of Object.entries(params)) feeds[k] = new ort.Tensor('float32', v, [v.length]);
  const r = await session.run(feeds);
  const byInput = Object.fromEntries(compiled.grad!.grads.map((g) => [`edgetta.state.${g.key}`, r[g.name].data as Float32Array]));
  return { loss: (r[compiled.grad!.loss].data as Float32Array)[0], grads: concat(order.map((k) => byInput[k])) };
}

describe('ResNet-20 Tent gradients of every BN scale and bias', () => {
  it('equal PyTorch on the first golden batch (tent_first_batch_grads.npy); the loss is the batch entropy', async () => {
    const { loss, grads } = await edgetta(64);
    expect(grads.length).toBe(golden.length);
    const err = relL2(grads, golden);
    console.log(`ResNet-20: ${compiled.grad!.backwardNodes} backward nodes; loss ${loss.toFixed(7)} (golden ${meta.tent_first_batch_entropy.toFixed(7)}); rel L2 vs PyTorch ${err.toExponential(2)}`);
    expect(Math.abs(loss - meta.tent_first_batch_entropy)).toBeLessThan(1e-5);
    expect(err).toBeLessThan(1e-3);
  });

  it('equal tfjs autodiff of the same compiled forward graph (batch 16)', async () => {
    const mine = await edgetta(16);
    await useTfjsBackend('wasm');
    const forward = compilePass(model, sites, layers, { ...pass, grads: [] }, { options: {} });
    const feeds: Record<string, { data: Float32Array; dims: number[] }> = { input: { data: goldenInput(16), dims: [16, 3, 32, 32] } };
    for (const [k, v] of Object.entries(params)) feeds[k] = { data: v, dims: [v.length] };
    const t0 = performance.now();
    const ref = tfjsGradients(forward.model, feeds, forward.grad!.loss, order);
    const err = relL2(mine.grads, concat(order.map((k) => ref.grads[k])));
    console.log(`ResNet-20 batch 16: tfjs-wasm oracle ${(performance.now() - t0).toFixed(0)} ms; loss ${ref.loss.toFixed(7)} vs ${mine.loss.toFixed(7)}; rel L2 ${err.toExponential(2)}`);
    expect(Math.abs(ref.loss - mine.loss)).toBeLessThan(1e-5);
    expect(err).toBeLessThan(1e-3);
    await useTfjsBackend('cpu');
  });
});
