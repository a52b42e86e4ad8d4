import type { Tensor } from 'onnxruntime-common';
import { dataTypeName, type ValueInfo } from '@edgetta/onnx';

/**
 * Checks feeds against the model's inputs before anything runs: names, dtype, rank, fixed
 * dimensions, and finite values in float feeds. Throws naming the feed and what is valid.
 */
export function validateFeeds(
  feeds: Record<string, Tensor>,
  inputs: readonly ValueInfo[],
  minBatch?: { size: number; reason: string; method: string },
  /** Where the main input's channels are: 1 for NCHW, 3 for NHWC (TF.js models). */
  channelAxis = 1,
): void {
  if (feeds === null || typeof feeds !== 'object') throw new TypeError(`feeds: expected an object mapping input names to Tensors, got ${feeds === null ? 'null' : typeof feeds}`);
  const expected = inputs.map((i) => i.name);
  for (const name of Object.keys(feeds)) {
    if (!expected.includes(name)) throw new Error(`feeds: unknown input '${name}'; the model's inputs are: ${expected.join(', ')}`);
  }
  for (const info of inputs) {
    const t = feeds[info.name];
    if (t === undefined) throw new Error(`feeds: missing input '${info.name}'; the model's inputs are: ${expected.join(', ')}`);
    if (!t || typeof t !== 'object' || !('dims' in t) || !('data' in t)) throw new TypeError(`feeds.${info.name}: expected an onnxruntime Tensor`);
    const want = dataTypeName(info.elemType);
    if (t.type !== want) throw new Error(`feeds.${info.name}: dtype is ${t.type}, the model expects ${want}`);
    if (info.shape) {
      if (t.dims.length !== info.shape.length) {
        throw new Error(`feeds.${info.name}: rank ${t.dims.length} (dims [${t.dims.join(', ')}]), the model expects rank ${info.shape.length} ([${info.shape.map((d) => d ?? '?').join(', ')}])`);
      }
      info.shape.forEach((d, i) => {
        if (typeof d === 'number' && t.dims[i] !== d) {
          const what = i === channelAxis && info.shape!.length === 4 ? ' (channels)' : '';
          throw new Error(`feeds.${info.name}: dimension ${i}${what} is ${t.dims[i]}, the model expects ${d} (dims [${info.shape!.map((x) => x ?? '?').join(', ')}])`);
        }
      });
    }
    if (t.type === 'float32') {
      const data = t.data as Float32Array;
      for (let i = 0; i < data.length; i++) {
        if (!Number.isFinite(data[i])) {
          const per = data.length / Math.max(1, t.dims[0] ?? 1);
          throw new Error(`feeds.${info.name}: value ${data[i]} at flat index ${i} (sample ${Math.floor(i / per)}); the batch was rejected and the adaptation state is unchanged`);
        }
      }
    }
  }
  if (minBatch) {
    const n = feeds[inputs[0].name].dims[0] ?? 0;
    if (n < minBatch.size) {
      throw new Error(
        `batch size ${n} is too small for method '${minBatch.method}' (needs >= ${minBatch.size}): ${minBatch.reason} (or create the session with { window: 64 } to answer single images from a sliding window of recent ones)`,
      );
    }
  }
}
