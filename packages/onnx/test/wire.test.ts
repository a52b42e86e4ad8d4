import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage } from '../src/codec.js';
import { Reader, Writer } from '../src/wire.js';

describe('protobuf wire codec', () => {
  it('round-trips varints of every size, negative int64 and values beyond 2^53 exactly', () => {
    const values: (number | bigint)[] = [0, 1, 127, 128, 300, 2 ** 31 - 1, 2 ** 31, 2 ** 53 - 1, -1, -(2 ** 40), 9223372036854775807n, -9223372036854775808n];
    const w = new Writer();
    for (const v of values) w.varint(v);
    const r = new Reader(w.finish());
    for (const v of values) expect(r.varint()).toBe(v);
  });

  it('decodes packed and unpacked repeated scalars alike, and writes the schema form', () => {
    // TensorProto.dims (field 1, unpacked in onnx.proto) written packed, float_data (4) unpacked.
    const w = new Writer();
    const dims = new Writer();
    dims.varint(2);
    dims.varint(3);
    w.tag(1, 2);
    w.bytes(dims.finish());
    for (const f of [0.5, -2]) {
      w.tag(4, 5);
      w.float(f);
    }
    const t = decodeMessage('onnx.TensorProto', w.finish());
    expect(t.dims).toEqual([2, 3]);
    expect(t.floatData).toEqual([0.5, -2]);
    const again = decodeMessage('onnx.TensorProto', encodeMessage('onnx.TensorProto', t));
    expect(again.dims).toEqual([2, 3]);
    expect(again.floatData).toEqual([0.5, -2]);
  });

  it('keeps fields the schema does not know and writes them back', () => {
    const w = new Writer();
    w.tag(8, 2);
    w.string('weights');
    w.tag(99, 0); // unknown varint field
    w.varint(12345);
    w.tag(98, 2); // unknown length-delimited field
    w.bytes(Uint8Array.of(1, 2, 3));
    const bytes = w.finish();
    const t = decodeMessage('onnx.TensorProto', bytes);
    expect(t.name).toBe('weights');
    const out = encodeMessage('onnx.TensorProto', t);
    expect(Array.from(out)).toEqual(Array.from(bytes));
  });

  it('reports truncation instead of reading past the end', () => {
    const w = new Writer();
    w.tag(8, 2);
    w.string('a long enough name');
    const bytes = w.finish();
    expect(() => decodeMessage('onnx.TensorProto', bytes.subarray(0, 6))).toThrow(/truncated input/);
  });
});
