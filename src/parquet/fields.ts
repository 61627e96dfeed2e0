// Field writers straight from Arrow's buffers, pure: for the common (Arrow type, target type) pairs, one writer per
// column reads the typed arrays (values, valueOffsets, the validity bitmap) and writes the COPY BINARY field, where
// the generic path (values.ts's reader, then binary.ts's writeValue) makes a JS value of every cell first: a BigInt
// per int64 or timestamp, a string per text (decoded, then encoded again), a BigInt per decimal. The bytes are the
// generic path's (test/unit/fields.test.ts compares both); other pairs get undefined and take the generic path.
// Arrow JS convention: `values` and `valueOffsets` are already sliced to the Data; the validity bitmap and
// boolean values are not (they go by `offset`).
import type { Data } from 'apache-arrow';
import type { FieldInfo, TargetType } from './mapping.js';
import { isUtc } from './values.js';
import { viewOf, writeNumericScaled, type Writer } from './writer.js';

export type Fail = (message: string, sqlState?: string) => never;
/** Writes row i's field: its length and value, or -1 for NULL. */
export type FieldWriter = (i: number) => void;

const TWO32 = 4294967296;
export const PG_EPOCH_DAYS = 10_957; // 2000-01-01 - 1970-01-01
export const PG_EPOCH_US = 946_684_800_000_000; // an exact double
const EPOCH_HI = Math.floor(PG_EPOCH_US / TWO32);
const EPOCH_LO = PG_EPOCH_US % TWO32;
const UNIT_US: Record<string, number> = { s: 1_000_000, ms: 1000, us: 1 };
/** |hi| under this: hi * 2^32 + lo is a safe integer */
const SAFE_HI = 2 ** 21;

/** int64 columns as pairs of int32 (low word first: Arrow buffers are little-endian), read without BigInts */
function halves(data: Data): Int32Array {
  const v = data.values as BigInt64Array;
  return new Int32Array(v.buffer, v.byteOffset, v.length * 2);
}

/** A writer for the column, or undefined when this pair goes by the generic path. */
export function fieldWriter(
  w: Writer,
  data: Data,
  f: FieldInfo,
  t: TargetType,
  zone: string,
  fail: Fail,
): FieldWriter | undefined {
  if (data.dictionary || t.elem) return undefined;
  const write = valueWriter(w, data, f, t, zone, fail);
  if (!write || !(data.nullable && data.nullCount > 0)) return write;
  const bits = data.nullBitmap!;
  const off = data.offset;
  return (i) => {
    const j = off + i;
    if ((bits[j >> 3]! & (1 << (j & 7))) !== 0) write(i);
    else w.i32(-1);
  };
}

function valueWriter(
  w: Writer,
  data: Data,
  f: FieldInfo,
  t: TargetType,
  zone: string,
  fail: Fail,
): FieldWriter | undefined {
  const cat = t.cat;
  switch (f.kind) {
    case 'bool': {
      if (cat !== 'bool') return undefined;
      const bits = data.values as Uint8Array;
      const off = data.offset;
      return (i) => {
        w.ensure(5);
        const j = off + i;
        w.view.setInt32(w.pos, 1);
        w.buf[w.pos + 4] = (bits[j >> 3]! >> (j & 7)) & 1;
        w.pos += 5;
      };
    }
    case 'int':
      return (f.bitWidth ?? 64) <= 32 ? smallInt(w, data, f, t, fail) : bigInt(w, data, f, t, fail);
    case 'float': {
      const values = data.values as Float32Array | Float64Array;
      if (cat === 'float8') return (i) => f64(w, values[i]!);
      if (cat === 'float4') return (i) => f32(w, values[i]!);
      return undefined;
    }
    case 'decimal':
      return cat === 'numeric' ? decimal(w, data, f) : undefined;
    case 'string':
    case 'binary': {
      const ok = f.kind === 'string' ? cat === 'text' || cat === 'json' || cat === 'jsonb' : cat === 'bytea';
      const offs = data.valueOffsets;
      if (!ok || !(offs instanceof Int32Array)) return undefined; // large (int64-offset) strings: generic
      const bytes = data.values as Uint8Array;
      const sv = viewOf(bytes);
      const version = cat === 'jsonb' ? 1 : 0; // jsonb's binary form: a version byte, then the text
      return (i) => {
        const a = offs[i]!;
        const b = offs[i + 1]!;
        w.ensure(5);
        w.view.setInt32(w.pos, b - a + version);
        w.pos += 4;
        if (version) w.buf[w.pos++] = 1;
        w.range(bytes, sv, a, b);
      };
    }
    case 'fixed': {
      const width = f.byteWidth ?? 0;
      if (!(cat === 'bytea' || (cat === 'uuid' && width === 16))) return undefined;
      const bytes = data.values as Uint8Array;
      const sv = viewOf(bytes);
      return (i) => {
        w.i32(width);
        w.range(bytes, sv, i * width, (i + 1) * width);
      };
    }
    case 'date': {
      if (cat !== 'date' || f.unit === 'ms') return undefined;
      const days = data.values as Int32Array;
      return (i) => {
        w.ensure(8);
        w.view.setInt32(w.pos, 4);
        w.view.setInt32(w.pos + 4, days[i]! - PG_EPOCH_DAYS);
        w.pos += 8;
      };
    }
    case 'timestamp':
      return cat === 'timestamp' || cat === 'timestamptz' ? timestamp(w, data, f, t, zone) : undefined;
    default:
      return undefined;
  }
}

