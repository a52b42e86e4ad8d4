import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '@edgetta/onnx';
import { emptyModel } from '@edgetta/testing';
import { inferShapes } from '../src/index.js';

describe('shape inference of instance-wise views (UnMix-TNS emits these)', () => {
  it('[N, C, H, W] -> [1, -1, 0, 0] keeps the rank with a product symbol, which [-1, C] and Reshape(., Shape(x)) undo', () => {
    const model = emptyModel(15);
    const b = new GraphBuilder(model, 't');
    const x = b.input({ name: 'x', elemType: 1, shape: ['N', 16, 8, 8] });
    const view = b.op('Reshape', [x, b.int64([1, -1, 0, 0])]);
    const stats = b.op('ReduceMean', [view], { axes: [0, 2, 3], keepdims: 0 });
    const perInstance = b.op('Reshape', [stats, b.int64([-1, 16])]);
    const back = b.op('Reshape', [view, b.op('Shape', [x])]);
    const unknown = b.op('Reshape', [view, b.op('Shape', [x], { start: 1 })]);
    [view, perInstance, back, unknown].forEach((o, i) => b.output(o, `y${i}`));
    const { shapes } = inferShapes(model);
    expect(shapes.get(view)).toEqual([1, 'N*16', 8, 8]);
    expect(shapes.get(perInstance)).toEqual(['N', 16]);
    expect(shapes.get(back)).toEqual(['N', 16, 8, 8]);
    expect(shapes.get(unknown)).toBeUndefined(); // a partial Shape is not a whole shape
  });
});
