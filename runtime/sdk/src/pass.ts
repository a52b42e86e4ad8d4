/**
 * Runs one compiled pass: feeds the batch, the state the pass reads, its hyper scalars and loss
 * inputs; commits the state it writes (refusing non-finite values, typed as RejectedStateError);
 * returns the model outputs, the per-run layer outputs and features the pass asks for, and for
 * passes with a loss the loss, gradients and extras.
 */
import type { InferenceSession, Tensor } from 'onnxruntime-common';
import { RejectedStateError, type Batch, type PassOutput, type StateStore } from '@edgetta/core';
import type { CompiledPass } from '@edgetta/compiler';
import type { Engine } from '@edgetta/engine';

/** A compiled pass and the onnxruntime session that runs it. */
export interface PassRuntime {
  compiled: CompiledPass;
  session: InferenceSession;
}

export interface PassHost {
  /** The pass's name, for messages. */
  name: string;
  ort: Engine['ort'];
  store: StateStore;
  /** Name of the model's main (image) input. */
  mainInput: string;
}

export async function runPass(
  p: PassRuntime,
  host: PassHost,
  userFeeds: Record<string, Tensor>,
  { input, hyper, inputs }: { input?: Batch; hyper?: Record<string, number>; inputs?: Record<string, Batch> },
): Promise<PassOutput> {
  const name = host.name;
  const { Tensor: T } = host.ort;
  const feeds: Record<string, Tensor> = { ...userFeeds };
  if (input) feeds[host.mainInput] = new T('float32', input.data, input.dims);
  for (const s of p.compiled.stateInputs) feeds[s.name] = new T('float32', host.store.get(s.key), s.dims);
  for (const [h, inputName] of Object.entries(p.compiled.hyperInputs)) {
    const v = hyper?.[h];
    if (v === undefined || !Number.isFinite(v)) throw new Error(`pass '${name}' needs a finite value for '${h}'`);
    feeds[inputName] = new T('float32', Float32Array.of(v), []);
  }
  // A pass with a loss: method-level state and per-run tensors in; loss, gradients, extras out.
  const grad = p.compiled.grad;
  for (const s of grad?.stateInputs ?? []) {
    const v = host.store.get(s.key);
    feeds[s.name] = new T('float32', v, [v.length]);
  }
  for (const r of grad?.inputs ?? []) {
    const v = inputs?.[r.key];
    if (!v) throw new Error(`pass '${name}' needs the per-run input '${r.key}' (ctx.run('${name}', { inputs: { ${r.key}: ... } }))`);
    feeds[r.name] = new T('float32', v.data, v.dims);
  }
  const gradFetches = grad ? [grad.loss, ...grad.grads.map((g) => g.name), ...grad.extras.map((x) => x.name)] : [];
  const c = p.compiled;
  const fetches = [...c.modelOutputs, ...c.stateOutputs.map((s) => s.name), ...gradFetches, ...new Set(c.layerOutputs.map((o) => o.name)), ...(c.features ? [c.features] : [])];
  const result = await p.session.run(feeds, fetches);
  for (const s of p.compiled.stateOutputs) {
    const data = result[s.name].data as Float32Array;
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) throw new RejectedStateError(`pass '${name}' produced a non-finite value in state '${s.key}'; the update was rejected and the state is unchanged`, s.key);
    }
    host.store.set(s.key, data.slice());
  }
  const outputs: Record<string, Tensor> = {};
  for (const o of p.compiled.modelOutputs) outputs[o] = result[o];
  const first = outputs[p.compiled.modelOutputs[0]];
  const out: PassOutput = { outputs, logits: { data: first.data as Float32Array, dims: first.dims } };
  if (c.features) {
    // [N, ...] -> [N, D]: a head's input is flat per sample whatever its rank.
    const f = result[c.features];
    const n = f.dims[0];
    out.features = { data: f.data as Float32Array, dims: [n, n ? (f.data as Float32Array).length / n : 0] };
  }
  if (c.layerOutputs.length) {
    // Each name's graph output holds every layer's [N, C] side by side: split it by columns.
    out.layerOutputs = {};
    for (const o of c.layerOutputs) {
      const t = result[o.name];
      const all = t.data as Float32Array;
      const n = t.dims[0];
      const total = all.length / n;
      const data = new Float32Array(n * o.width);
      for (let i = 0; i < n; i++) data.set(all.subarray(i * total + o.offset, i * total + o.offset + o.width), i * o.width);
      out.layerOutputs[o.key] = { data, dims: [n, o.width] };
    }
  }
  if (grad) {
    const copy = (v: string) => (result[v].data as Float32Array).slice();
    out.loss = copy(grad.loss)[0];
    out.grads = Object.fromEntries(grad.grads.map((g) => [g.key, copy(g.name)]));
    out.extras = Object.fromEntries(grad.extras.map((x) => [x.key, { data: copy(x.name), dims: result[x.name].dims }]));
  }
  return out;
}