// Length-prefixed fixed-width fields, one small function per width and type: alike on purpose (a shared one taking
// the DataView setter as an argument would be a call V8 cannot inline on the hot path).
function f64(w: Writer, x: number): void {
  w.ensure(12);
  w.view.setInt32(w.pos, 8);
  w.view.setFloat64(w.pos + 4, x);
  w.pos += 12;
}

function f32(w: Writer, x: number): void {
  w.ensure(8);
  w.view.setInt32(w.pos, 4);
  w.view.setFloat32(w.pos + 4, x);
  w.pos += 8;
}

function i16(w: Writer, x: number): void {
  w.ensure(6);
  w.view.setInt32(w.pos, 2);
  w.view.setInt16(w.pos + 4, x);
  w.pos += 6;
}

function i32(w: Writer, x: number): void {
  w.ensure(8);
  w.view.setInt32(w.pos, 4);
  w.view.setInt32(w.pos + 4, x);
  w.pos += 8;
}

function i64(w: Writer, hi: number, lo: number): void {
  w.ensure(12);
  w.view.setInt32(w.pos, 8);
  w.view.setInt32(w.pos + 4, hi);
  w.view.setInt32(w.pos + 8, lo);
  w.pos += 12;
}

/** numeric of an unscaled safe integer or bigint, length-prefixed */
function numeric(w: Writer, unscaled: number | bigint, scale: number): void {
  w.ensure(4);
  const at = (w.pos += 4);
  writeNumericScaled(w, unscaled, scale);
  w.view.setInt32(at - 4, w.pos - at);
}

export const INT_RANGE = { int2: [-32768, 32767], int4: [-2147483648, 2147483647] } as const;

/** Ints of up to 32 bits: plain Numbers in the typed array. */
function smallInt(w: Writer, data: Data, f: FieldInfo, t: TargetType, fail: Fail): FieldWriter | undefined {
  const values = data.values as Int32Array | Uint32Array | Int16Array | Uint16Array | Int8Array | Uint8Array;
  const cat = t.cat;
  if (cat === 'int2' || cat === 'int4') {
    const [lo, hi] = INT_RANGE[cat];
    const bits = (f.bitWidth ?? 32) + (f.signed === false ? 1 : 0); // an unsigned int needs one bit more
    const write = cat === 'int2' ? i16 : i32;
    if (bits <= (cat === 'int2' ? 16 : 32)) return (i) => write(w, values[i]!);
    return (i) => {
      const n = values[i]!;
      if (n < lo || n > hi) fail(`value ${n} is out of range for ${t.sql}`, '22003');
      write(w, n);
    };
  }
  if (cat === 'int8') return (i) => i64(w, Math.floor(values[i]! / TWO32), values[i]! | 0);
  if (cat === 'float8') return (i) => f64(w, values[i]!);
  if (cat === 'float4') return (i) => f32(w, values[i]!);
  if (cat === 'numeric') return (i) => numeric(w, values[i]!, 0);
  return undefined;
}

/** 64-bit ints, as two int32 halves: a BigInt is made only for a value out of the target's range (the message). */
function bigInt(w: Writer, data: Data, f: FieldInfo, t: TargetType, fail: Fail): FieldWriter | undefined {
  const h = halves(data);
  const big = data.values as BigInt64Array | BigUint64Array;
  const signed = f.signed !== false;
  const cat = t.cat;
  const number = (i: number): number => h[2 * i + 1]! * TWO32 + (h[2 * i]! >>> 0);
  const unsigned = (i: number): number => (h[2 * i + 1]! >>> 0) * TWO32 + (h[2 * i]! >>> 0);
  const range = (i: number): never => fail(`value ${big[i]} is out of range for ${t.sql}`, '22003');
  switch (cat) {
    case 'int8':
      if (signed) return (i) => i64(w, h[2 * i + 1]!, h[2 * i]!);
      return (i) => {
        if (h[2 * i + 1]! < 0) range(i);
        i64(w, h[2 * i + 1]!, h[2 * i]!);
      };
    case 'int2':
    case 'int4': {
      const [lo, hi] = INT_RANGE[cat];
      const write = cat === 'int2' ? i16 : i32;
      return (i) => {
        const l = h[2 * i]!;
        const fits32 = signed ? h[2 * i + 1] === l >> 31 : h[2 * i + 1] === 0 && l >= 0;
        if (!fits32 || l < lo || l > hi) range(i);
        write(w, l);
      };
    }
    case 'float8':
      return (i) => f64(w, signed ? number(i) : unsigned(i));
    case 'float4':
      return (i) => f32(w, signed ? number(i) : unsigned(i));
    case 'numeric':
      return (i) => {
        const hi = h[2 * i + 1]!;
        const safe = signed ? hi >= -SAFE_HI && hi < SAFE_HI : hi >= 0 && hi < SAFE_HI;
        numeric(w, safe ? number(i) : big[i]!, 0);
      };
    default:
      return undefined;
  }
}

