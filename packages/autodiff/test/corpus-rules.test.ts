import { describe, expect, it } from 'vitest';
import { sampleEntropy } from '@edgetta/core';

import { NetBuilder, type Net } from './nets.js';
import { finiteDifferences, gradSession, relL2 } from './harness.js';

/*
 * Gradient rules added for the torchvision conformance corpus (bench/test/corpus.test.ts), against
 * central finite differences of the same float32 graph under onnxruntime-node (tfjs's ONNX
 * interpreter has no Resize). Tolerance as gradients.test.ts: relative L2 <= 5e-3 (O(h^2)
 * truncation plus float32 rounding of the loss, ~1e-7 / h).
 */

type ResizeCase = { name: string; attrs: Record<string, string>; to: 'sizes' | 'scales' | 'shape-sizes'; out: [number, number]; scales?: [number, number] };

/** Conv, BN train, Sigmoid, Resize of a [N, 4, 5, 6] map, BN, then a classifier head or a dense per-pixel entropy. */
function resizeNet(c: ResizeCase, dense: boolean, seed = 11): Net {
  const n = new NetBuilder(seed, 15);
  const b = n.b;
  const x = n.input('x', [3, 2, 5, 6]);
  let h = b.op('Sigmoid', [n.bn(n.conv(x, 2, 4, 3), 4, 'bn0', true)]);
  const empty = b.initializer('empty', new Float32Array(0), [0]);
  if (c.to === 'sizes') h = b.op('Resize', [h, empty, empty, b.int64([3, 4, ...c.out])], c.attrs);
  else if (c.to === 'scales') h = b.op('Resize', [h, empty, b.initializer('scales', new Float32Array([1, 1, ...c.scales!]), [4])], c.attrs);
  else {
    // As torch exports F.interpolate(size=...): sizes = Concat(Shape(h)[:2], constant spatial size).
    const nc = b.op('Slice', [b.op('Shape', [h]), b.int64([0]), b.int64([2]), b.int64([0])]);
    h = b.op('Resize', [h, '', '', b.op('Concat', [nc, b.int64(c.out)], { axis: 0 })], c.attrs);
  }
  // The autodiff shape inference has no Resize function: declare the output's shape as exporters
  // do (torch.onnx.export writes value_info for every intermediate value).
  n.model.graph.valueInfo.push({ name: h, type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'N' }, { dimValue: 4 }, { dimValue: c.out[0] }, { dimValue: c.out[1] }] } } } } as never);
  h = n.bn(h, 4, 'bn1', true);
  if (dense) {
    const logits = n.conv(b.op('Tanh', [h]), 4, 3, 1, { bias: true });
    return n.finish(`${c.name} dense`, logits, (ops, l) => ops.reduceMean(sampleEntropy(ops, l), [0, 1, 2], false));
  }
  h = b.op('Flatten', [b.op('Tanh', [h])], { axis: 1 });
  const logits = b.op('Gemm', [h, n.weight([5, 4 * c.out[0] * c.out[1]], 0.3)], { transB: 1 });
  return n.finish(c.name, logits);
}

const cases: ResizeCase[] = [
  { name: 'Resize linear half_pixel up to 9x11 (sizes, LR-ASPP)', attrs: { mode: 'linear', coordinate_transformation_mode: 'half_pixel' }, to: 'sizes', out: [9, 11] },
  { name: 'Resize linear half_pixel to 9x11, run-time sizes from Shape (torch export form)', attrs: { mode: 'linear', coordinate_transformation_mode: 'half_pixel' }, to: 'shape-sizes', out: [9, 11] },
  { name: 'Resize linear pytorch_half_pixel down to 3x4', attrs: { mode: 'linear', coordinate_transformation_mode: 'pytorch_half_pixel' }, to: 'sizes', out: [3, 4] },
  { name: 'Resize linear align_corners to 7x7', attrs: { mode: 'linear', coordinate_transformation_mode: 'align_corners' }, to: 'sizes', out: [7, 7] },
  { name: 'Resize nearest asymmetric, scales 2 x 1.5', attrs: { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' }, to: 'scales', out: [10, 9], scales: [2, 1.5] },
  { name: 'Resize cubic half_pixel to 8x8', attrs: { mode: 'cubic', coordinate_transformation_mode: 'half_pixel' }, to: 'sizes', out: [8, 8] },
];

async function fdCheck(net: Net): Promise<number> {
  const { fd, an, grads } = await finiteDifferences(net, await gradSession(net));
  // The Resize sits between the two BNs: bn0's gradients flow through it.
  for (const k of ['bn0.gamma', 'bn0.beta']) expect(grads[k].some((v) => v !== 0)).toBe(true);
  return relL2(an, fd);
}

describe('Resize gradient rule vs central finite differences (h = 1e-2, float32)', () => {
  for (const c of cases) {
    for (const dense of [false, true]) {
      it(`${c.name}${dense ? ', dense per-pixel entropy' : ''}`, async () => {
        const err = await fdCheck(resizeNet(c, dense));
        console.log(`${c.name}${dense ? ' (dense)' : ''}: rel L2 vs finite differences ${err.toExponential(2)}`);
        expect(err).toBeLessThan(5e-3);
      });
    }
  }
});


