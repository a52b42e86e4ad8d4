/** Tensors to and from the wire, with the list of buffers to transfer. */
import type { WireData, WireFeeds } from './protocol.js';

/** The fields of an onnxruntime Tensor the wire reads. */
export interface TensorLike {
  type: string;
  data: unknown;
  dims: readonly number[];
  location?: string;
}

/** Builds the caller's Tensor class instances (onnxruntime-common's `Tensor` or the app's). */
export type TensorConstructor = new (type: any, data: any, dims: readonly number[]) => any;

/**
 * Plain tensors plus the buffers to transfer. A typed array that spans its whole ArrayBuffer moves
 * with it (the sender's copy becomes detached); a view into a larger buffer is copied first, so
 * the unrelated bytes around it are never taken from the sender.
 */
export function toWire(tensors: Record<string, TensorLike>, what: string): { wire: WireFeeds; transfer: ArrayBuffer[] } {
  if (tensors === null || typeof tensors !== 'object') throw new TypeError(`${what}: expected an object mapping names to Tensors, got ${tensors === null ? 'null' : typeof tensors}`);
  const wire: WireFeeds = {};
  const transfer = new Set<ArrayBuffer>();
  for (const [name, t] of Object.entries(tensors)) {
    if (!t || typeof t !== 'object' || !('data' in t) || !('dims' in t)) throw new TypeError(`${what}.${name}: expected an onnxruntime Tensor`);
    if (t.location !== undefined && t.location !== 'cpu' && t.location !== 'cpu-pinned') {
      throw new Error(`${what}.${name}: tensor data lives on '${t.location}'; only CPU tensors cross to the worker`);
    }
    let data = t.data as WireData;
    if (!ArrayBuffer.isView(data)) throw new TypeError(`${what}.${name}: tensor data must be a typed array (got ${typeof data}); string tensors do not cross to the worker`);
    const buffer = data.buffer;
    const whole = buffer instanceof ArrayBuffer && data.byteOffset === 0 && data.byteLength === buffer.byteLength && !transfer.has(buffer);
    if (!whole) data = data.slice() as WireData;
    transfer.add(data.buffer as ArrayBuffer);
    wire[name] = { type: t.type, data, dims: [...t.dims] };
  }
  return { wire, transfer: [...transfer] };
}

export function fromWire<T>(wire: WireFeeds, Tensor: TensorConstructor): Record<string, T> {
  const out: Record<string, T> = {};
  for (const [name, t] of Object.entries(wire)) out[name] = new Tensor(t.type, t.data, t.dims);
  return out;
}
