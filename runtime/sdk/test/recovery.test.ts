/**
 * Recovery of BatchNorm folded at export, on the embedded ResNet-20 as PyTorch exports it by
 * default (bench/assets/resnet20-cifar10-folded.onnx: 0 BatchNormalization, 19 Conv), against the
 * BN-kept export of the same weights, and on small graphs for which convs get a site.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '@edgetta/core';
import { findBatchNorms, insertRecoveredNorms, planRecovery } from '@edgetta/compiler';
import { decodeModel, encodeModel, float32Tensor, GraphBuilder, tensorToFloat32, type Model } from '@edgetta/onnx';
import { padCropFlip, parseCifar10, takeFirst, toFloat32 } from '@edgetta/datasets';
import { countErrors, emptyModel, embeddedModelPath, noisyEmbeddedSample, randomInput } from '@edgetta/testing';
import { AdaptiveSession, liveSessions, restoreBatchNorm } from '@edgetta/sdk';
import { maxAbsDiff, plainRun } from './helpers.js';

const asset = (name: string): string => fileURLToPath(new URL(`../../../bench/assets/${name}`, import.meta.url));
const foldedPath = asset('resnet20-cifar10-folded.onnx');
const foldedBytes = new Uint8Array(fs.readFileSync(foldedPath));
const keptBytes = new Uint8Array(fs.readFileSync(embeddedModelPath));
const train = takeFirst(parseCifar10(new Uint8Array(fs.readFileSync(asset('cifar10-train-1024.bin'))), 'cifar10-train-1024.bin'), 1024);

/** 1,024 clean training images as one calibration tensor; `augment` draws them like the model's training batches. */
function calibration(augment: boolean, count = 1024): ort.Tensor[] {
  const set = augment ? padCropFlip(takeFirst(train, count), { seed: 7 }) : takeFirst(train, count);
  return [new ort.Tensor('float32', toFloat32(set.images, set.count, 32, 32), [set.count, 3, 32, 32])];
}



/** Error % of a method over the noisy embedded sample (Gaussian noise severity 5), batches of 64. */
async function errorOf(model: string | Uint8Array, method: string, options: object = {}): Promise<number> {
  const { x, labels } = noisyEmbeddedSample(1000);
  const s = await AdaptiveSession.create(model, { method, runtime: 'node', ...options });
  let wrong = 0;
  const B = 64;
  const batches = Math.floor(1000 / B);
  for (let k = 0; k < batches; k++) {
    const out = await s.run({ input: new ort.Tensor('float32', x.slice(k * B * 3072, (k + 1) * B * 3072), [B, 3, 32, 32]) });
    wrong += countErrors(out.logits.data as Float32Array, labels, k * B);
  }
  await s.dispose();
  return (100 * wrong) / (batches * B);
}

