/**
 * Dense prediction on the trained CGNet segmenter (54 BN, PReLU, a bilinear Resize head), at
 * 96x128 so it runs fast: Tent's per-pixel entropy loss equals a float64 computation from the
 * logits, its BN gradients equal central finite differences, the statistics methods and Tent run,
 * and the per-sample methods refuse naming what applies.
 */
import fs from 'node:fs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { batchStatsNorm, meanEntropyLoss, type LayerSource, type PassSpec } from '@edgetta/core';
import { compilePass, findSites } from '@edgetta/compiler';
import { cloneModel, decodeModel, type Model } from '@edgetta/onnx';
import { resolveEngine } from '@edgetta/engine';
import { randomInput, sharedDir } from '@edgetta/testing';
import { ConfusionMatrix, toFloat32 } from '@edgetta/datasets';
import { readCamVid } from '@edgetta/datasets/node';
import { AdaptiveSession, annotateShapes } from '@edgetta/sdk';

const full = decodeModel(new Uint8Array(fs.readFileSync(`${sharedDir}models/cgnet-camvid.onnx`)));
const [H, W] = [96, 128];
/** CGNet's input declared at 96x128 (its Resize head takes the output size from the input). */
function small(): Model {
  const m = cloneModel(full);
  m.graph.inputs[0].shape = ['N', 3, H, W];
  return m;
}
const x = randomInput(3, [2, 3, H, W]);
const feeds = () => ({ input: new ort.Tensor('float32', x, [2, 3, H, W]) });

/** Float64 mean over samples and pixels of the softmax entropy over the class axis. */
function pixelEntropy(logits: Float32Array, [n, k, h, w]: readonly number[]): number {
  let total = 0;
  for (let b = 0; b < n; b++) {
    for (let p = 0; p < h * w; p++) {
      const v = Array.from({ length: k }, (_, j) => logits[(b * k + j) * h * w + p]);
      const max = Math.max(...v);
      const z = v.reduce((s, a) => s + Math.exp(a - max), 0);
      total -= v.reduce((s, a) => s + (Math.exp(a - max) / z) * (a - max - Math.log(z)), 0);
    }
  }
  return total / (n * h * w);
}

