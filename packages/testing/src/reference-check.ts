import * as ort from 'onnxruntime-node';
import { layerKey, nd, referenceOps, type LayerSource, type MethodDefinition, type NDArray, type PassSpec } from '@edgetta/core';
import { compilePass, findBatchNorms, type BatchNormSite } from '@edgetta/compiler';
import { decodeModel } from '@edgetta/onnx';

export interface LayerCheck {
  layer: number;
  /** max |compiled - reference| / (1 + max |reference|) over the output and every written state. */
  relError: number;
}

function toNd(t: ort.Tensor): NDArray {
  return nd(t.data as Float32Array, [...t.dims]);
}

function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < want.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
    maxRef = Math.max(maxRef, Math.abs(want[i]));
  }
  if (got.length !== want.length) return Infinity;
  return maxDiff / (1 + maxRef);
}

/**
 * Runs one pass of a method compiled into `modelBytes` on `input`, taps every normalization layer's
 * input and output, and recomputes each layer with the method's own equations on the reference
 * interpreter (float64) from the tapped input and the same state. Returns the per-layer error.
 */
export async function checkPassAgainstReference(
  modelBytes: Uint8Array,
  method: MethodDefinition<any>,
  passName: string,
  input: { name: string; data: Float32Array; dims: number[] },
  opts: { options?: Record<string, number>; state?: Record<string, Float32Array>; hyper?: Record<string, number>; layers?: LayerSource[] } = {},
): Promise<LayerCheck[]> {
  const model = decodeModel(modelBytes);
  const sites = findBatchNorms(model);
  const options = { ...method.defaults, ...(opts.options ?? {}) };
  const layers = opts.layers ?? (await ranks(modelBytes, sites, input));
  const pass: PassSpec<any> = method.passes[passName];
  const state: Record<string, Float32Array> = { ...(opts.state ?? {}) };
  for (const l of layers) for (const [k, v] of Object.entries(method.initLayerState?.(l, options) ?? {})) state[layerKey(l.index, k)] ??= v;
  const stateDims: Record<string, number[]> = {};
  for (const l of layers) {
    const dims = method.layerStateDims?.(l, options) ?? {};
    for (const k of Object.keys(method.initLayerState?.(l, options) ?? {})) stateDims[layerKey(l.index, k)] = dims[k] ?? [state[layerKey(l.index, k)].length];
  }
  const compiled = compilePass(model, sites, layers, pass, { options, stateDims, taps: true });
  const session = await ort.InferenceSession.create(compiled.encode());
  const feeds: Record<string, ort.Tensor> = { [input.name]: new ort.Tensor('float32', input.data, input.dims) };
  for (const s of compiled.stateInputs) feeds[s.name] = new ort.Tensor('float32', state[s.key], s.dims);
  for (const [h, name] of Object.entries(compiled.hyperInputs)) feeds[name] = new ort.Tensor('float32', Float32Array.of(opts.hyper?.[h] ?? NaN), []);
  const out = await session.run(feeds);
  await session.release();
  const checks: LayerCheck[] = [];
  for (const l of layers) {
    const tap = compiled.taps![l.index];
    const refState: Record<string, NDArray> = {};
    for (const s of pass.reads ?? []) refState[s] = nd(state[layerKey(l.index, s)], stateDims[layerKey(l.index, s)]);
    const hyper: Record<string, NDArray> = {};
    for (const h of pass.hyper ?? []) hyper[h] = nd([opts.hyper![h]], []);
    const ref = pass.norm({
      ops: referenceOps,
      x: toNd(out[tap.x]),
      layer: l,
      options,
      gamma: refState.gamma ?? nd(l.gamma, [l.channels]),
      beta: refState.beta ?? nd(l.beta, [l.channels]),
      source: { mean: nd(l.mean, [l.channels]), variance: nd(l.variance, [l.channels]) },
      state: refState,
      hyper,
    });
    let err = relErr(out[tap.y].data as Float32Array, ref.y.data);
    for (const s of pass.writes ?? []) {
      const binding = compiled.stateOutputs.find((b) => b.key === layerKey(l.index, s))!;
      err = Math.max(err, relErr(out[binding.name].data as Float32Array, ref.state![s].data));
    }
    checks.push({ layer: l.index, relError: err });
  }
  return checks;
}

async function ranks(bytes: Uint8Array, sites: BatchNormSite[], input: { name: string; data: Float32Array; dims: number[] }): Promise<LayerSource[]> {
  const { probeModel } = await import('@edgetta/compiler');
  const probe = probeModel(decodeModel(bytes), sites);
  const s = await ort.InferenceSession.create(probe.bytes);
  const r = await s.run({ [input.name]: new ort.Tensor('float32', input.data, input.dims) }, probe.outputs);
  await s.release();
  return sites.map((site, i) => {
    const { node: _n, input: _i, output: _o, ...rest } = site;
    return { ...rest, rank: r[probe.outputs[i]].dims.length };
  });
}
