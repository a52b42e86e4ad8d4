import type { Ops } from '@edgetta/core';
import { f, type GraphBuilder } from '@edgetta/onnx';

/** Name fragment of the Identity nodes that stop gradients (read by the autodiff). */
export const STOP_GRADIENT = 'StopGradient';

/**
 * The ONNX emitter of {@link Ops}: every call appends nodes to the graph being compiled and returns
 * the output value's name. Attribute-vs-input forms follow the model's default-domain opset.
 */
export class OnnxOps implements Ops<string> {
  constructor(
    private readonly b: GraphBuilder,
    private readonly opset: number,
    private readonly scope = 'norm',
  ) {}

  private op(type: string, inputs: string[], attrs: Record<string, number | number[] | ReturnType<typeof f>> = {}): string {
    return this.b.op(type, inputs, attrs, `${this.scope}/${type}`);
  }

  scalar(value: number): string {
    return this.b.scalar(value);
  }
  add(a: string, b: string): string {
    return this.op('Add', [a, b]);
  }
  sub(a: string, b: string): string {
    return this.op('Sub', [a, b]);
  }
  mul(a: string, b: string): string {
    return this.op('Mul', [a, b]);
  }
  div(a: string, b: string): string {
    return this.op('Div', [a, b]);
  }
  sqrt(x: string): string {
    return this.op('Sqrt', [x]);
  }
  exp(x: string): string {
    return this.op('Exp', [x]);
  }
  log(x: string): string {
    return this.op('Log', [x]);
  }
  abs(x: string): string {
    return this.op('Abs', [x]);
  }

  /** ReduceX with axes as an attribute before `inputSince`, as an input from it on. */
  private reduce(type: string, x: string, axes: number[], keepDims: boolean, inputSince: number): string {
    const keepdims = keepDims ? 1 : 0;
    return this.opset >= inputSince ? this.op(type, [x, this.b.int64(axes)], { keepdims }) : this.op(type, [x], { axes, keepdims });
  }
  reduceMean(x: string, axes: number[], keepDims: boolean): string {
    return this.reduce('ReduceMean', x, axes, keepDims, 18);
  }
  reduceSum(x: string, axes: number[], keepDims: boolean): string {
    return this.reduce('ReduceSum', x, axes, keepDims, 13);
  }
  moments(x: string, axes: number[]): { mean: string; variance: string } {
    // One read of x per statistic and no full-size temporaries: var = E[x^2] - E[x]^2, clamped at 0
    // against cancellation. Activations are O(1) after a conv, so float32 loses ~1e-7 relative.
    const mean = this.reduce('ReduceMean', x, axes, false, 18);
    const sumSq = this.reduce('ReduceSumSquare', x, axes, false, 18);
    const meanSq = this.div(sumSq, this.count(x, axes));
    const variance = this.op('Relu', [this.sub(meanSq, this.mul(mean, mean))]);
    return { mean, variance };
  }
  count(x: string, axes: number[]): string {
    const shape = this.op('Shape', [x]);
    const dims = this.op('Gather', [shape, this.b.int64(axes)], { axis: 0 });
    const n = this.op('ReduceProd', [dims], { keepdims: 0 });
    return this.op('Cast', [n], { to: 1 });
  }
  unsqueeze(x: string, axes: number[]): string {
    return this.opset >= 13 ? this.op('Unsqueeze', [x, this.b.int64(axes)]) : this.op('Unsqueeze', [x], { axes });
  }
  reshape(x: string, shape: number[]): string {
    return this.op('Reshape', [x, this.b.int64(shape)]);
  }
  transpose(x: string, perm: number[]): string {
    return this.op('Transpose', [x], { perm });
  }
  matmul(a: string, b: string): string {
    return this.op('MatMul', [a, b]);
  }
  softmax(x: string, axis: number): string {
    return this.op('Softmax', [x], { axis });
  }
  stopGradient(x: string): string {
    return this.b.op('Identity', [x], {}, `${this.scope}/${STOP_GRADIENT}`);
  }
  batchNorm(x: string, gamma: string, beta: string, mean: string, variance: string, epsilon: number): string {
    return this.op('BatchNormalization', [x, gamma, beta, mean, variance], { epsilon: f(epsilon) });
  }
}
