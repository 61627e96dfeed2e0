// Arrow values as the encoders need them, pure: a reader per column turns Arrow Data into plain values (ints as
// number or bigint, decimals as unscaled bigint, dates as days, times and timestamps as microseconds: nanoseconds
// are truncated to microseconds, PostgreSQL's resolution), plus the text and JSON forms both encoders share.
import type { Data } from 'apache-arrow';
import type { FieldInfo } from './mapping.js';

export type Value =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | Value[]
  | { [key: string]: Value }
  | Map<Value, Value>;

/** Reads row i (relative to the Data's own offset) as a plain value; null for a null. */
export type Reader = (i: number) => Value;

const UNIT_TO_US: Record<string, bigint> = { s: 1_000_000n, ms: 1000n, us: 1n };

function floorDiv(v: bigint, d: bigint): bigint {
  const q = v / d;
  return v % d < 0n ? q - 1n : q;
}

/** A reader for a column (or a list's element column) of the given field. Arrow JS slices `values` and
 * `valueOffsets` with the Data; only the validity bitmap and boolean values go by `offset`. */
export function reader(data: Data, f: FieldInfo): Reader {
  const off = data.offset;
  const valid = (i: number): boolean => data.getValid(i);
  const values = data.values as ArrayLike<number | bigint> | undefined;
  if (f.kind === 'null') return () => null;
  if (data.dictionary) {
    const dict = data.dictionary;
    const idx = values as ArrayLike<number | bigint>;
    const inner = reader(dict.data[0] as Data, f);
    if (dict.data.length === 1) return (i) => (valid(i) ? inner(Number(idx[i])) : null);
    return (i) => (valid(i) ? (dict.get(Number(idx[i])) as Value) : null);
  }
  switch (f.kind) {
    case 'bool': {
      const bits = data.values as Uint8Array; // one bit per value, least significant first
      return (i) => (valid(i) ? ((bits[(off + i) >> 3]! >> ((off + i) & 7)) & 1) === 1 : null);
    }
    case 'int':
    case 'float':
      return (i) => (valid(i) ? values![i]! : null);
    case 'decimal': {
      const words = data.values as Uint32Array;
      const stride = (f.bitWidth ?? 128) / 32;
      return (i) => {
        if (!valid(i)) return null;
        let x = 0n;
        const base = i * stride;
        for (let w = stride - 1; w >= 0; w--) x = (x << 32n) | BigInt(words[base + w]!);
        return BigInt.asIntN(stride * 32, x);
      };
    }
    case 'string':
    case 'binary': {
      const offs = data.valueOffsets as ArrayLike<number | bigint>;
      const bytes = data.values as Uint8Array;
      const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      if (f.kind === 'string')
        return (i) => (valid(i) ? buf.toString('utf8', Number(offs[i]), Number(offs[i + 1])) : null);
      return (i) => (valid(i) ? bytes.subarray(Number(offs[i]), Number(offs[i + 1])) : null);
    }
    case 'fixed': {
      const w = f.byteWidth ?? 0;
      const bytes = data.values as Uint8Array;
      return (i) => (valid(i) ? bytes.subarray(i * w, (i + 1) * w) : null);
    }
    case 'date':
      // Date32 counts days; Date64 counts milliseconds.
      if (f.unit === 'ms')
        return (i) => (valid(i) ? Number(floorDiv(BigInt(values![i]!), 86_400_000n)) : null);
      return (i) => (valid(i) ? Number(values![i]) : null);
    case 'time':
    case 'timestamp': {
      const mul = UNIT_TO_US[f.unit ?? 'us'];
      const toUs = (x: bigint): bigint => (mul === undefined ? floorDiv(x, 1000n) : x * mul);
      if (f.kind === 'time') return (i) => (valid(i) ? Number(toUs(BigInt(values![i]!))) : null);
      return (i) => (valid(i) ? toUs(BigInt(values![i]!)) : null);
    }
    case 'list': {
      const offs = data.valueOffsets as ArrayLike<number | bigint>;
      const child = reader(data.children[0] as Data, f.children![0]!);
      return (i) => {
        if (!valid(i)) return null;
        const out: Value[] = [];
        for (let j = Number(offs[i]); j < Number(offs[i + 1]); j++) out.push(child(j));
        return out;
      };
    }
    case 'struct': {
      const kids = (f.children ?? []).map((c, k) => [c.name, reader(data.children[k] as Data, c)] as const);
      return (i) => {
        if (!valid(i)) return null;
        const o: { [key: string]: Value } = {};
        for (const [name, r] of kids) o[name] = r(i); // struct children are sliced with their parent
        return o;
      };
    }
    case 'map': {
      const offs = data.valueOffsets as ArrayLike<number>;
      const entries = data.children[0] as Data;
      const [kf, vf] = f.children ?? [];
      const key = reader(entries.children[0] as Data, kf!);
      const val = reader(entries.children[1] as Data, vf!);
      return (i) => {
        if (!valid(i)) return null;
        const m = new Map<Value, Value>();
        for (let j = offs[i]!; j < offs[i + 1]!; j++) m.set(key(j), val(j));
        return m;
      };
    }
    default:
      throw new Error(`no reader for Arrow type ${f.arrow}`);
  }
}

