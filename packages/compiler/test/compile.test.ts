import fs from 'node:fs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { norm } from '@edgetta/adapter-norm';
import { alphaBn } from '@edgetta/adapter-alpha-bn';
import { compilePass, findBatchNorms } from '@edgetta/compiler';
import { decodeModel, encodeModel, f, GraphBuilder } from '@edgetta/onnx';
import { checkPassAgainstReference, emptyModel, goldenInput, instanceNormModel, randomInput, resnetPath, smallCnn } from '@edgetta/testing';

const resnet = decodeModel(new Uint8Array(fs.readFileSync(resnetPath)));

async function run(bytes: Uint8Array, x: Float32Array, dims: number[], name = 'input'): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(bytes);
  const out = await s.run({ [name]: new ort.Tensor('float32', x, dims) });
  await s.release();
  return out[s.outputNames[0]].data as Float32Array;
}

describe('finding BatchNormalization sites', () => {
  it('finds the 19 BN layers of ResNet-20 in graph order with their channels and epsilon', () => {
    const sites = findBatchNorms(resnet);
    expect(sites.map((s) => s.channels)).toEqual([...Array(7).fill(16), ...Array(6).fill(32), ...Array(6).fill(64)]);
    expect(sites.every((s) => Math.abs(s.epsilon - 1e-5) < 1e-9)).toBe(true);
    expect(sites.reduce((a, s) => a + 2 * s.channels, 0)).toBe(1376); // the golden gradient vector length
  });

  it('explains a model without BN and a BN exported in training mode', () => {
    expect(() => findBatchNorms(decodeModel(instanceNormModel()), 'in.onnx')).toThrow(/in.onnx: the model has no BatchNormalization node.*InstanceNormalization x1/);
    const m = emptyModel(15);
    const b = new GraphBuilder(m);
    const x = b.input({ name: 'x', elemType: 1, shape: ['N', 2, 3, 3] });
    const p = b.initializer('p', new Float32Array(2).fill(1), [2]);
    const [y] = b.node('BatchNormalization', [x, p, p, p, p], { epsilon: f(1e-5), training_mode: 1 }, 3);
    b.output(y, 'y');
    expect(() => findBatchNorms(decodeModel(encodeModel(m)))).toThrow(/exported in training mode/);
  });
});

describe('compilePass', () => {
  const layers = findBatchNorms(resnet).map(({ node: _n, input: _i, output: _o, ...s }) => ({ ...s, rank: 4 }));

  it('leaves every non-BN node untouched and keeps the model interface', () => {
    const c = compilePass(resnet, findBatchNorms(resnet), layers, norm.passes.predict, { options: {} });
    const ops = (m: typeof resnet) => m.graph.nodes.filter((n) => !n.name.startsWith('edgetta/')).map((n) => n.name);
    expect(ops(c.model)).toEqual(resnet.graph.nodes.filter((n) => n.opType !== 'BatchNormalization').map((n) => n.name));
    expect(c.model.graph.inputs.map((i) => i.name)).toEqual(['input']);
    expect(c.modelOutputs).toEqual(['logits']);
    expect(c.model.opsets.get('')).toBe(15); // raised from 13 for train-mode BN statistics
  });

  it('the fast (train-mode BN) and the reduce-based batch statistics give the same logits', async () => {
    const x = goldenInput(32);
    const sites = findBatchNorms(resnet);
    for (const method of [norm, alphaBn]) {
      const fast = compilePass(resnet, sites, layers, method.passes.predict, { options: method.defaults });
      const slow = compilePass(resnet, sites, layers, method.passes.predict, { options: method.defaults, fastBatchStats: false });
      expect(slow.model.opsets.get('')).toBe(13);
      expect(slow.model.graph.nodes.some((n) => n.opType === 'ReduceSumSquare')).toBe(true);
      const a = await run(fast.encode(), x, [32, 3, 32, 32]);
      const b = await run(slow.encode(), x, [32, 3, 32, 32]);
      let d = 0;
      for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
      expect(d).toBeLessThan(1e-3);
    }
  });

  it('compiles opset-11 models (attribute-form reduces, no opset change) and matches the reference', async () => {
    const bytes = smallCnn(5, { opset: 11 });
    const checks = await checkPassAgainstReference(bytes, alphaBn, 'predict', { name: 'x', data: randomInput(2, [5, 3, 8, 8]), dims: [5, 3, 8, 8] });
    for (const c of checks) expect(c.relError).toBeLessThan(2e-5);
    const m = decodeModel(bytes);
    const c = compilePass(m, findBatchNorms(m), findBatchNorms(m).map(({ node: _n, input: _i, output: _o, ...s }, i) => ({ ...s, rank: i === 3 ? 2 : 4 })), alphaBn.passes.predict, { options: { alpha: 0.1 } });
    expect(c.model.opsets.get('')).toBe(11);
    expect(c.model.graph.nodes.find((n) => n.opType === 'ReduceMean')?.attrs.axes).toEqual({ kind: 'ints', value: [0, 2, 3] });
  });
});
