import { beforeAll, describe, expect, it } from 'vitest';
import { convertTopology, decodeWeights, importLayersModel, loadLayersModel, type WeightSpec } from '@edgetta/tfjs-import';
import { artifactsOf, maxAbsDiff, predict, randomData, runOnnx, tf, tfReady, weightBytes } from './helpers.js';
import { activationModel, functionalModel, nestedModel, sequentialModel, shapeModel } from './models.js';

beforeAll(tfReady);

describe('weights manifest', () => {
  it('decodes float32, int32, bool, float16 and affine uint8/uint16 weights at any byte offset', () => {
    const specs: WeightSpec[] = [
      { name: 'flag', shape: [1], dtype: 'bool' },
      { name: 'f32', shape: [2], dtype: 'float32' },
      { name: 'half', shape: [5], dtype: 'float32', quantization: { dtype: 'float16' } },
      { name: 'i32', shape: [2], dtype: 'int32' },
      { name: 'u8', shape: [3], dtype: 'float32', quantization: { dtype: 'uint8', scale: 0.5, min: -1 } },
      { name: 'u16', shape: [2], dtype: 'float32', quantization: { dtype: 'uint16', scale: 0.25, min: 2 } },
    ];
    const parts = [
      Uint8Array.of(1),
      new Uint8Array(Float32Array.of(1.5, -2.25).buffer),
      new Uint8Array(Uint16Array.of(0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001).buffer),
      new Uint8Array(Int32Array.of(-7, 9).buffer),
      Uint8Array.of(0, 3, 255),
      new Uint8Array(Uint16Array.of(0, 40000).buffer),
    ];
    const bytes = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
    let at = 0;
    for (const p of parts) {
      bytes.set(p, at);
      at += p.length;
    }
    // Split into two shards at an odd offset.
    const w = decodeWeights([{ paths: ['a.bin', 'b.bin'], weights: specs }], [[{ path: 'a.bin', bytes: bytes.slice(0, 7) }, { path: 'b.bin', bytes: bytes.slice(7) }]], 'test');
    expect([...w.get('flag')!.data]).toEqual([1]);
    expect([...w.get('f32')!.data]).toEqual([1.5, -2.25]);
    expect([...w.get('half')!.data]).toEqual([1, -2, 0.5, 65504, 2 ** -24]);
    expect([...w.get('i32')!.data]).toEqual([-7, 9]);
    expect([...w.get('u8')!.data]).toEqual([-1, 0.5, 126.5]);
    expect([...w.get('u16')!.data]).toEqual([2, 10002]);
    expect(() => decodeWeights([{ paths: ['a.bin'], weights: specs }], [[{ path: 'a.bin', bytes: bytes.slice(0, 20) }]], 'test')).toThrow(
      /weight 'i32' \[2\] needs bytes 19\.\.27 of weight group 0 \(a\.bin\), but its shards hold only 20 bytes: 'a\.bin' is missing or truncated/,
    );
  });

  it('a model converted with uint8 quantization imports with its dequantized weights', async () => {
    const model = functionalModel();
    const a = await artifactsOf(model);
    const all = weightBytes(a);
    const specs: WeightSpec[] = [];
    const parts: Uint8Array[] = [];
    let at = 0;
    for (const spec of a.weightSpecs!) {
      const n = spec.shape.reduce((x, y) => x * y, 1);
      const v = new Float32Array(all.slice(at, at + 4 * n).buffer);
      at += 4 * n;
      // The converter's affine uint8 quantization (kernels only; BN statistics stay float32).
      if (!/kernel/.test(spec.name)) {
        specs.push(spec as WeightSpec);
        parts.push(new Uint8Array(v.buffer));
        continue;
      }
      const min = Math.min(...v);
      const scale = (Math.max(...v) - min) / 255 || 1;
      const q = Uint8Array.from(v, (x) => Math.round((x - min) / scale));
      specs.push({ ...(spec as WeightSpec), quantization: { dtype: 'uint8', scale, min, original_dtype: 'float32' } });
      parts.push(q);
      const layer = model.getLayer(spec.name.split('/')[0]);
      layer.setWeights(layer.getWeights().map((t, i) => (layer.weights[i].originalName === spec.name ? tf.tensor(Float32Array.from(q, (x) => x * scale + min), t.shape) : t)));
    }
    const bytes = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
    let o = 0;
    for (const p of parts) {
      bytes.set(p, o);
      o += p.length;
    }
    const ir = await importLayersModel({ modelTopology: a.modelTopology, weightsManifest: [{ paths: ['q.bin'], weights: specs }] }, { weights: { 'q.bin': bytes } });
    const dims = [2, 9, 9, 3];
    const x = randomData(9, dims);
    const got = await runOnnx(ir, { image: { data: x, dims } });
    const want = predict(model, [{ data: x, dims }]);
    expect(maxAbsDiff(got.logits.data as Float32Array, want[0].data)).toBeLessThanOrEqual(1e-4);
    expect(maxAbsDiff(got.map.data as Float32Array, want[1].data)).toBeLessThanOrEqual(1e-4);
  });

  it('every manifest weight of the test models is used by some layer', async () => {
    for (const make of [sequentialModel, functionalModel, shapeModel, activationModel, nestedModel]) {
      const loaded = await loadLayersModel(make());
      const weights = decodeWeights(loaded.groups, loaded.shards, loaded.source);
      const { unusedWeights } = convertTopology(loaded.topology, weights, { source: loaded.source });
      expect(unusedWeights, make.name).toEqual([]);
    }
  });
});