// ---- text forms -------------------------------------------------------------------------------------------

const pad = (n: number | bigint, w: number): string => String(n).padStart(w, '0');

/** Unscaled integer and scale to a plain decimal string: (12345n, 2) -> "123.45". */
export function decimalString(unscaled: bigint, scale: number): string {
  const neg = unscaled < 0n;
  let digits = (neg ? -unscaled : unscaled).toString();
  if (scale > 0) {
    digits = digits.padStart(scale + 1, '0');
    digits = `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  } else if (scale < 0) digits += '0'.repeat(-scale);
  return neg ? `-${digits}` : digits;
}

/** A float in the shortest form that reads back the same, without exponent (numeric input wants plain digits). */
export function floatString(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity';
  const s = String(x);
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(s);
  if (!m) return s;
  const [, sign, d0, rest = '', e] = m;
  const exp = Number(e);
  const all = d0! + rest;
  if (exp >= 0)
    return (
      sign +
      (all.length > exp + 1 ? `${all.slice(0, exp + 1)}.${all.slice(exp + 1)}` : all.padEnd(exp + 1, '0'))
    );
  return `${sign}0.${'0'.repeat(-exp - 1)}${all}`;
}

/** Days since 1970-01-01 to YYYY-MM-DD (years before 1 AD as PostgreSQL writes them, with BC). */
export function dateString(days: number): string {
  const d = new Date(days * 86_400_000);
  const y = d.getUTCFullYear();
  const ymd = `${pad(y > 0 ? y : 1 - y, 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}`;
  return y > 0 ? ymd : `${ymd} BC`;
}

export function timeString(us: number): string {
  const s = Math.floor(us / 1_000_000);
  const frac = us - s * 1_000_000;
  const hms = `${pad(Math.floor(s / 3600), 2)}:${pad(Math.floor(s / 60) % 60, 2)}:${pad(s % 60, 2)}`;
  return frac ? `${hms}.${pad(frac, 6)}` : hms;
}

/** Microseconds since the epoch to "YYYY-MM-DD HH:MM:SS[.ffffff]" (no zone). */
export function timestampString(us: bigint): string {
  const days = floorDiv(us, 86_400_000_000n);
  const rest = Number(us - days * 86_400_000_000n);
  const date = dateString(Number(days));
  const bc = date.endsWith(' BC');
  const t = `${date.slice(0, 10)} ${timeString(rest)}`;
  return bc ? `${t} BC` : t;
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

export function uuidString(b: Uint8Array): string {
  const h = hex(b);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A UUID's 16 bytes from its text (with or without dashes or braces); undefined when it is not one. */
export function uuidBytes(s: string): Buffer | undefined {
  const h = s.replace(/^\{|\}$/g, '').replaceAll('-', '');
  return /^[0-9a-fA-F]{32}$/.test(h) ? Buffer.from(h, 'hex') : undefined;
}

/** A value as JSON text, guided by its field: bigints and decimals as exact numbers, temporal values as ISO
 * strings, bytes as "\x..." hex, maps as objects (keys as text). */
export function jsonText(v: Value, f: FieldInfo): string {
  if (v === null) return 'null';
  switch (f.kind) {
    case 'bool':
      return v ? 'true' : 'false';
    case 'int':
      return String(v);
    case 'float':
      return Number.isFinite(v) ? String(v) : 'null';
    case 'decimal':
      return decimalString(v as bigint, f.scale ?? 0);
    case 'string':
      return JSON.stringify(v);
    case 'binary':
      return JSON.stringify(`\\x${hex(v as Uint8Array)}`);
    case 'fixed':
      return JSON.stringify(f.byteWidth === 16 ? uuidString(v as Uint8Array) : `\\x${hex(v as Uint8Array)}`);
    case 'date':
      return JSON.stringify(dateString(v as number));
    case 'time':
      return JSON.stringify(timeString(v as number));
    case 'timestamp': {
      const t = timestampString(v as bigint).replace(' ', 'T');
      return JSON.stringify(f.tz ? `${t}Z` : t);
    }
    case 'list':
      return `[${(v as Value[]).map((x) => jsonText(x, f.children![0]!)).join(',')}]`;
    case 'struct': {
      const o = v as { [key: string]: Value };
      return `{${(f.children ?? []).map((c) => `${JSON.stringify(c.name)}:${jsonText(o[c.name] ?? null, c)}`).join(',')}}`;
    }
    case 'map': {
      const [kf, vf] = f.children ?? [];
      const parts: string[] = [];
      for (const [k, x] of v as Map<Value, Value>) {
        const key = kf!.kind === 'string' ? (k as string) : jsonText(k, kf!).replace(/^"|"$/g, '');
        parts.push(`${JSON.stringify(key)}:${jsonText(x, vf!)}`);
      }
      return `{${parts.join(',')}}`;
    }
    default:
      return 'null';
  }
}

// ---- time zones -------------------------------------------------------------------------------------------

const zoneCache = new Map<string, Intl.DateTimeFormat>();
const offsetCache = new Map<string, number>();

/** UTC by one of its names: converting through it changes nothing. */
export function isUtc(zone: string): boolean {
  return /^(UTC|GMT|Etc\/UTC|Z)$/i.test(zone);
}

const DATE_MAX_MS = 8.64e15;
const DAY_MS = 86_400_000;

/** The zone's offset from UTC in ms at a UTC instant (cached per zone and hour: offsets change on the hour). */
export function zoneOffsetMs(zone: string, utcMs: number): number {
  if (isUtc(zone)) return 0;
  // A JS Date spans +-8.64e15 ms (years -271821 to 275760), PostgreSQL's timestamps 4713 BC to 294276 AD: beyond
  // Date's range the zone's offset at its edge stands (no zone changes its rules that far out), and a value past
  // PostgreSQL's own range is refused by the server with its row ("timestamp out of range"), not a RangeError here.
  const at = Math.max(-DATE_MAX_MS + DAY_MS, Math.min(DATE_MAX_MS - DAY_MS, utcMs));
  const hour = Math.floor(at / 3_600_000);
  const key = `${zone}\0${hour}`;
  const hit = offsetCache.get(key);
  if (hit !== undefined) return hit;
  let fmt = zoneCache.get(zone);
  if (!fmt) {
    fmt = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      era: 'short',
    });
    zoneCache.set(zone, fmt);
  }
  const start = hour * 3_600_000;
  const p = Object.fromEntries(fmt.formatToParts(new Date(start)).map((x) => [x.type, x.value]));
  const year = p.era === 'BC' || p.era === 'B' ? 1 - Number(p.year) : Number(p.year);
  // setUTCFullYear, not Date.UTC: Date.UTC reads the years 0 to 99 as 1900 to 1999
  const d = new Date(0);
  d.setUTCFullYear(year, Number(p.month) - 1, Number(p.day));
  d.setUTCHours(Number(p.hour), Number(p.minute), Number(p.second), 0);
  const local = d.getTime();
  const off = local - start;
  if (offsetCache.size > 10_000) offsetCache.clear();
  offsetCache.set(key, off);
  return off;
}

/** A wall-clock time in the zone (as microseconds) to the UTC instant. */
export function localToUtcUs(localUs: bigint, zone: string): bigint {
  const ms = Number(localUs / 1000n);
  const guess = ms - zoneOffsetMs(zone, ms);
  return localUs - BigInt(zoneOffsetMs(zone, guess)) * 1000n;
}

export function utcToLocalUs(utcUs: bigint, zone: string): bigint {
  return utcUs + BigInt(zoneOffsetMs(zone, Number(utcUs / 1000n))) * 1000n;
}

/** A timestamp (or a date, as its midnight) as the target stores it: timestamptz holds the UTC instant, timestamp
 * the wall-clock time. Values without a zone are wall-clock times in `zone`; values with one are instants. */
export function targetMicros(v: Value, f: FieldInfo, tz: boolean, zone: string): bigint {
  const instant = f.kind === 'timestamp' && !!f.tz;
  const us = f.kind === 'date' ? BigInt(v as number) * 86_400_000_000n : (v as bigint);
  if (tz) return instant ? us : localToUtcUs(us, zone);
  return instant ? utcToLocalUs(us, zone) : us;
}

/** Checks that a zone name can be used (throws RangeError otherwise). */
export function checkZone(zone: string): void {
  zoneOffsetMs(zone, 0);
}
