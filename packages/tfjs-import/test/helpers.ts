import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '@edgetta/core';
import { encodeModel, type Model } from '@edgetta/onnx';

export { tf };

let ready: Promise<void> | undefined;

/** tfjs on its cpu backend (deterministic float32, no wasm files to locate). */
export function tfReady(): Promise<void> {
  ready ??= tf.setBackend('cpu').then(() => tf.ready());
  return ready;
}

/**
 * Deterministic, non-trivial weights for every layer: BN statistics far from 0/1 (so a wrong axis
 * or epsilon shows), kernels scaled by fan-in so activations stay O(1).
 */
export function setWeights(model: tf.LayersModel, seed = 1): void {
  const rng = new Rng(seed);
  for (const layer of model.layers) {
    const ws = layer.weights;
    if (ws.length === 0) continue;
    const values = ws.map((w) => {
      const n = w.shape.reduce((a: number, b) => a * (b ?? 1), 1);
      const name = w.originalName ?? w.name;
      const fanIn = w.shape.length > 1 ? w.shape.slice(0, -1).reduce((a: number, b) => a * (b ?? 1), 1) : 1;
      const gen = (): number => {
        if (/moving_variance/.test(name)) return 0.4 + rng.random() * 1.2;
        if (/moving_mean/.test(name)) return rng.normal(0, 0.4);
        if (/gamma/.test(name)) return rng.normal(1, 0.25);
        if (/beta|bias/.test(name)) return rng.normal(0, 0.2);
        if (/alpha/.test(name)) return 0.1 + 0.2 * rng.random();
        return rng.normal(0, 1 / Math.sqrt(fanIn));
      };
      return tf.tensor(Float32Array.from({ length: n }, gen), w.shape as number[]);
    });
    layer.setWeights(values);
    tf.dispose(values);
  }
}

/** The artifacts tfjs writes for a model (what model.json + the shards hold), via a save handler. */
export async function artifactsOf(model: tf.LayersModel): Promise<tf.io.ModelArtifacts> {
  let out: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      out = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return out!;
}

export function weightBytes(a: tf.io.ModelArtifacts): Uint8Array {
  const d = a.weightData!;
  const parts = Array.isArray(d) ? d : [d];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(new Uint8Array(p), at);
    at += p.byteLength;
  }
  return out;
}

const tempDirs: string[] = [];

/** A fresh temporary directory, removed by {@link removeTempDirs}. */
export function tempDir(prefix = 'edgetta-tfjs-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const d of tempDirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

/**
 * Writes the model as the TF.js file format: model.json with a weightsManifest, the weights split
 * over `shards` files (as tfjs and its converter do past the shard size). Returns model.json's path.
 */
export async function saveToDir(model: tf.LayersModel, shards = 2): Promise<string> {
  const a = await artifactsOf(model);
  const bytes = weightBytes(a);
  const dir = tempDir();
  const size = Math.ceil(bytes.length / shards);
  const paths: string[] = [];
  for (let i = 0; i < shards; i++) {
    const name = `group1-shard${i + 1}of${shards}.bin`;
    fs.writeFileSync(path.join(dir, name), bytes.subarray(i * size, Math.min((i + 1) * size, bytes.length)));
    paths.push(name);
  }
  const json = { format: 'layers-model', generatedBy: a.generatedBy, convertedBy: a.convertedBy, modelTopology: a.modelTopology, weightsManifest: [{ paths, weights: a.weightSpecs }] };
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
  return path.join(dir, 'model.json');
}

/** Deterministic input data in [-1, 1). */
export function randomData(seed: number, dims: number[]): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => rng.uniform(-1, 1));
}

/** Runs an imported model through onnxruntime-node. */
export async function runOnnx(model: Model, feeds: Record<string, { data: Float32Array; dims: number[] }>): Promise<Record<string, ort.Tensor>> {
  const session = await ort.InferenceSession.create(encodeModel(model));
  try {
    const t: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) t[k] = new ort.Tensor('float32', v.data, v.dims);
    return await session.run(t);
  } finally {
    await session.release();
  }
}

/** model.predict as plain arrays, one per output. */
export function predict(model: tf.LayersModel, inputs: { data: Float32Array; dims: number[] }[]): { data: Float32Array; dims: number[] }[] {
  return tf.tidy(() => {
    const xs = inputs.map((i) => tf.tensor(i.data, i.dims));
    const ys = model.predict(xs.length === 1 ? xs[0] : xs);
    return (Array.isArray(ys) ? ys : [ys]).map((y) => ({ data: y.dataSync() as Float32Array, dims: y.shape as number[] }));
  });
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Largest |value| (to show a comparison is not between near-zero outputs). */
export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

export function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}
