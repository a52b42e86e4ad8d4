/**
 * Protocol-buffers wire format (varint, 64-bit, length-delimited, 32-bit), the few primitives the
 * ONNX codec needs. Hand-written because the message layer is driven by `schema.ts`, and a general
 * protobuf runtime with reflection cost 28 KB min+gzip of the browser bundle.
 */

const utf8Decoder = new TextDecoder();
const utf8Encoder = new TextEncoder();

export const WIRE = { VARINT: 0, I64: 1, LEN: 2, I32: 5 } as const;

export class Reader {
  pos = 0;
  private readonly view: DataView;

  constructor(readonly buf: Uint8Array, readonly end = buf.length) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  private need(n: number): void {
    if (this.pos + n > this.end) throw new RangeError(`truncated input: need ${n} byte(s) at offset ${this.pos} of ${this.end}`);
  }

  /** A varint as a number when it fits 2^53 exactly, else as a bigint (int64 values such as INT64_MAX). */
  varint(): number | bigint {
    let lo = 0;
    let shift = 0;
    for (; shift < 28; shift += 7) {
      this.need(1);
      const b = this.buf[this.pos++];
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) return lo >>> 0;
    }
    let big = BigInt(lo >>> 0);
    for (let s = 28n; s < 70n; s += 7n) {
      this.need(1);
      const b = this.buf[this.pos++];
      big |= BigInt(b & 0x7f) << s;
      if (b < 0x80) {
        big = BigInt.asIntN(64, big);
        return big >= -9007199254740991n && big <= 9007199254740991n ? Number(big) : big;
      }
    }
    throw new RangeError(`malformed varint at offset ${this.pos}`);
  }

  uint32(): number {
    return Number(this.varint()) >>> 0;
  }

  float(): number {
    this.need(4);
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }

  double(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** A length-delimited payload as a view into the input (no copy). */
  bytes(): Uint8Array {
    const n = this.uint32();
    this.need(n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  string(): string {
    return utf8Decoder.decode(this.bytes());
  }

  /** Skips one field's payload of the given wire type. */
  skip(wire: number): void {
    if (wire === WIRE.VARINT) this.varint();
    else if (wire === WIRE.I64) (this.need(8), (this.pos += 8));
    else if (wire === WIRE.LEN) this.bytes();
    else if (wire === WIRE.I32) (this.need(4), (this.pos += 4));
    else throw new RangeError(`invalid wire type ${wire} at offset ${this.pos}`);
  }
}

/** Appends to a growing buffer; `finish()` returns exactly the bytes written. */
export class Writer {
  private buf = new Uint8Array(1024);
  private view = new DataView(this.buf.buffer);
  len = 0;

  private grow(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  varint(v: number | bigint): void {
    this.grow(10);
    if (typeof v === 'number' && v >= 0 && v < 2 ** 31) {
      let x = v;
      while (x >= 0x80) {
        this.buf[this.len++] = (x & 0x7f) | 0x80;
        x >>>= 7;
      }
      this.buf[this.len++] = x;
      return;
    }
    let x = BigInt.asUintN(64, BigInt(v));
    while (x >= 0x80n) {
      this.buf[this.len++] = Number(x & 0x7fn) | 0x80;
      x >>= 7n;
    }
    this.buf[this.len++] = Number(x);
  }

  tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  float(v: number): void {
    this.grow(4);
    this.view.setFloat32(this.len, v, true);
    this.len += 4;
  }

  double(v: number): void {
    this.grow(8);
    this.view.setFloat64(this.len, v, true);
    this.len += 8;
  }

  raw(bytes: Uint8Array): void {
    this.grow(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
  }

  bytes(bytes: Uint8Array): void {
    this.varint(bytes.length);
    this.raw(bytes);
  }

  string(s: string): void {
    this.bytes(utf8Encoder.encode(s));
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}
