// The value writers of the CSV-to-binary converter: one field's bytes in, the value's binary COPY form out (its
// length, then its bytes), or false when the text is not in a form whose meaning is certain (the sub-batch then goes
// as CSV and PostgreSQL's own input function decides). Hot code: bytes only, no strings where avoidable. They write
// through the COPY BINARY Writer that Parquet's encoder uses (src/parquet/writer.ts).
import type { Writer } from '../parquet/writer.js';

const PG_EPOCH_DAYS = 10_957; // 2000-01-01 - 1970-01-01
/** exact powers of ten: m / 10^k is correctly rounded for m < 2^53 and k <= 22 */
const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k);

/** Decimal digits with an optional sign, nothing else (PostgreSQL also takes spaces, _ and 0x: not here). */
export function writeInt(o: Writer, b: Uint8Array, fs: number, fe: number, size: 2 | 4 | 8): boolean {
  let p = fs;
  const neg = b[p] === 0x2d;
  if (neg || b[p] === 0x2b) p++;
  if (p >= fe) return false;
  while (p < fe - 1 && b[p] === 48) p++;
  if (fe - p > 15) return size === 8 && writeBigInt8(o, b, p, fe, neg);
  let v = 0;
  for (; p < fe; p++) {
    const d = b[p]! - 48;
    if (d < 0 || d > 9) return false;
    v = v * 10 + d;
  }
  if (neg) v = -v;
  o.ensure(12);
  if (size === 4) {
    if (v < -2147483648 || v > 2147483647) return false;
    o.i32(4);
    o.i32(v);
  } else if (size === 8) {
    o.i32(8);
    o.i64n(v);
  } else {
    if (v < -32768 || v > 32767) return false;
    o.i32(2);
    o.i16(v);
  }
  return true;
}

function writeBigInt8(o: Writer, b: Uint8Array, p: number, fe: number, neg: boolean): boolean {
  if (fe - p > 19) return false;
  let v = 0n;
  for (; p < fe; p++) {
    const d = b[p]! - 48;
    if (d < 0 || d > 9) return false;
    v = v * 10n + BigInt(d);
  }
  if (neg) v = -v;
  if (v < -(2n ** 63n) || v > 2n ** 63n - 1n) return false;
  o.ensure(12);
  o.i32(8);
  o.i64(v);
  return true;
}

/** A plain decimal or scientific number; NaN, Infinity, spaces, and over- or underflow are left to the server.
 * Up to 15 digits and no exponent (the common case) is exact without a string: digits / 10^k. */
export function writeFloat8(o: Writer, b: Uint8Array, fs: number, fe: number): boolean {
  let p = fs;
  const neg = b[p] === 0x2d;
  if (neg || b[p] === 0x2b) p++;
  let m = 0;
  let digits = 0;
  let frac = 0;
  let nonzero = false;
  let any = false;
  let dot = false;
  for (; p < fe; p++) {
    const x = b[p]!;
    if (x === 0x2e && !dot) {
      dot = true;
      continue;
    }
    const d = x - 48;
    if (d < 0 || d > 9) break;
    any = true;
    if (d !== 0) nonzero = true;
    if (m !== 0 || d !== 0) digits++;
    m = m * 10 + d;
    if (dot) frac++;
  }
  if (!any) return false;
  let v: number;
  if (p === fe && digits <= 15 && frac <= 22) {
    v = m / POW10[frac]!;
    if (neg) v = -v;
  } else {
    if (p < fe && (b[p] === 0x65 || b[p] === 0x45)) {
      p++;
      if (b[p] === 0x2d || b[p] === 0x2b) p++;
      const e0 = p;
      while (p < fe && b[p]! >= 48 && b[p]! <= 57) p++;
      if (p === e0) return false;
    }
    if (p !== fe) return false;
    v = Number(Buffer.prototype.toString.call(b, 'latin1', fs, fe));
    if (!Number.isFinite(v) || (v === 0 && nonzero)) return false;
  }
  o.ensure(12);
  o.i32(8);
  o.f64(v);
  return true;
}

