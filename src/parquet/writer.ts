// The COPY BINARY byte writer, pure: a growable buffer with big-endian writers (lengths back-patched by the
// caller), plus numeric's base-10000 binary form. The encoder's hot loop writes through it millions of times, so
// each writer is a bounds check and a DataView call; nothing on this path allocates per value.
import { decimalString } from './values.js';

/** The signature every COPY BINARY stream opens with; then an int32 of flags and the header extension's length. */
export const COPY_SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

/** A growable byte buffer with big-endian writers; lengths are back-patched. */
export class Writer {
  buf: Buffer;
  view: DataView;
  pos = 0;
  /** `into`: a buffer to write into when it holds `size` bytes (one given back after an earlier COPY) */
  constructor(size = 1 << 16, into?: ArrayBufferLike) {
    this.buf = into && into.byteLength >= size ? Buffer.from(into) : Buffer.allocUnsafeSlow(size);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    this.grow(size);
  }
  /** room for n more bytes in one allocation of just that size (a batch's size hint, not a power of two) */
  reserve(n: number): void {
    if (this.pos + n > this.buf.length) this.grow(this.pos + n);
  }
  private grow(size: number): void {
    const next = Buffer.allocUnsafeSlow(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.byteLength);
  }
  i16(v: number): void {
    this.ensure(2);
    this.view.setInt16(this.pos, v);
    this.pos += 2;
  }
  i32(v: number): void {
    this.ensure(4);
    this.view.setInt32(this.pos, v);
    this.pos += 4;
  }
  i64(v: bigint): void {
    this.ensure(8);
    this.view.setBigInt64(this.pos, v);
    this.pos += 8;
  }
  /** an int64 from its two 32-bit halves (no BigInt: the encoder reads int64 columns as pairs of int32) */
  i64hl(hi: number, lo: number): void {
    this.ensure(8);
    this.view.setInt32(this.pos, hi);
    this.view.setInt32(this.pos + 4, lo);
    this.pos += 8;
  }
  /** an int64 from a Number that is a safe integer */
  i64n(v: number): void {
    this.i64hl(Math.floor(v / 4294967296), v >>> 0);
  }
  f32(v: number): void {
    this.ensure(4);
    this.view.setFloat32(this.pos, v);
    this.pos += 4;
  }
  f64(v: number): void {
    this.ensure(8);
    this.view.setFloat64(this.pos, v);
    this.pos += 8;
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  /** bytes [start, end) of `src` (whose DataView is `sv`): runs under 64 bytes 4 at a time through the DataViews
   * (for the 8 to 20-byte strings of typical columns 2 to 3x faster than a subarray and set(), whose fixed cost
   * only pays off on longer runs) */
  range(src: Uint8Array, sv: DataView, start: number, end: number): void {
    const n = end - start;
    this.ensure(n);
    let p = this.pos;
    this.pos += n;
    if (n >= 64) return this.buf.set(src.subarray(start, end), p);
    const view = this.view;
    const buf = this.buf;
    let i = start;
    for (; i + 4 <= end; i += 4, p += 4) view.setUint32(p, sv.getUint32(i));
    for (; i < end; i++) buf[p++] = src[i]!;
  }
  utf8(s: string): void {
    this.ensure(s.length * 3);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }
  /** the bytes written, in a buffer of their own (transferable): the writer's own when they fill most of it (a
   * good size hint), else a copy, so that a transfer does not carry much unused memory along */
  take(): Uint8Array {
    if (this.pos >= this.buf.length * 0.875)
      return new Uint8Array(this.buf.buffer, this.buf.byteOffset, this.pos);
    const out = new Uint8Array(new ArrayBuffer(this.pos));
    out.set(this.buf.subarray(0, this.pos));
    return out;
  }
}

/** A DataView over a typed array's bytes. */
export function viewOf(a: ArrayBufferView): DataView {
  return new DataView(a.buffer, a.byteOffset, a.byteLength);
}

/** numeric's binary form from a plain decimal string ("-12.3400", "NaN", "Infinity"). */
export function writeNumeric(w: Writer, s: string): void {
  const special = { NaN: 0xc000, Infinity: 0xd000, '-Infinity': 0xf000 }[s];
  if (special !== undefined) {
    w.i16(0);
    w.i16(0);
    w.ensure(2);
    w.view.setUint16(w.pos, special);
    w.pos += 2;
    w.i16(0);
    return;
  }
  const neg = s.startsWith('-');
  const [ip = '', fp = ''] = (neg || s.startsWith('+') ? s.slice(1) : s).split('.');
  const intPart = ip.replace(/^0+/, '');
  const ipP = intPart.padStart(Math.ceil(intPart.length / 4) * 4, '0');
  const fpP = fp.padEnd(Math.ceil(fp.length / 4) * 4, '0');
  const all = ipP + fpP;
  const digits: number[] = [];
  for (let i = 0; i < all.length; i += 4) digits.push(Number(all.slice(i, i + 4)));
  let weight = ipP.length / 4 - 1;
  let start = 0;
  while (start < digits.length && digits[start] === 0) {
    start++;
    weight--;
  }
  let end = digits.length;
  while (end > start && digits[end - 1] === 0) end--;
  const n = end - start;
  w.i16(n);
  w.i16(n === 0 ? 0 : weight);
  w.ensure(2);
  w.view.setUint16(w.pos, neg && n > 0 ? 0x4000 : 0);
  w.pos += 2;
  w.i16(fp.length);
  for (let i = start; i < end; i++) w.i16(digits[i]!);
}

const POW10 = [1, 10, 100, 1000];
/** base-10000 groups of the value being written, least significant first (reused: no array per value) */
const groups: number[] = [];

/** numeric's binary form straight from an unscaled integer and a scale (decimals and ints: no string detour). */
export function writeNumericScaled(w: Writer, unscaled: bigint | number, scale: number): void {
  if (scale < 0) return writeNumeric(w, decimalString(BigInt(unscaled), scale));
  const neg = unscaled < 0;
  const pad = (4 - (scale % 4)) % 4; // align the fraction to base-10000 groups
  const fracGroups = (scale + pad) / 4;
  let len = 0;
  const abs = neg ? -unscaled : unscaled;
  if (typeof abs === 'number' && abs * POW10[pad]! <= Number.MAX_SAFE_INTEGER) {
    let u = abs * POW10[pad]!;
    while (u > 0) {
      const q = Math.floor(u / 10000);
      groups[len++] = u - q * 10000;
      u = q;
    }
  } else {
    let u = BigInt(abs) * 10n ** BigInt(pad);
    while (u > 0n) {
      groups[len++] = Number(u % 10000n);
      u /= 10000n;
    }
  }
  // groups are least significant first; drop trailing (fractional) zero groups
  let low = 0;
  while (low < len && groups[low] === 0) low++;
  const n = len - low;
  w.ensure(8 + 2 * n);
  const v = w.view;
  let p = w.pos;
  v.setInt16(p, n);
  v.setInt16(p + 2, n === 0 ? 0 : len - fracGroups - 1);
  v.setUint16(p + 4, neg && n > 0 ? 0x4000 : 0);
  v.setInt16(p + 6, scale);
  p += 8;
  for (let i = len - 1; i >= low; i--, p += 2) v.setInt16(p, groups[i]!);
  w.pos = p;
}
