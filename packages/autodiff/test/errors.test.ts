import { describe, expect, it } from 'vitest';
import { cloneModel, GraphBuilder } from '@edgetta/onnx';
import { differentiate } from '../src/index.js';
import { NetBuilder, smoothNet } from './nets.js';

describe('autodiff errors', () => {
  it('an op on the gradient path without a rule names the op, the node and the parameter', () => {
    const n = new NetBuilder(7);
    const x = n.input('x', [2, 3]);
    const h = n.b.op('Sin', [n.bn(x, 3, 'bn0')], {}, 'trig');
    const net = n.finish('sin', n.b.op('Mul', [h, n.b.scalar(2)]));
    expect(() => differentiate(cloneModel(net.model), { loss: net.loss, wrt: ['bn0.gamma', 'bn0.beta'] })).toThrow(
      /no gradient rule for op Sin \(node 'n\/trig'\), which is on the gradient path of parameter 'bn0\.(gamma|beta)'/,
    );
  });

  it('an op off the path needs no rule', () => {
    const n = new NetBuilder(8);
    const x = n.input('x', [2, 3]);
    const side = n.b.op('Sin', [x]); // depends on the batch only
    const h = n.b.op('Add', [n.bn(x, 3, 'bn0'), side]);
    const net = n.finish('side', h);
    const r = differentiate(cloneModel(net.model), { loss: net.loss, wrt: ['bn0.gamma'] });
    expect(r.path).not.toContain('n/Sin');
  });

  it('a frozen conv weight gets no backward nodes; a conv weight as parameter is a clear error', () => {
    const n = new NetBuilder(9);
    const x = n.input('x', [2, 2, 4, 4]);
    const w = n.param('w', n.randn(2 * 2 * 9, 0.3));
    const w4 = n.b.op('Reshape', [w, n.b.int64([2, 2, 3, 3])]);
    const h = n.b.op('Conv', [n.bn(x, 2, 'bn0'), w4], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
    const net = n.finish('convw', n.b.op('Flatten', [n.b.op('GlobalAveragePool', [h])]));
    expect(() => differentiate(cloneModel(net.model), { loss: net.loss, wrt: ['w'] })).toThrow(/the Conv rule gives no gradient for input 1 .* which depends on parameter 'w'/);
  });

  it('rejects unknown parameters, a loss off the parameters and a non-scalar loss', () => {
    const net = smoothNet();
    expect(() => differentiate(cloneModel(net.model), { loss: net.loss, wrt: ['nope'] })).toThrow(/parameter 'nope' is not a graph input/);
    const m = cloneModel(net.model);
    const b = new GraphBuilder(m);
    const off = b.op('ReduceSum', [b.op('Mul', ['x', 'x'])], { keepdims: 0 });
    expect(() => differentiate(m, { loss: off, wrt: ['bn0.gamma'] })).toThrow(/does not depend on any of the parameters/);
    expect(() => differentiate(cloneModel(net.model), { loss: 'logits', wrt: ['bn0.gamma'] })).toThrow(/must be a scalar/);
  });

  it('a parameter that does not reach the loss gets a zero gradient', () => {
    const n = new NetBuilder(10);
    const x = n.input('x', [2, 3]);
    n.param('unused', new Float32Array(3).fill(1));
    const net = n.finish('unused', n.bn(x, 3, 'bn0'));
    const r = differentiate(cloneModel(net.model), { loss: net.loss, wrt: ['bn0.gamma', 'unused'] });
    expect(Object.keys(r.gradients)).toEqual(['bn0.gamma', 'unused']);
  });
});
