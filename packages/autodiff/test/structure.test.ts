import { describe, expect, it } from 'vitest';
import { cloneModel } from '@edgetta/onnx';
import { differentiate } from '../src/index.js';
import { cnnNet, dynamicNet, largeMapNet, layoutNet, lossNet, miscNet, NetBuilder, padAxesNet, smoothNet, statsNet, type Net } from './nets.js';

/*
 * The backward graph's shape (its cost; the gradient tests check its values): no backward node
 * computes something no requested gradient uses, and the cheaper forms of the Relu mask, the
 * strided-Slice scatter and the Pad crop are the ones emitted.
 */
describe('backward graph structure', () => {
  const backwardOf = (net: Net) => {
    const model = cloneModel(net.model);
    const start = model.graph.nodes.length;
    differentiate(model, { loss: net.loss, wrt: Object.keys(net.params) });
    return { model, nodes: model.graph.nodes.slice(start) };
  };

  it('Relu masks by one HardSigmoid; strided Slice scatters by MatMul on the last axis only; a zero Pad crops with Slice', () => {
    const large = largeMapNet();
    const b = backwardOf(large).nodes;
    expect(b.filter((n) => n.opType === 'HardSigmoid')).toHaveLength(large.model.graph.nodes.filter((n) => n.opType === 'Relu').length);
    expect(b.some((n) => n.opType === 'Clip')).toBe(false);
    // layoutNet: x[:, :, ::2, ::2] (two Slices), then a channel Pad of zeros (2 each side).
    const { model, nodes } = backwardOf(layoutNet());
    const matmuls = nodes.filter((n) => n.opType === 'MatMul' && n.inputs.some((i) => model.graph.initializers.has(i) && i.includes('scatter')));
    expect(matmuls).toHaveLength(1);
    expect(model.graph.initializers.has(matmuls[0].inputs[1])).toBe(true);
    expect(nodes.some((n) => n.opType === 'Slice')).toBe(true);
  });

  it('every backward node is used: no weight gradients, statistics sums or coefficients that no requested gradient needs', () => {
    // A frozen inference-mode BN (constant scale/bias) between the parameters and the loss.
    const n = new NetBuilder(21);
    const x = n.input('x', [2, 3, 5, 5]);
    const h = n.b.op('Relu', [n.bn(n.conv(x, 3, 4, 3), 4, 'bn0', true)]);
    const frozen = n.b.op('BatchNormalization', [n.conv(h, 4, 4, 3), n.b.scalar(1.3, [4]), n.b.scalar(0.1, [4]), n.b.scalar(0.2, [4]), n.b.scalar(0.9, [4])], { epsilon: { kind: 'float', value: 1e-5 } });
    const frozenNet = n.finish('frozen', n.b.op('Gemm', [n.b.op('Flatten', [n.b.op('GlobalAveragePool', [frozen])], { axis: 1 }), n.weight([3, 4], 1)], { transB: 1 }));
    const nets = [cnnNet(), layoutNet(), statsNet(), miscNet(), dynamicNet(), smoothNet(), largeMapNet(), padAxesNet(), lossNet('eata'), lossNet('sar'), frozenNet];
    for (const net of nets) {
      const { model, nodes } = backwardOf(net);
      const used = new Set([...model.graph.outputs.map((o) => o.name), ...model.graph.nodes.flatMap((x) => x.inputs)]);
      const unused = nodes.filter((x) => x.outputs.every((o) => !used.has(o)));
      expect(unused.map((x) => `${net.name}: ${x.opType} ${x.name}`)).toEqual([]);
    }
    // The frozen BN's input gradient is one affine of g: no per-channel sums over its input.
    const frozenInput = frozenNet.model.graph.nodes.find((x) => x.outputs[0] === frozen)!.inputs[0];
    expect(backwardOf(frozenNet).nodes.some((x) => x.opType === 'Mul' && x.inputs.includes(frozenInput))).toBe(false);
  });
});