describe('folded ResNet-20 (torch.onnx.export defaults) with calibration', () => {
  const batch = { input: new ort.Tensor('float32', noisyEmbeddedSample(64, 3).x, [64, 3, 32, 32]) };

  it('is refused without calibration, with a message saying what to pass', async () => {
    await expect(AdaptiveSession.create(foldedPath, { method: 'norm', runtime: 'node' })).rejects.toThrow(
      /no normalization layer \(BatchNormalization was likely folded into its 19 unnormalized convolutions at export: pass calibration: \[tensor, \.\.\.\] with at least 32/,
    );
  });

  it('recovers a site after every conv, and source equals the folded file under onnxruntime (1e-5)', async () => {
    const s = await AdaptiveSession.create(foldedPath, { method: 'source', runtime: 'node', calibration: calibration(false) });
    expect(s.recovery?.recovered).toHaveLength(19);
    expect(s.recovery?.skipped).toEqual([]);
    expect(s.recovery?.samples).toBe(1024);
    const ours = await s.run(batch);
    const ref = await plainRun(foldedBytes, batch);
    expect(maxAbsDiff(ours.logits.data as Float32Array, ref.logits.data as Float32Array)).toBeLessThanOrEqual(1e-5);
    await s.dispose();
  });

  it('with the BN-kept model\'s statistics, the recovered norm layers reproduce its norm (the construction is exact)', async () => {
    // Oracle statistics of each folded conv output z = a*u + c from the kept BN: mean beta and
    // variance a^2 * running_var; the only remaining difference is epsilon's scale (eps vs eps/a^2).
    const kept = findBatchNorms(decodeModel(keptBytes));
    const folded = decodeModel(foldedBytes);
    const plan = planRecovery(folded);
    expect(plan.filter((c) => !c.skip)).toHaveLength(19);
    const sites = plan.map((c, i) => {
      const bn = kept[i];
      const mean = bn.beta.slice();
      const variance = bn.variance.map((v, ch) => (bn.gamma[ch] / Math.sqrt(v + bn.epsilon)) ** 2 * v);
      return { output: c.output, stats: { mean, variance } };
    });
    const oracle = encodeModel(insertRecoveredNorms(folded, sites).model);
    const a = await AdaptiveSession.create(oracle, { method: 'norm', runtime: 'node' });
    const b = await AdaptiveSession.create(keptBytes, { method: 'norm', runtime: 'node' });
    const ya = (await a.run(batch)).logits.data as Float32Array;
    const yb = (await b.run(batch)).logits.data as Float32Array;
    // Logits are O(10); the epsilon scale moves them by a few 1e-4 at most.
    expect(maxAbsDiff(ya, yb)).toBeLessThanOrEqual(2e-3);
    await a.dispose();
    await b.dispose();
  });

  it('norm and tent errors under Gaussian noise 5 are those of the BN-kept model when calibration is drawn like its training batches', async () => {
    const cal = calibration(true);
    for (const method of ['norm', 'tent']) {
      const kept = await errorOf(keptBytes, method);
      const folded = await errorOf(foldedPath, method, { calibration: cal });
      // 960 images: one image is 0.104 pt. Measured: norm 44.27 vs 43.96, tent 43.85 vs 43.54.
      expect(Math.abs(folded - kept), `${method}: kept ${kept.toFixed(2)} %, folded+recovered ${folded.toFixed(2)} %`).toBeLessThanOrEqual(1.0);
    }
  });

  it('recovery through restoreBatchNorm writes a standard ONNX file that a plain load adapts the same way', async () => {
    const cal = calibration(true);
    const { bytes, report } = await restoreBatchNorm(foldedPath, cal, { runtime: 'node' });
    expect(report.recovered).toHaveLength(19);
    const restored = decodeModel(bytes);
    expect(restored.graph.nodes.filter((n) => n.opType === 'BatchNormalization')).toHaveLength(19);
    // Identity at the source under plain onnxruntime.
    const src = await plainRun(bytes, batch);
    const ref = await plainRun(foldedBytes, batch);
    expect(maxAbsDiff(src.logits.data as Float32Array, ref.logits.data as Float32Array)).toBeLessThanOrEqual(1e-5);
    // And the same adaptation as recovering inside create().
    const a = await AdaptiveSession.create(bytes, { method: 'tent', runtime: 'node' });
    const b = await AdaptiveSession.create(foldedPath, { method: 'tent', runtime: 'node', calibration: cal });
    for (let k = 0; k < 2; k++) {
      const ya = (await a.run(batch)).logits.data as Float32Array;
      const yb = (await b.run(batch)).logits.data as Float32Array;
      expect(maxAbsDiff(ya, yb)).toBeLessThanOrEqual(1e-5);
    }
    await a.dispose();
    await b.dispose();
  });
});

/** The kept ResNet-20 with its first `k` BatchNorms folded into their convs (a partly folded export). */
function foldFirst(k: number): Model {
  const m = decodeModel(keptBytes);
  const sites = findBatchNorms(m).slice(0, k);
  const g = m.graph;
  for (const bn of sites) {
    const conv = g.nodes.find((n) => n.outputs[0] === bn.input && n.opType === 'Conv')!;
    const w = tensorToFloat32(g.initializers.get(conv.inputs[1])!);
    const c = bn.gamma.length;
    const per = w.length / c;
    const scale = bn.gamma.map((gm, ch) => gm / Math.sqrt(bn.variance[ch] + bn.epsilon));
    const wf = w.map((v, i) => v * scale[Math.floor(i / per)]);
    const b0 = conv.inputs[2] ? tensorToFloat32(g.initializers.get(conv.inputs[2])!) : new Float32Array(c);
    const bf = b0.map((v, ch) => (v - bn.mean[ch]) * scale[ch] + bn.beta[ch]);
    const wn = `${conv.name}.wf`;
    const bnName = `${conv.name}.bf`;
    g.initializers.set(wn, float32Tensor(wn, wf, [...(g.initializers.get(conv.inputs[1])!.dims ?? []).map(Number)]));
    g.initializers.set(bnName, float32Tensor(bnName, bf, [c]));
    const i = g.nodes.indexOf(conv);
    g.nodes[i] = { ...conv, inputs: [conv.inputs[0], wn, bnName], outputs: [bn.output], source: undefined };
    g.nodes.splice(g.nodes.indexOf(bn.node), 1);
  }
  return m;
}

describe('which convolutions get a recovered site', () => {
  it('a partly folded model recovers only the folded convs', async () => {
    const m = foldFirst(5);
    const s = await AdaptiveSession.create(m, { method: 'norm', runtime: 'node', calibration: calibration(false, 64) });
    expect(s.recovery?.recovered).toHaveLength(5);
    expect(s.recovery?.skipped.map((x) => x.reason)).toEqual(Array(14).fill('normalized'));
    expect(s.stats.layers).toBe(19);
    await s.dispose();
  });

  it('convs on pooled features and the head keep no site; exclude is honoured', async () => {
    // x -> Conv c1 -> Relu -> h;  GAP(h) -> Conv c2 (1x1) -> Sigmoid -> gate;  h * gate -> Conv c3 -> output
    const rng = new Rng(5);
    const m = emptyModel(13);
    const b = new GraphBuilder(m, 'm');
    const w = (name: string, o: number, i: number, k: number): string => b.initializer(name, Float32Array.from({ length: o * i * k * k }, () => rng.normal() * 0.3), [o, i, k, k]);
    const x = b.input({ name: 'x', elemType: 1, shape: ['N', 3, 8, 8] });
    const h = b.op('Relu', [b.op('Conv', [x, w('w1', 4, 3, 3)], { pads: [1, 1, 1, 1] }, 'c1')]);
    const gate = b.op('Sigmoid', [b.op('Conv', [b.op('GlobalAveragePool', [h]), w('w2', 4, 4, 1)], {}, 'c2')]);
    b.output(b.op('Conv', [b.op('Mul', [h, gate]), w('w3', 2, 4, 1)], {}, 'c3'), 'y', ['N', 2, 8, 8]);
    const bytes = encodeModel(m);
    const names = decodeModel(bytes).graph.nodes.filter((n) => n.opType === 'Conv').map((n) => n.name);
    const cal = [new ort.Tensor('float32', randomInput(1, [40, 3, 8, 8]), [40, 3, 8, 8])];
    const s = await AdaptiveSession.create(bytes, { method: 'norm', runtime: 'node', calibration: cal });
    expect(s.recovery?.recovered.map((r) => r.conv)).toEqual([names[0]]);
    expect(s.recovery?.skipped).toEqual([
      { conv: names[1], reason: 'pooled' },
      { conv: names[2], reason: 'head' },
    ]);
    await s.dispose();
    await expect(AdaptiveSession.create(bytes, { method: 'norm', runtime: 'node', calibration: cal, recovery: { exclude: [names[0]] } })).rejects.toThrow(
      /there is no folded BatchNorm to recover: each of its 3 convolutions is already normalized, the head, on pooled features, or excluded/,
    );
    await expect(AdaptiveSession.create(bytes, { method: 'norm', runtime: 'node', calibration: cal, recovery: { exclude: ['nope'] } })).rejects.toThrow(/exclude: no Conv node or output named 'nope'/);
  });
});

describe('bad calibration input: a clear error and nothing changed', () => {
  let before: number;
  beforeAll(() => {
    before = liveSessions();
  });
  const model = decodeModel(foldedBytes);
  const snapshot = encodeModel(model);
  const good = calibration(false, 64)[0];
  const cases: [string, unknown, RegExp][] = [
    ['wrong image size', [new ort.Tensor('float32', new Float32Array(64 * 3 * 28 * 28), [64, 3, 28, 28])], /calibration\[0\]: dimension 2 is 28; input 'input' expects 32/],
    ['wrong rank', [new ort.Tensor('float32', new Float32Array(64 * 3072), [64, 3072])], /calibration\[0\]: dims \[64, 3072\] have rank 2; input 'input' has rank 4/],
    ['NaN', [good, new ort.Tensor('float32', Float32Array.from({ length: 3072 * 2 }, (_, i) => (i === 4000 ? NaN : 0.5)), [2, 3, 32, 32])], /calibration\[1\]: value NaN at flat index 4000 \(sample 1\); calibration samples must be finite/],
    ['too few samples', calibration(false, 16), /calibration: 16 samples given; .* needs at least 32 clean samples/],
    ['not an array', good, /calibration: expected a non-empty array of float32 tensors/],
    ['int tensor', [new ort.Tensor('int32', new Int32Array(64 * 3072), [64, 3, 32, 32])], /calibration\[0\]: expected a float32 tensor/],
  ];
  for (const [what, cal, message] of cases) {
    it(what, async () => {
      await expect(AdaptiveSession.create(model, { method: 'norm', runtime: 'node', calibration: cal as ort.Tensor[] })).rejects.toThrow(message);
      expect(Buffer.from(encodeModel(model)).equals(Buffer.from(snapshot))).toBe(true);
      expect(liveSessions()).toBe(before);
    });
  }

  it('a model with no conv to recover', async () => {
    const m = emptyModel(13);
    const b = new GraphBuilder(m, 'm');
    const x = b.input({ name: 'x', elemType: 1, shape: ['N', 3, 8, 8] });
    const h = b.op('Flatten', [b.op('GlobalAveragePool', [x])], { axis: 1 });
    b.output(b.op('Gemm', [h, b.initializer('w', randomInput(3, [5, 3]), [5, 3])], { transB: 1 }), 'logits', ['N', 5]);
    await expect(restoreBatchNorm(m, [new ort.Tensor('float32', randomInput(2, [40, 3, 8, 8]), [40, 3, 8, 8])], { runtime: 'node' })).rejects.toThrow(
      /there is no folded BatchNorm to recover: it has no Conv or ConvTranspose node/,
    );
    expect(liveSessions()).toBe(before);
  });

  it('recovery options without calibration', async () => {
    await expect(AdaptiveSession.create(foldedPath, { method: 'norm', runtime: 'node', recovery: { exclude: [] } })).rejects.toThrow(/recovery: recovering folded BatchNorm needs calibration/);
  });
});
