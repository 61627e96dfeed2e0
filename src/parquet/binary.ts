// The COPY BINARY encoder, pure: Arrow columns in, PostgreSQL's binary COPY bytes out, each value written in the
// binary form of the TARGET column's type (binary COPY does no type checking: the wrong form would load garbage).
// Range checks (e.g. a uint64 into bigint, an int32 into smallint) fail with the row and column.
import type { Data } from 'apache-arrow';
import { ELEMENT_OID, type ColumnPlan, type FieldInfo, type TargetCat, type TargetType } from './mapping.js';
import {
  decimalString,
  floatString,
  jsonText,
  reader,
  targetMicros,
  uuidBytes,
  uuidString,
  type Reader,
  type Value,
} from './values.js';

/** A value that cannot be encoded; the worker adds the row group. `sqlState` is what PostgreSQL would say. */
export class EncodeError extends Error {
  constructor(
    message: string,
    readonly row: number,
    readonly column: string,
    readonly sqlState = '22000',
  ) {
    super(message);
    this.name = 'EncodeError';
  }
}

/** A growable byte buffer with big-endian writers; lengths are back-patched. */
export class Writer {
  buf: Buffer;
  view: DataView;
  pos = 0;
  constructor(size = 1 << 16) {
    this.buf = Buffer.allocUnsafeSlow(size);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
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
  utf8(s: string): void {
    this.ensure(s.length * 3);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }
  /** the bytes written, in a buffer of their own (transferable) */
  take(): Uint8Array {
    const out = new Uint8Array(new ArrayBuffer(this.pos));
    out.set(this.buf.subarray(0, this.pos));
    return out;
  }
}

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const PG_EPOCH_DAYS = 10_957; // 2000-01-01 - 1970-01-01
const PG_EPOCH_US = 946_684_800_000_000n;
const RANGES: Record<string, [number, number]> = {
  int2: [-32768, 32767],
  int4: [-2147483648, 2147483647],
};
const INT8_MIN = -(2n ** 63n);
const INT8_MAX = 2n ** 63n - 1n;

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

/** numeric's binary form straight from an unscaled integer and a scale (decimals and ints: no string detour). */
export function writeNumericScaled(w: Writer, unscaled: bigint | number, scale: number): void {
  if (scale < 0) return writeNumeric(w, decimalString(BigInt(unscaled), scale));
  const neg = unscaled < 0;
  const pad = (4 - (scale % 4)) % 4; // align the fraction to base-10000 groups
  const fracGroups = (scale + pad) / 4;
  const groups: number[] = [];
  const abs = neg ? -unscaled : unscaled;
  if (typeof abs === 'number' && abs * 10 ** pad <= Number.MAX_SAFE_INTEGER) {
    let u = abs * 10 ** pad;
    while (u > 0) {
      groups.push(u % 10000);
      u = Math.floor(u / 10000);
    }
  } else {
    let u = BigInt(abs) * 10n ** BigInt(pad);
    while (u > 0n) {
      groups.push(Number(u % 10000n));
      u /= 10000n;
    }
  }
  // groups are least significant first; drop trailing (fractional) zero groups
  let low = 0;
  while (low < groups.length && groups[low] === 0) low++;
  const n = groups.length - low;
  w.i16(n);
  w.i16(n === 0 ? 0 : groups.length - fracGroups - 1);
  w.ensure(2);
  w.view.setUint16(w.pos, neg && n > 0 ? 0x4000 : 0);
  w.pos += 2;
  w.i16(scale);
  for (let i = groups.length - 1; i >= low; i--) w.i16(groups[i]!);
}

function numericText(v: Value, f: FieldInfo): string {
  if (f.kind === 'decimal') return decimalString(v as bigint, f.scale ?? 0);
  if (f.kind === 'float') return floatString(v as number);
  return String(v);
}

type Fail = (message: string, sqlState?: string) => never;

/** Writes one non-null value in the binary form of `t` (no length prefix). */
function writeValue(w: Writer, v: Value, f: FieldInfo, t: TargetType, zone: string, fail: Fail): void {
  if (t.elem) return writeArray(w, v as Value[], f.children![0]!, t.elem, zone, fail);
  const cat: TargetCat = t.cat;
  switch (cat) {
    case 'bool':
      w.ensure(1);
      w.buf[w.pos++] = v ? 1 : 0;
      return;
    case 'int2':
    case 'int4': {
      const n = Number(v);
      const [lo, hi] = RANGES[cat]!;
      if (n < lo || n > hi) fail(`value ${String(v)} is out of range for ${t.sql}`, '22003');
      return cat === 'int2' ? w.i16(n) : w.i32(n);
    }
    case 'int8': {
      const n = typeof v === 'bigint' ? v : BigInt(v as number);
      if (n < INT8_MIN || n > INT8_MAX) fail(`value ${n} is out of range for bigint`, '22003');
      return w.i64(n);
    }
    case 'float4':
    case 'float8': {
      const n = f.kind === 'decimal' ? Number(numericText(v, f)) : Number(v);
      return cat === 'float4' ? w.f32(n) : w.f64(n);
    }
    case 'numeric':
      if (f.kind === 'decimal') return writeNumericScaled(w, v as bigint, f.scale ?? 0);
      if (f.kind === 'int') return writeNumericScaled(w, v as number | bigint, 0);
      return writeNumeric(w, floatString(v as number));
    case 'text':
      if (f.kind === 'string') return w.utf8(v as string);
      if (f.kind === 'fixed') return w.utf8(uuidString(v as Uint8Array));
      return w.utf8(textOf(v, f));
    case 'json':
    case 'jsonb':
      if (cat === 'jsonb') {
        w.ensure(1);
        w.buf[w.pos++] = 1; // jsonb's binary form: a version byte, then the text
      }
      return w.utf8(f.kind === 'string' ? (v as string) : jsonText(v, f));
    case 'uuid': {
      const b = f.kind === 'string' ? uuidBytes(v as string) : (v as Uint8Array);
      if (!b) fail(`invalid input syntax for type uuid: ${JSON.stringify(v)}`, '22P02');
      return w.bytes(b);
    }
    case 'bytea':
      return w.bytes(v as Uint8Array);
    case 'date':
      return w.i32((v as number) - PG_EPOCH_DAYS);
    case 'timestamp':
    case 'timestamptz':
      return w.i64(targetMicros(v, f, cat === 'timestamptz', zone) - PG_EPOCH_US);
    case 'time':
      return w.i64(BigInt(v as number));
    case 'other':
      return fail(`no binary form for ${t.sql}`);
  }
}

/** Text of a scalar for a text column: what the value would print as. */
function textOf(v: Value, f: FieldInfo): string {
  switch (f.kind) {
    case 'bool':
      return v ? 'true' : 'false';
    case 'int':
    case 'float':
    case 'decimal':
      return numericText(v, f);
    default: {
      const j = jsonText(v, f);
      return j.startsWith('"') ? (JSON.parse(j) as string) : j; // dates, times, timestamps: their ISO text
    }
  }
}

function writeArray(w: Writer, items: Value[], f: FieldInfo, t: TargetType, zone: string, fail: Fail): void {
  const oid = ELEMENT_OID[t.cat as Exclude<TargetCat, 'other'>];
  if (items.length === 0) {
    w.i32(0);
    w.i32(0);
    w.i32(oid);
    return;
  }
  w.i32(1);
  w.i32(items.some((x) => x === null) ? 1 : 0);
  w.i32(oid);
  w.i32(items.length);
  w.i32(1);
  for (const x of items) writeField(w, x, f, t, zone, fail);
}

/** A length-prefixed field: -1 for NULL, else the value's byte length (back-patched) and its bytes. */
function writeField(w: Writer, v: Value, f: FieldInfo, t: TargetType, zone: string, fail: Fail): void {
  if (v === null) return w.i32(-1);
  w.i32(0);
  const at = w.pos;
  writeValue(w, v, f, t, zone, fail);
  w.view.setInt32(at - 4, w.pos - at);
}

/** Encodes record batches into one COPY BINARY stream (signature, tuples, trailer). With `rejecting`, a row whose
 * value cannot be encoded is left out and kept in `rejected` (reject-rows); otherwise its EncodeError is thrown. */
export class BinaryEncoder {
  private readonly w = new Writer();
  rows = 0;
  readonly rejected: EncodeError[] = [];
  constructor(
    private readonly plans: ColumnPlan[],
    private readonly zone: string,
    private readonly rejecting = false,
  ) {
    this.w.bytes(SIGNATURE);
    this.w.i32(0); // flags
    this.w.i32(0); // header extension length
  }
  /** `columns[k]` is the Data of plans[k]'s field (undefined: an ignored column, sent as NULL) */
  add(columns: (Data | undefined)[], n: number, firstRow: number): void {
    const readers: (Reader | undefined)[] = this.plans.map((p, k) => {
      const d = columns[k];
      return d && p.info ? reader(d, p.info) : undefined;
    });
    const w = this.w;
    let row = 0;
    let tuple = w.pos;
    const before = this.rejected.length;
    const fails = this.plans.map((p) => (m: string, sqlState?: string): never => {
      throw new EncodeError(m, firstRow + row, p.column, sqlState);
    });
    while (row < n) {
      try {
        for (; row < n; row++) {
          tuple = w.pos;
          w.i16(this.plans.length);
          for (let k = 0; k < this.plans.length; k++) {
            const r = readers[k];
            const p = this.plans[k]!;
            if (!r || !p.target) w.i32(-1);
            else writeField(w, r(row), p.info!, p.target, this.zone, fails[k]!);
          }
        }
      } catch (err) {
        // Outside the row loop, so the hot path pays nothing: drop the half-written tuple and go on after it.
        if (!this.rejecting || !(err instanceof EncodeError)) throw err;
        w.pos = tuple;
        this.rejected.push(err);
        row++;
      }
    }
    this.rows += n - (this.rejected.length - before);
  }
  finish(): Uint8Array {
    this.w.i16(-1);
    return this.w.take();
  }
}