/** numeric's binary form (base-10000 digits, weight, sign, display scale) from a plain decimal; the server
 * rounds it to the column's scale and checks its precision, as for text. */
export function writeNumeric(o: Writer, b: Uint8Array, fs: number, fe: number): boolean {
  let p = fs;
  const neg = b[p] === 0x2d;
  if (neg || b[p] === 0x2b) p++;
  let is = p;
  while (p < fe && b[p]! >= 48 && b[p]! <= 57) p++;
  const ie = p;
  let fsd = ie;
  let fed = ie;
  if (p < fe && b[p] === 0x2e) {
    p++;
    fsd = p;
    while (p < fe && b[p]! >= 48 && b[p]! <= 57) p++;
    fed = p;
  }
  if (p !== fe || (ie === is && fed === fsd)) return false;
  while (is < ie && b[is] === 48) is++;
  const il = ie - is;
  const fl = fed - fsd;
  const ig = Math.ceil(il / 4);
  const fg = Math.ceil(fl / 4);
  const nd = ig + fg;
  if (nd > 1000 || fl > 1000) return false;
  o.ensure(12 + nd * 2);
  o.i32(8 + nd * 2);
  o.i16(nd);
  o.i16(nd === 0 ? 0 : ig - 1);
  o.i16(neg ? 0x4000 : 0);
  o.i16(fl);
  let q = is;
  for (let g = 0; g < ig; g++) {
    let k = g === 0 ? il - (ig - 1) * 4 : 4;
    let v = 0;
    while (k-- > 0) v = v * 10 + (b[q++]! - 48);
    o.i16(v);
  }
  q = fsd;
  for (let g = 0; g < fg; g++) {
    let v = 0;
    for (let k = 0; k < 4; k++) v = v * 10 + (q < fed ? b[q++]! - 48 : 0);
    o.i16(v);
  }
  return true;
}

/** t, true, y, yes, on, 1 and their opposites, in any case: what boolin reads the same way. */
export function writeBool(o: Writer, b: Uint8Array, fs: number, fe: number): boolean {
  const n = fe - fs;
  if (n === 1) {
    // the common case without a string: t T y Y 1 / f F n N 0
    const v = ONE_CHAR_BOOL[b[fs]!]!;
    if (v < 0) return false;
    o.ensure(5);
    o.i32(1);
    o.buf[o.pos++] = v;
    return true;
  }
  if (n < 2 || n > 5) return false;
  let s = '';
  for (let k = fs; k < fe; k++) {
    const x = b[k]!;
    s += String.fromCharCode(x >= 65 && x <= 90 ? x + 32 : x);
  }
  const v = BOOLS[s];
  if (v === undefined) return false;
  o.ensure(5);
  o.i32(1);
  o.buf[o.pos++] = v;
  return true;
}

const ONE_CHAR_BOOL = new Int8Array(256).fill(-1);
for (const c of 'tTyY1') ONE_CHAR_BOOL[c.charCodeAt(0)] = 1;
for (const c of 'fFnN0') ONE_CHAR_BOOL[c.charCodeAt(0)] = 0;

const BOOLS: Record<string, number> = Object.assign(Object.create(null) as Record<string, number>, {
  true: 1,
  yes: 1,
  on: 1,
  false: 0,
  no: 0,
  off: 0,
});

