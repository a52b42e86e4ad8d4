import * as ort from 'onnxruntime-node';
import { cloneModel, encodeModel } from '@edgetta/onnx';
import { differentiate } from '../src/index.js';
import type { Net } from './nets.js';
import { tfjsGradients } from '@edgetta/testing/tfjs';

/** Relative L2 error ||a - b|| / ||b||. */
export function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}

export function concat(parts: ArrayLike<number>[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) out.set(p as Float32Array, o), (o += p.length);
  return out;
}

/** The net with its backward graph appended, as an onnxruntime-node session. */
export async function gradSession(net: Net) {
  const model = cloneModel(net.model);
  const names = Object.keys(net.params);
  const { gradients, nodes } = differentiate(model, { loss: net.loss, wrt: names });
  const session = await ort.InferenceSession.create(encodeModel(model), { graphOptimizationLevel: 'all', intraOpNumThreads: 1 });
  const feedsFor = (params: Record<string, Float32Array>) => {
    const feeds: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(net.inputs)) feeds[k] = new ort.Tensor('float32', v.data, v.dims);
    for (const [k, v] of Object.entries(params)) feeds[k] = new ort.Tensor('float32', v, [v.length]);
    return feeds;
  };
  return {
    nodes,
    names,
    async run(params = net.params): Promise<{ loss: number; grads: Record<string, Float32Array> }> {
      const r = await session.run(feedsFor(params), ['loss', ...names.map((n) => gradients[n])]);
      const grads: Record<string, Float32Array> = {};
      for (const n of names) grads[n] = r[gradients[n]].data as Float32Array;
      return { loss: (r.loss.data as Float32Array)[0], grads };
    },
    async loss(params: Record<string, Float32Array>): Promise<number> {
      const r = await session.run(feedsFor(params), ['loss']);
      return (r.loss.data as Float32Array)[0];
    },
  };
}

/** The tfjs autodiff oracle on the same (forward) graph. */
export function oracle(net: Net): { loss: number; grads: Record<string, Float32Array> } {
  const feeds: Record<string, { data: Float32Array; dims: number[] }> = { ...net.inputs };
  for (const [k, v] of Object.entries(net.params)) feeds[k] = { data: v, dims: [v.length] };
  return tfjsGradients(net.model, feeds, net.loss, Object.keys(net.params));
}

/** Central finite differences of the loss at every parameter element, with the analytic gradients beside them. */
export async function finiteDifferences(net: Net, s: Awaited<ReturnType<typeof gradSession>>, h = 1e-2): Promise<{ fd: number[]; an: number[]; grads: Record<string, Float32Array> }> {
  const { grads } = await s.run();
  const fd: number[] = [];
  const an: number[] = [];
  for (const name of s.names) {
    for (let i = 0; i < net.params[name].length; i++) {
      const plus = { ...net.params, [name]: net.params[name].slice() };
      const minus = { ...net.params, [name]: net.params[name].slice() };
      plus[name][i] += h;
      minus[name][i] -= h;
      fd.push(((await s.loss(plus)) - (await s.loss(minus))) / (2 * h));
      an.push(grads[name][i]);
    }
  }
  return { fd, an, grads };
}
