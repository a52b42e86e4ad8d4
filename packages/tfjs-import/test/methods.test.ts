import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { cloneModel, type Model } from '@edgetta/onnx';
import { AdaptiveSession, listMethods } from '@edgetta/sdk';
import { importLayersModel } from '@edgetta/tfjs-import';
import { maxAbs, maxAbsDiff, predict, randomData, tf, tfReady } from './helpers.js';
import { functionalModel } from './models.js';

// A functional model without Dropout (training-mode tfjs would drop): stem, branches, BN on rank 4 and 2.
let model: tf.LayersModel;
let ir: Model;
const N = 8;
const dims = [N, 9, 9, 3];
const x = randomData(21, dims).map((v) => 0.5 * v + 0.2);

beforeAll(async () => {
  await tfReady();
  model = functionalModel(2, { dropout: false });
  // Confident logits, so that the entropy filters of ETA/EATA/SAR (E0 = 0.4 ln 5) select samples.
  const head = model.getLayer('logits');
  head.setWeights(head.getWeights().map((w) => tf.mul(w, 6)));
  ir = await importLayersModel(model);
});

const feeds = (data = x) => ({ image: new ort.Tensor('float32', data, dims) });

function finite(t: ort.Tensor): boolean {
  return (t.data as Float32Array).every(Number.isFinite);
}

describe('every registered method runs on an imported LayersModel through AdaptiveSession', () => {
  it('covers the registered methods', () => {
    expect(listMethods()).toEqual(expect.arrayContaining(['source', 'norm', 'alpha-bn', 'bn-ema', 'dua']));
  });

  for (const method of listMethods()) {
    it(method, async () => {
      const s = await AdaptiveSession.create({ kind: 'ir', model: ir }, { method, runtime: 'node' });
      expect(s.inputNames).toEqual(['image']);
      expect(s.layerInfo.map((l) => [l.channels, l.rank])).toEqual([
        [12, 4],
        [12, 4],
        [12, 4],
        [24, 4],
        [16, 2],
      ]);
      for (let b = 0; b < 2; b++) {
        const out = await s.run(feeds(x.map((v, i) => v + 0.05 * b * Math.sin(i))));
        expect(out.logits.dims).toEqual([N, 5]);
        expect(out.map.dims).toEqual([N, 5, 5, 2]);
        expect(finite(out.logits) && finite(out.map)).toBe(true);
      }
      expect(s.stats.batches).toBe(2);
      expect(Number.isFinite(s.stats.lastEntropy)).toBe(true);
      // Gradient methods report their parameter updates: they must have applied some.
      const stats = s.stats as { lastUpdate?: unknown; updates?: { applied: number; skipped: number } };
      if (stats.lastUpdate) expect(stats.updates?.applied, JSON.stringify(stats.lastUpdate)).toBeGreaterThan(0);
      await s.dispose();
    });
  }
});

describe('method outputs against tfjs', () => {
  it('source equals model.predict; norm equals the model with BatchNormalization in training mode (batch statistics)', async () => {
    const source = await AdaptiveSession.create(ir, { method: 'source', runtime: 'node' });
    const norm = await AdaptiveSession.create(ir, { method: 'norm', runtime: 'node' });
    const [logits, map] = predict(model, [{ data: x, dims }]);
    const s = await source.run(feeds());
    const n = await norm.run(feeds());
    const [tLogits, tMap] = tf.tidy(() => (model.apply(tf.tensor(x, dims), { training: true }) as tf.Tensor[]).map((t) => t.dataSync() as Float32Array));
    const d = {
      source: maxAbsDiff(s.logits.data as Float32Array, logits.data),
      sourceMap: maxAbsDiff(s.map.data as Float32Array, map.data),
      norm: maxAbsDiff(n.logits.data as Float32Array, tLogits),
      normMap: maxAbsDiff(n.map.data as Float32Array, tMap),
      normVsSource: maxAbsDiff(n.logits.data as Float32Array, logits.data),
    };
    console.log('vs tfjs:', JSON.stringify(Object.fromEntries(Object.entries(d).map(([k, v]) => [k, v.toExponential(2)]))));
    expect(d.source).toBeLessThanOrEqual(1e-5);
    expect(d.sourceMap).toBeLessThanOrEqual(1e-5);
    expect(d.norm).toBeLessThanOrEqual(1e-4);
    expect(d.normMap).toBeLessThanOrEqual(1e-4);
    // Batch statistics differ from the (non-trivial) moving statistics, so the comparison has teeth.
    expect(d.normVsSource).toBeGreaterThan(0.1);
    expect(maxAbs(tLogits)).toBeGreaterThan(0.1);
    await source.dispose();
    await norm.dispose();
  });

  it('dua on the NHWC input adapts exactly as on the same model taking NCHW (its augmentations are layout-aware)', async () => {
    // The same graph behind a Transpose from an NCHW input, with no layout metadata (so NCHW to the SDK).
    const nchw = cloneModel(ir);
    nchw.proto = { ...ir.proto, metadataProps: [] };
    nchw.graph.inputs = [{ name: 'image_nchw', elemType: 1, shape: ['batch', 3, 9, 9] }];
    nchw.graph.nodes.unshift({ opType: 'Transpose', domain: '', name: 'to_nhwc', inputs: ['image_nchw'], outputs: ['image'], attrs: { perm: { kind: 'ints', value: [0, 2, 3, 1] } } });
    const toNchw = (d: Float32Array) => tf.tidy(() => tf.transpose(tf.tensor(d, dims), [0, 3, 1, 2]).dataSync() as Float32Array);
    const opts = { method: 'dua', methodOptions: { copies: 16 }, runtime: 'node' } as const;
    const a = await AdaptiveSession.create(ir, opts);
    const b = await AdaptiveSession.create(nchw, opts);
    let diff = 0;
    let moved = 0;
    for (let k = 0; k < 3; k++) {
      const data = x.map((v, i) => v + 0.1 * k * Math.cos(i));
      const ya = (await a.run(feeds(data))).logits.data as Float32Array;
      const yb = (await b.run({ image_nchw: new ort.Tensor('float32', toNchw(data), [N, 3, 9, 9]) })).logits.data as Float32Array;
      diff = Math.max(diff, maxAbsDiff(ya, yb));
      moved = Math.max(moved, maxAbsDiff(ya, predict(model, [{ data, dims }])[0].data));
    }
    console.log(`dua NHWC vs NCHW: ${diff.toExponential(2)}; adapted vs source ${moved.toFixed(3)}`);
    expect(diff).toBeLessThanOrEqual(1e-5);
    expect(moved).toBeGreaterThan(1e-3);
    const sa = a.snapshot().state;
    const sb = b.snapshot().state;
    for (const k of Object.keys(sa)) expect(maxAbsDiff(sa[k], sb[k]), k).toBeLessThanOrEqual(1e-5);
    await a.dispose();
    await b.dispose();
  });
});
