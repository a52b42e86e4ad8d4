import fs from 'node:fs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { goldenInput, resnetPath } from '@edgetta/testing';
import { decodeModel, encodeModel, tensorToFloat32 } from '@edgetta/onnx';

const bytes = new Uint8Array(fs.readFileSync(resnetPath));

describe('ONNX codec and IR', () => {
  it('decodes the exporter graph of ResNet-20 with every op type and its BN parameters', () => {
    const m = decodeModel(bytes);
    const counts: Record<string, number> = {};
    for (const n of m.graph.nodes) counts[n.opType] = (counts[n.opType] ?? 0) + 1;
    expect(counts).toMatchObject({ Conv: 19, BatchNormalization: 19, Relu: 19, Add: 9, Pad: 2, Slice: 6, Shape: 2, ConstantOfShape: 2, Gemm: 1 });
    expect(m.opsets.get('')).toBe(13);
    expect(m.graph.inputs).toEqual([{ name: 'input', elemType: 1, shape: ['N', 3, 32, 32] }]);
    expect(m.graph.outputs).toEqual([{ name: 'logits', elemType: 1, shape: ['N', 10] }]);
    const bn = m.graph.nodes.find((n) => n.opType === 'BatchNormalization')!;
    expect(bn.attrs.epsilon).toEqual({ kind: 'float', value: expect.closeTo(1e-5, 10) });
    const gamma = tensorToFloat32(m.graph.initializers.get(bn.inputs[1])!);
    expect(gamma).toHaveLength(16);
    expect(gamma.buffer.byteLength).toBe(64); // an own copy, not a view into the file
  });

  it('decode -> encode round trip gives a model with identical logits', async () => {
    const again = encodeModel(decodeModel(bytes));
    const x = new ort.Tensor('float32', goldenInput(8), [8, 3, 32, 32]);
    const a = await ort.InferenceSession.create(bytes);
    const b = await ort.InferenceSession.create(again);
    expect((await b.run({ input: x })).logits.data).toEqual((await a.run({ input: x })).logits.data);
    expect(decodeModel(again).graph.nodes.map((n) => n.opType)).toEqual(decodeModel(bytes).graph.nodes.map((n) => n.opType));
  });

  it('rejects truncated, empty and non-ONNX bytes with the source named', () => {
    expect(() => decodeModel(bytes.subarray(0, 1000), 'cut.onnx')).toThrow(/cut.onnx: not a valid ONNX model \(1000 bytes could not be decoded/);
    expect(() => decodeModel(new Uint8Array(0), 'e.onnx')).toThrow(/e.onnx: the model is empty/);
    expect(() => decodeModel(new TextEncoder().encode('{"json": true}'), 'j.onnx')).toThrow(/j.onnx: not a valid ONNX model/);
  });
});
