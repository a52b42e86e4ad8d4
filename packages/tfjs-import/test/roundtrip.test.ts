import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBatchNorms } from '@edgetta/compiler';
import { importLayersModel, INPUT_LAYOUT_KEY } from '@edgetta/tfjs-import';
import { decodeModel, encodeModel, type Model } from '@edgetta/onnx';
import { inputLayoutOf } from '@edgetta/sdk';
import { artifactsOf, maxAbs, maxAbsDiff, predict, randomData, removeTempDirs, runOnnx, saveToDir, setWeights, tf, tfReady, weightBytes } from './helpers.js';
import { activationModel, functionalModel, nestedModel, sequentialModel, shapeModel } from './models.js';

beforeAll(tfReady);
afterAll(removeTempDirs);

type Input = { data: Float32Array; dims: number[] };

function inputsFor(model: tf.LayersModel, batch = 3): Input[] {
  return model.inputs.map((t, i) => {
    const dims = [batch, ...(t.shape.slice(1) as number[])];
    return { data: randomData(10 + i, dims), dims };
  });
}

/** Max |onnxruntime - model.predict| per output of an imported model. */
async function diffs(model: tf.LayersModel, ir: Model, inputs = inputsFor(model)) {
  const want = predict(model, inputs);
  const got = await runOnnx(ir, Object.fromEntries(ir.graph.inputs.map((v, i) => [v.name, inputs[i]])));
  return want.map((w, i) => {
    const name = ir.graph.outputs[i].name;
    const g = got[name];
    expect(g.dims, name).toEqual(w.dims);
    return { name, diff: maxAbsDiff(g.data as Float32Array, w.data), scale: maxAbs(w.data) };
  });
}

function report(label: string, res: { name: string; diff: number; scale: number }[]): void {
  console.log(`${label}: ${res.map((r) => `${r.name} ${r.diff.toExponential(2)} (max |y| ${r.scale.toFixed(2)})`).join('; ')}`);
  for (const r of res) {
    expect(r.diff, r.name).toBeLessThanOrEqual(1e-4);
    expect(r.scale, `${r.name} is not trivially small`).toBeGreaterThan(0.1);
  }
}

describe('imported LayersModels equal model.predict (max abs difference <= 1e-4)', () => {
  for (const [name, make] of [
    ['sequential: rescaling, strided/even-kernel same convs, depthwise, separable, BN (eps 1e-3, axis -1, no center/scale), ReLU max_value, padding, pooling, flatten, dropout, dense', sequentialModel],
    ['functional: add, multiply, concatenate, BN after concat and on rank 2, GAP, two outputs (logits and an NHWC map)', functionalModel],
    ['shape layers: upsampling (nearest, bilinear), cropping, permute, reshape, maximum, average, global max pooling, softmax', shapeModel],
    ['every activation function and activation layer', activationModel],
    ['a Sequential model nested in a functional one', nestedModel],
  ] as const) {
    it(name, async () => {
      const model = make();
      report(name.split(':')[0], await diffs(model, await importLayersModel(await artifactsOf(model))));
    });
  }
});

