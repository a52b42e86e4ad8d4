/** Small comparisons shared by the session tests. */
import * as ort from 'onnxruntime-node';

/** The plain onnxruntime answer for the same feeds (a fresh InferenceSession, released after). */
export async function plainRun(bytes: Uint8Array | string, feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
  const s = await ort.InferenceSession.create(bytes as Uint8Array);
  try {
    return await s.run(feeds);
  } finally {
    await s.release();
  }
}

/** max_i |a_i - b_i|; throws on a length mismatch. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`maxAbsDiff: lengths ${a.length} and ${b.length}`);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

/** Relative L2 error ||a - b|| / ||b||. */
export function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) ((num += (a[i] - b[i]) ** 2), (den += b[i] ** 2));
  return Math.sqrt(num / den);
}