/** `len` digits at p as a number, or -1. */
function num(b: Uint8Array, p: number, len: number): number {
  let v = 0;
  for (let k = 0; k < len; k++) {
    const d = b[p + k]! - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/** YYYY-MM-DD at p (years 1 to 9999): days from 1970-01-01, or NaN. */
function ymd(b: Uint8Array, p: number): number {
  const y = num(b, p, 4);
  const m = num(b, p + 5, 2);
  const d = num(b, p + 8, 2);
  if (b[p + 4] !== 0x2d || b[p + 7] !== 0x2d || y < 1 || m < 1 || m > 12 || d < 1 || d > daysInMonth(y, m))
    return NaN;
  return daysFromCivil(y, m, d);
}

/** Days from 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil): exact for any year. */
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function daysInMonth(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

/** YYYY-MM-DD, the ISO form every DateStyle reads the same way. */
export function writeDate(o: Writer, b: Uint8Array, fs: number, fe: number): boolean {
  if (fe - fs !== 10) return false;
  const days = ymd(b, fs);
  if (Number.isNaN(days)) return false;
  o.ensure(8);
  o.i32(4);
  o.i32(days - PG_EPOCH_DAYS);
  return true;
}

/** YYYY-MM-DD[T ]HH:MM:SS[.ffffff] then, for timestamptz, Z or an offset ±HH[[:]MM]; a timestamp without zone
 * takes none (PostgreSQL would silently drop one); a timestamptz without one is in the session's TimeZone, so only
 * when that is UTC (`utc`). */
export function writeTimestamp(
  o: Writer,
  b: Uint8Array,
  fs: number,
  fe: number,
  zoned: boolean,
  utc: boolean,
): boolean {
  if (fe - fs < 19) return false;
  const days = ymd(b, fs);
  const sep = b[fs + 10];
  if (Number.isNaN(days) || (sep !== 0x54 && sep !== 0x20)) return false;
  const h = num(b, fs + 11, 2);
  const mi = num(b, fs + 14, 2);
  const s = num(b, fs + 17, 2);
  if (b[fs + 13] !== 0x3a || b[fs + 16] !== 0x3a || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 59)
    return false;
  let p = fs + 19;
  let us = 0;
  if (p < fe && b[p] === 0x2e) {
    p++;
    let k = 0;
    for (; p < fe; p++) {
      const d = b[p]! - 48;
      if (d < 0 || d > 9) break;
      if (++k > 6) return false;
      us = us * 10 + d;
    }
    if (k === 0) return false;
    us *= POW10[6 - k]!;
  }
  let offset = 0;
  if (p < fe) {
    if (!zoned) return false;
    const z = b[p];
    if ((z === 0x5a || z === 0x7a) && p + 1 === fe) p++;
    else if (z === 0x2b || z === 0x2d) {
      const oh = num(b, p + 1, 2);
      let om = 0;
      let q = p + 3;
      if (q < fe) {
        if (b[q] === 0x3a) q++;
        om = num(b, q, 2);
        q += 2;
      }
      if (oh < 0 || oh > 15 || om < 0 || om > 59 || q !== fe) return false;
      offset = (z === 0x2d ? -1 : 1) * (oh * 3600 + om * 60);
      p = fe;
    } else return false;
  } else if (zoned && !utc) return false;
  const secs = (days - PG_EPOCH_DAYS) * 86400 + h * 3600 + mi * 60 + s - offset;
  o.ensure(12);
  o.i32(8);
  if (Math.abs(secs) < 9e9) o.i64n(secs * 1e6 + us);
  else o.i64(BigInt(secs) * 1_000_000n + BigInt(us));
  return true;
}

/** 8-4-4-4-12 hex digits, or 32 without hyphens (PostgreSQL takes braces and other groupings too: not here). */
export function writeUuid(o: Writer, b: Uint8Array, fs: number, fe: number): boolean {
  const len = fe - fs;
  const hyphens = len === 36;
  if (!hyphens && len !== 32) return false;
  if (hyphens && (b[fs + 8] !== 0x2d || b[fs + 13] !== 0x2d || b[fs + 18] !== 0x2d || b[fs + 23] !== 0x2d))
    return false;
  o.ensure(20);
  o.i32(16);
  const out = o.buf;
  let w = o.pos;
  let p = fs;
  for (let k = 0; k < 16; k++) {
    if (hyphens && (k === 4 || k === 6 || k === 8 || k === 10)) p++;
    const hi = HEX[b[p]!]!;
    const lo = HEX[b[p + 1]!]!;
    if (hi < 0 || lo < 0) return false;
    out[w++] = (hi << 4) | lo;
    p += 2;
  }
  o.pos = w;
  return true;
}

const HEX = new Int8Array(256).fill(-1);
for (let k = 0; k < 10; k++) HEX[48 + k] = k;
for (let k = 0; k < 6; k++) HEX[65 + k] = HEX[97 + k] = 10 + k;