describe('data formats and BatchNormalization axes', () => {
  it('channels_first convolution, pooling and flatten', async () => {
    const L = tf.layers;
    const m = tf.sequential({
      layers: [
        L.conv2d({ inputShape: [3, 8, 8], filters: 4, kernelSize: 3, strides: 2, padding: 'same', dataFormat: 'channelsFirst', name: 'cf_conv' }),
        L.maxPooling2d({ poolSize: 2, dataFormat: 'channelsFirst', name: 'cf_pool' }),
        L.depthwiseConv2d({ kernelSize: 1, dataFormat: 'channelsFirst', name: 'cf_dw' }),
        L.flatten({ name: 'flat' }),
        L.dense({ units: 3, name: 'out' }),
      ],
    });
    setWeights(m, 6);
    const ir = await importLayersModel(m);
    expect((ir.proto.metadataProps as { value: string }[])[0].value).toBe('NCHW');
    expect(ir.graph.nodes.filter((n) => n.opType === 'Transpose')).toHaveLength(0);
    report('channels_first', await diffs(m, ir));
  });

  it('BatchNormalization on axes 1, 2 and 3 of a rank-4 input equals the BN formula', async () => {
    // The oracle is the formula, not the layer: tfjs 4.22's cpu BatchNorm kernel broadcasts the
    // parameters over the last axis only, so its layer is wrong for any other axis.
    const dims = [2, 4, 5, 6];
    const x = randomData(5, dims);
    for (const axis of [1, 2, 3]) {
      const bn = tf.layers.batchNormalization({ axis, epsilon: 1e-3, inputShape: dims.slice(1), name: `bn_axis${axis}` });
      const m = tf.sequential({ layers: [bn] });
      setWeights(m, axis);
      const [g, b, mu, v] = bn.getWeights();
      const shape = dims.map((d, i) => (i === axis ? d : 1));
      const want = tf.tidy(() => {
        const r = (t: tf.Tensor) => t.reshape(shape);
        return tf.tensor(x, dims).sub(r(mu)).div(r(v).add(1e-3).sqrt()).mul(r(g)).add(r(b)).dataSync() as Float32Array;
      });
      const ir = await importLayersModel(m);
      const bnNode = ir.graph.nodes.find((n) => n.opType === 'BatchNormalization')!;
      const got = (await runOnnx(ir, { [ir.graph.inputs[0].name]: { data: x, dims } }))[ir.graph.outputs[0].name];
      const diff = maxAbsDiff(got.data as Float32Array, want);
      console.log(`BN axis ${axis}: ${diff.toExponential(2)} (BN input from ${ir.graph.nodes.find((n) => n.outputs.includes(bnNode.inputs[0]))?.opType ?? 'the graph input'})`);
      expect(got.dims).toEqual(dims);
      expect(diff).toBeLessThanOrEqual(1e-5);
    }
  });
});

describe('sources', () => {
  it('model.json path with two weight shards beside it; { modelTopology, weightsManifest } with shard bytes by path or one buffer; a tf.LayersModel', async () => {
    const model = functionalModel();
    const file = await saveToDir(model, 2);
    const json = JSON.parse(fs.readFileSync(file, 'utf8'));
    const dir = path.dirname(file);
    const shards = Object.fromEntries(json.weightsManifest[0].paths.map((p: string) => [p, fs.readFileSync(path.join(dir, p))]));
    const all = weightBytes(await artifactsOf(model));
    for (const [label, ir] of [
      ['path', await importLayersModel(file)],
      ['file URL', await importLayersModel(new URL(`file://${file}`))],
      ['manifest + shard map', await importLayersModel(json, { weights: shards })],
      ['manifest + one ArrayBuffer', await importLayersModel(json, { weights: all.slice().buffer })],
      ['tf.LayersModel', await importLayersModel(model)],
    ] as const) {
      report(label, await diffs(model, ir));
    }
  });

  it('Keras 2 (H5 converter wrapper, ":0" weight names) and Keras 3 (batch_shape, args/keras_history inbound nodes) spellings of the same topology', async () => {
    const model = functionalModel();
    const a = await artifactsOf(model);
    const keras2 = {
      modelTopology: { keras_version: '2.15.0', backend: 'tensorflow', model_config: a.modelTopology },
      weightsManifest: [{ paths: ['w.bin'], weights: a.weightSpecs!.map((w) => ({ ...w, name: `${w.name}:0` })) }],
    };
    report('keras 2', await diffs(model, await importLayersModel(keras2, { weights: { 'w.bin': weightBytes(a) } })));
    const keras3 = toKeras3(a.modelTopology as Record<string, any>);
    report('keras 3', await diffs(model, await importLayersModel({ modelTopology: keras3, weightSpecs: a.weightSpecs, weightData: a.weightData })));
  });
});

