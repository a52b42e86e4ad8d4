/**
 * LayerNorm as exporters before opset 17 write it (ReduceMean-Sub-Pow-ReduceMean-Add-Sqrt-Div-Mul-
 * Add): one layer-norm site per chain, adapted exactly as the native LayerNormalization of the same
 * weights (opset 13 with ReduceMean axes as attributes, opset 18 with axes as inputs).
 */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { Rng } from '@edgetta/core';
import { surveySites } from '@edgetta/compiler';
import { decodeModel, encodeModel, f, GraphBuilder } from '@edgetta/onnx';
import { emptyModel, randomInput } from '@edgetta/testing';
import { AdaptiveSession } from '@edgetta/sdk';
import { maxAbsDiff, plainRun } from './helpers.js';

/** Conv -> Relu -> NHWC -> LayerNorm over C -> NCHW -> Conv -> GAP -> Gemm, LN native or decomposed. */
function lnModel(form: 'native' | 'decomposed', opset: number): Uint8Array {
  const rng = new Rng(11);
  const randn = (n: number, s: number, o = 0) => Float32Array.from({ length: n }, () => o + s * rng.normal());
  const m = emptyModel(opset);
  const b = new GraphBuilder(m, 'm');
  const x = b.input({ name: 'input', elemType: 1, shape: ['N', 3, 8, 8] });
  let h = b.op('Relu', [b.op('Conv', [x, b.initializer('w1', randn(6 * 27, 0.3), [6, 3, 3, 3])], { pads: [1, 1, 1, 1] })]);
  h = b.op('Transpose', [h], { perm: [0, 2, 3, 1] });
  const gamma = b.initializer('ln_w', randn(6, 0.3, 1), [6]);
  const beta = b.initializer('ln_b', randn(6, 0.2), [6]);
  if (form === 'native') h = b.op('LayerNormalization', [h, gamma, beta], { axis: -1, epsilon: f(1e-6) });
  else {
    const mean = (v: string) => (opset >= 18 ? b.op('ReduceMean', [v, b.int64([-1])], { keepdims: 1 }) : b.op('ReduceMean', [v], { axes: [-1], keepdims: 1 }));
    const d = b.op('Sub', [h, mean(h)]);
    const v = mean(b.op('Pow', [d, b.scalar(2)]));
    h = b.op('Add', [b.op('Mul', [b.op('Div', [d, b.op('Sqrt', [b.op('Add', [v, b.scalar(1e-6)])])]), gamma]), beta]);
  }
  h = b.op('Transpose', [h], { perm: [0, 3, 1, 2] });
  h = b.op('Relu', [b.op('Conv', [h, b.initializer('w2', randn(6 * 54, 0.2), [6, 6, 3, 3])], { pads: [1, 1, 1, 1] })]);
  h = b.op('Flatten', [b.op('GlobalAveragePool', [h])], { axis: 1 });
  b.output(b.op('Gemm', [h, b.initializer('fc', randn(30, 0.5), [5, 6])], { transB: 1 }), 'logits', ['N', 5]);
  return encodeModel(m);
}

describe('decomposed LayerNorm chains', () => {
  const native = lnModel('native', 17);
  const feeds = (seed: number) => ({ input: new ort.Tensor('float32', randomInput(seed, [6, 3, 8, 8]), [6, 3, 8, 8]) });

  for (const opset of [13, 18]) {
    it(`opset ${opset}: one layer-norm site; tent adapts it as the native LayerNormalization`, async () => {
      const chain = lnModel('decomposed', opset);
      expect(surveySites(decodeModel(chain))).toEqual({ 'layer-norm': 1 });
      // The exported chain computes the native LayerNorm.
      expect(maxAbsDiff((await plainRun(chain, feeds(1))).logits.data as Float32Array, (await plainRun(native, feeds(1))).logits.data as Float32Array)).toBeLessThanOrEqual(1e-5);
      const a = await AdaptiveSession.create(chain, { method: 'tent', runtime: 'node', methodOptions: { lr: 1e-2 } });
      const b = await AdaptiveSession.create(native, { method: 'tent', runtime: 'node', methodOptions: { lr: 1e-2 } });
      expect(a.layerInfo).toHaveLength(1);
      for (let k = 0; k < 3; k++) {
        const f0 = feeds(2 + k);
        expect(maxAbsDiff((await a.run(f0)).logits.data as Float32Array, (await b.run(f0)).logits.data as Float32Array), `step ${k}`).toBeLessThanOrEqual(1e-5);
      }
      expect(maxAbsDiff(a.snapshot().state['layer.0.gamma'], b.snapshot().state['layer.0.gamma'])).toBeLessThanOrEqual(1e-6);
      await a.dispose();
      await b.dispose();
    });
  }
});