/** Decimals (128 or 256 bits as 32-bit words, least significant first) into numeric: a Number when the value is a
 * safe integer (its upper words only sign extension), else the BigInt the generic reader makes. */
function decimal(w: Writer, data: Data, f: FieldInfo): FieldWriter | undefined {
  const words = data.values as Uint32Array;
  const stride = (f.bitWidth ?? 128) / 32;
  const scale = f.scale ?? 0;
  if (!Number.isInteger(stride) || stride < 2) return undefined;
  const slow = (base: number): bigint => {
    let x = 0n;
    for (let k = stride - 1; k >= 0; k--) x = (x << 32n) | BigInt(words[base + k]!);
    return BigInt.asIntN(stride * 32, x);
  };
  return (i) => {
    const base = i * stride;
    const hi = words[base + 1]! | 0;
    const ext = hi >> 31;
    let safe = hi >= -SAFE_HI && hi < SAFE_HI;
    for (let k = 2; safe && k < stride; k++) safe = (words[base + k]! | 0) === ext;
    numeric(w, safe ? hi * TWO32 + words[base]! : slow(base), scale);
  };
}

/** Timestamps whose conversion is the identity (an instant into timestamptz, a wall-clock time into timestamp, or
 * either under UTC), in microseconds since 2000-01-01: int64 arithmetic on the halves for microseconds; Numbers for
 * the other units while exact, else BigInt. Conversions through a zone take the generic path. */
function timestamp(
  w: Writer,
  data: Data,
  f: FieldInfo,
  t: TargetType,
  zone: string,
): FieldWriter | undefined {
  const instant = !!f.tz;
  if (instant !== (t.cat === 'timestamptz') && !isUtc(zone)) return undefined;
  const h = halves(data);
  const big = data.values as BigInt64Array;
  const unit = f.unit ?? 'us';
  if (unit === 'us') {
    return (i) => {
      const lo = h[2 * i]! >>> 0;
      const borrow = lo < EPOCH_LO ? 1 : 0;
      i64(w, (h[2 * i + 1]! - EPOCH_HI - borrow) | 0, lo - EPOCH_LO);
    };
  }
  const write = (us: number): void => {
    const x = us - PG_EPOCH_US;
    i64(w, Math.floor(x / TWO32), x | 0);
  };
  if (unit === 'ns') {
    // floor(v / 1000) from the halves: v = hi * 2^32 + lo = 1000 * (hi * 4294967) + (hi * 296 + lo)
    return (i) => {
      const hi = h[2 * i + 1]!;
      if (hi < -(2 ** 30) || hi >= 2 ** 30) return slowTimestamp(w, big[i]!, 1000n, true);
      write(hi * 4294967 + Math.floor((hi * 296 + (h[2 * i]! >>> 0)) / 1000));
    };
  }
  const mul = UNIT_US[unit];
  if (mul === undefined) return undefined;
  const limit = Number.MAX_SAFE_INTEGER / mul / TWO32; // |hi| under this: v * mul is exact
  return (i) => {
    const hi = h[2 * i + 1]!;
    if (hi < -limit || hi >= limit) return slowTimestamp(w, big[i]!, BigInt(mul), false);
    write((hi * TWO32 + (h[2 * i]! >>> 0)) * mul);
  };
}

function slowTimestamp(w: Writer, v: bigint, by: bigint, divide: boolean): void {
  let us = v * by;
  if (divide) {
    us = v / by;
    if (v % by < 0n) us -= 1n;
  }
  w.i32(8);
  w.i64(us - BigInt(PG_EPOCH_US));
}

/** Bytes the column's fields take for rows [0, n), length prefixes included: exact for strings, an upper bound
 * or a fair guess for the rest (the writer grows past it if needed). */
export function sizeHint(
  data: Data | undefined,
  f: FieldInfo | undefined,
  t: TargetType | undefined,
  n: number,
): number {
  if (!data || !f || !t) return 4 * n;
  const offs = data.valueOffsets;
  if (offs instanceof Int32Array && offs.length > n) return 5 * n + (offs[n]! - offs[0]!);
  switch (t.cat) {
    case 'bool':
      return 5 * n;
    case 'int2':
      return 6 * n;
    case 'int4':
    case 'float4':
    case 'date':
      return 8 * n;
    case 'numeric':
      return 24 * n;
    case 'uuid':
      return 20 * n;
    default:
      return 12 * n;
  }
}