describe('dense prediction (CGNet, 11 classes)', () => {
  it("Tent's loss is the per-pixel entropy and its BN gradients equal finite differences", async () => {
    const engine = await resolveEngine({ runtime: 'node' });
    const model = await annotateShapes(engine, small(), 'cgnet', 'NCHW');
    const sites = findSites(model, ['batch-norm']);
    expect(sites).toHaveLength(54);
    const layers: LayerSource[] = sites.map(({ node: _n, input: _i, output: _o, ...s }) => ({ ...s, rank: 4 }));
    const pass: PassSpec<object> = {
      reads: ['gamma', 'beta'],
      grads: ['gamma', 'beta'],
      norm: batchStatsNorm,
      loss: { build: ({ ops, logits }) => ({ loss: meanEntropyLoss(ops, logits) }) },
    };
    const compiled = compilePass(model, sites, layers, pass, { options: {} });
    const params: Record<string, Float32Array> = Object.fromEntries(sites.flatMap((s) => [[`edgetta.state.layer.${s.index}.gamma`, s.gamma], [`edgetta.state.layer.${s.index}.beta`, s.beta]]));
    const all: Record<string, ort.Tensor> = { ...feeds() };
    for (const [k, v] of Object.entries(params)) all[k] = new ort.Tensor('float32', v, [v.length]);
    const session = await ort.InferenceSession.create(compiled.encode());
    const r = await session.run(all);
    await session.release();
    const logits = r[compiled.modelOutputs[0]];
    expect(logits.dims).toEqual([2, 11, H, W]);
    const loss = (r[compiled.grad!.loss].data as Float32Array)[0];
    expect(Math.abs(loss - pixelEntropy(logits.data as Float32Array, logits.dims))).toBeLessThan(1e-5);
    const grads = Object.fromEntries(compiled.grad!.grads.map((g) => [`edgetta.state.${g.key}`, r[g.name].data as Float32Array]));
    const forward = await ort.InferenceSession.create(compilePass(model, sites, layers, { ...pass, grads: [] }, { options: {} }).encode());
    // PReLU kinks make steps of 1e-2 too coarse for some channels; 1e-3 is still far above float32 noise.
    const h = 1e-3;
    const mine: number[] = [];
    const fd: number[] = [];
    for (const layer of [0, 20, 40, 53]) {
      for (const role of ['gamma', 'beta']) {
        const key = `edgetta.state.layer.${layer}.${role}`;
        // The channel with the largest gradient: finite differences resolve it above float32 noise.
        const g = grads[key];
        const i = g.reduce((best, v, j) => (Math.abs(v) > Math.abs(g[best]) ? j : best), 0);
        const at = async (d: number) => {
          const p = params[key].slice();
          p[i] += d;
          return ((await forward.run({ ...all, [key]: new ort.Tensor('float32', p, [p.length]) }))[compiled.grad!.loss].data as Float32Array)[0];
        };
        mine.push(g[i]);
        fd.push(((await at(h)) - (await at(-h))) / (2 * h));
      }
    }
    await forward.release();
    let num = 0;
    let den = 0;
    mine.forEach((v, k) => ((num += (v - fd[k]) ** 2), (den += fd[k] ** 2)));
    console.log(`CGNet Tent: ${compiled.grad!.backwardNodes} backward nodes, loss ${loss.toFixed(6)}; gradients vs finite differences at ${mine.length} elements: rel L2 ${Math.sqrt(num / den).toExponential(2)}`);
    expect(Math.sqrt(num / den)).toBeLessThan(1e-2);
  });

  it('norm, alpha-bn and tent run and keep the dense answer; the entropy statistic is per pixel', async () => {
    for (const method of ['norm', 'alpha-bn', 'tent']) {
      const s = await AdaptiveSession.create(small(), { method, runtime: 'node' });
      const out = await s.run(feeds());
      expect(out.logits.dims).toEqual([2, 11, H, W]);
      expect(Math.abs(s.stats.lastEntropy! - pixelEntropy(out.logits.data as Float32Array, out.logits.dims))).toBeLessThan(1e-6);
      await s.dispose();
    }
  });

  it('per-sample methods refuse dense outputs, naming the methods that apply', async () => {
    for (const method of ['eta', 'eata', 'sar', 'rotta']) {
      await expect(AdaptiveSession.create(small(), { method, runtime: 'node' })).rejects.toThrow(
        new RegExp(`method '${method}' needs classifier outputs, and this model's first output is dense logits; methods that apply to this model: alpha-bn, bn-ema, dua, norm, source, tent, unmix-tns, unmix-tns\\+tent$`),
      );
    }
  });

  it('on the first 64 CamVid test images (batch 8, full 360x480): source and norm reproduce the measured 67.18 and 57.52 % mIoU', async () => {
    const set = await readCamVid(`${sharedDir}data/camvid`, { limit: 64 });
    const px = set.height * set.width;
    const miou: Record<string, number> = {};
    for (const method of ['source', 'norm']) {
      const s = await AdaptiveSession.create(full, { method, runtime: 'node' });
      const m = new ConfusionMatrix(set.numClasses, set.ignoreIndex);
      for (let o = 0; o < 64; o += 8) {
        const x = toFloat32(set.images.subarray(o * px * 3, (o + 8) * px * 3), 8, set.height, set.width);
        const out = (await s.run({ input: new ort.Tensor('float32', x, [8, 3, set.height, set.width]) })).logits;
        m.add(out.data as Float32Array, out.dims, set.masks.subarray(o * px, (o + 8) * px));
      }
      miou[method] = 100 * m.scores().miou;
      await s.dispose();
    }
    // The numbers measured for issue #15 with another implementation, to two decimals.
    expect(Math.abs(miou.source - 67.18)).toBeLessThan(0.006);
    expect(Math.abs(miou.norm - 57.52)).toBeLessThan(0.006);
  });
});