/** Rewrites a tfjs functional topology the way Keras 3 writes it. */
function toKeras3(t: Record<string, any>): Record<string, any> {
  const c = structuredClone(t);
  c.class_name = 'Functional';
  c.keras_version = '3.3.3';
  for (const l of c.config.layers) {
    if (l.config.batch_input_shape) {
      l.config.batch_shape = l.config.batch_input_shape;
      delete l.config.batch_input_shape;
    }
    const tensor = (r: any[]) => ({ class_name: '__keras_tensor__', config: { shape: null, dtype: 'float32', keras_history: r.slice(0, 3) } });
    l.inbound_nodes = l.inbound_nodes.map((call: any[][]) => ({ args: call.length === 1 ? [tensor(call[0])] : [call.map(tensor)], kwargs: {} }));
  }
  c.config.input_layers = c.config.input_layers[0];
  return c;
}

describe('graph layout', () => {
  it('keeps the NHWC input, transposes it to NCHW once, and emits standard ONNX BatchNormalization nodes on axis 1', async () => {
    const model = functionalModel();
    const ir = await importLayersModel(model);
    expect(ir.graph.inputs).toEqual([{ name: 'image', elemType: 1, shape: ['batch', 9, 9, 3] }]);
    expect(ir.graph.outputs.map((o) => [o.name, o.shape])).toEqual([
      ['logits', ['batch', 5]],
      ['map', ['batch', 5, 5, 2]],
    ]);
    expect(ir.opsets.get('')).toBe(15);
    expect((ir.proto.metadataProps as { key: string; value: string }[]).find((p) => p.key === INPUT_LAYOUT_KEY)?.value).toBe('NHWC');
    // The layout survives saving the import as an .onnx file and loading it back.
    expect(inputLayoutOf(decodeModel(encodeModel(ir)))).toBe('NHWC');
    const readers = ir.graph.nodes.filter((n) => n.inputs.includes('image'));
    expect(readers.map((n) => [n.opType, n.attrs.perm])).toEqual([['Transpose', { kind: 'ints', value: [0, 3, 1, 2] }]]);
    // Transposes: the input, the NHWC map output; nothing between layers.
    expect(ir.graph.nodes.filter((n) => n.opType === 'Transpose')).toHaveLength(2);
    const sites = findBatchNorms(ir);
    const kerasBn = model.layers.filter((l) => l.getClassName() === 'BatchNormalization');
    expect(sites.map((s) => [s.channels, s.epsilon])).toEqual(kerasBn.map((l) => [l.getWeights()[0].shape[0], l.getConfig().epsilon]));
  });

  it("a zero padding followed by pooling stays zero padding (onnxruntime's PadFusion would treat it as -inf / excluded padding)", async () => {
    const m = tf.sequential({
      layers: [
        tf.layers.zeroPadding2d({ inputShape: [7, 7, 2], padding: 1 }),
        tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'valid' }),
        tf.layers.zeroPadding2d({ padding: [[0, 1], [1, 0]] }),
        tf.layers.averagePooling2d({ poolSize: 2, strides: 1, padding: 'same' }),
        // The Keras stem pattern: explicit padding, then a strided 'valid' conv.
        tf.layers.zeroPadding2d({ padding: [[1, 0], [0, 1]] }),
        tf.layers.conv2d({ filters: 3, kernelSize: 3, strides: 2, padding: 'valid' }),
      ],
    });
    setWeights(m, 7);
    const x = { data: randomData(3, [2, 7, 7, 2]).map((v) => v - 1.5), dims: [2, 7, 7, 2] };
    report('padding before pooling (negative inputs)', await diffs(m, await importLayersModel(m), [x]));
  });

  it('logits: true drops a softmax that ends an output', async () => {
    const model = shapeModel();
    const ir = await importLayersModel(model, { logits: true });
    const x = inputsFor(model);
    const logits = (await runOnnx(ir, { x: x[0] })).probs;
    const probs = predict(model, x)[0];
    const soft = tf.tidy(() => tf.softmax(tf.tensor(logits.data as Float32Array, logits.dims as number[])).dataSync());
    expect(maxAbsDiff(soft, probs.data)).toBeLessThan(1e-6);
    expect(maxAbsDiff(logits.data as Float32Array, probs.data)).toBeGreaterThan(0.1);
  });
});
