// CSV records in, PostgreSQL's COPY BINARY out: one sub-batch at a time, in a worker. The server parses binary
// about 2x faster than CSV (measured: 4.5 s against 8.5 s for the bench's 1,000,000 rows), and on a machine whose
// cores the server and the loader share, the parse moves to the loader's worker, which runs alongside.
// Exactness first: a value is converted only when its text has one meaning PostgreSQL's own input function would
// give it whatever the session's settings (ISO dates, a timestamptz with its offset, plain decimals, ...). Anything
// else (a field the converter does not take, a record with too few fields, an unusual line ending) gives up on the
// sub-batch, which then goes as its CSV bytes: the server parses it and reports its errors as it always has.
// Pure: bytes in, bytes out.
import { Kind, KIND_NAMES } from './types.js';
import { keyRange, type KeyField, type KeyRange } from '../keyrange.js';
import { COPY_SIGNATURE, Writer, viewOf } from '../parquet/writer.js';
import {
  writeBool,
  writeDate,
  writeFloat8,
  writeInt,
  writeNumeric,
  writeTimestamp,
  writeUuid,
} from './values.js';

export interface CsvBinaryOptions {
  delimiter: number;
  quote: number;
  escape: number;
  /** the NULL string's bytes (an unquoted field equal to it is NULL) */
  nullBytes: Uint8Array;
  /** one per field of a record, in file order */
  kinds: Kind[];
  /** the session's TimeZone is UTC: a timestamptz without an offset is UTC (else such a value is the server's) */
  utcSession?: boolean;
  /** staging: each tuple ends with two more fields, this int4 (the sub-batch number) and the record's int8 ordinal
   * in the sub-batch (the staging table's batch and ord columns, src/merge.ts), so the server evaluates no column
   * default per row */
  tag?: number;
  /** a one-column integer key's field: finish() also reads the sub-batch's key range (`keys`, src/keyrange.ts) */
  key?: KeyField;
}

export type CsvBinaryOutcome =
  | {
      ok: true;
      data: Uint8Array;
      rows: number;
      keys?: KeyRange;
      /** from a worker: the bytes are the first `shared` of the task's shared buffer (`into`), not in `data`
       * (empty) until the main thread views them there (src/csvbin/source.ts, received()) */
      shared?: number;
    }
  /** not converted: `record` is 0-based in the sub-batch, `column` 0-based in the record (-1: the record) */
  | { ok: false; record: number; column: number; reason: string };

const NL = 10;
const CR = 13;
const NL_WORD = 0x0a0a0a0a;
const CR_WORD = 0x0d0d0d0d;
const NO_BYTES = viewOf(new Uint8Array(0));

// The word tests live here, beside their callers: moved to a module of their own (and the value writers' dispatch to
// values.ts), the conversion took 2 to 5% more instructions (callgrind), so this file stays past the usual size.

/** Whether a 32-bit word holds a zero byte (exact: the lowest zero byte always sets its high bit). */
function hasZero(v: number): boolean {
  return ((v - 0x01010101) & ~v & 0x80808080) !== 0;
}

/** Whether a word holds a byte below k's (k: a byte value up to 128 in each byte of a word; exact in the same way). */
function hasBelow(v: number, k: number): boolean {
  return ((v - k) & ~v & 0x80808080) !== 0;
}

/** Whether none of a word's bytes may end an unquoted field: none below `below` (when it is not -1), else none is
 * the delimiter, the quote, CR or LF (dw, qw: those bytes in each byte of a word). */
function noStop(v: number, below: number, dw: number, qw: number): boolean {
  if (below !== -1) return !hasBelow(v, below);
  return !hasZero(v ^ dw) && !hasZero(v ^ qw) && !hasZero(v ^ NL_WORD) && !hasZero(v ^ CR_WORD);
}

/** The output buffer's first size for `n` input bytes. */
export function outSize(n: number): number {
  return Math.ceil(n * 1.1);
}

class GiveUp extends Error {
  constructor(
    readonly column: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}

/** What more() did. `at`: where the next record starts (rows encoded up to there); `more`: the record at `at` is
 * not wholly in the bytes given, call again with more; `gaveUp`: the record at `at` cannot be converted. */
export type Step =
  | { kind: 'rows'; at: number }
  | { kind: 'more'; at: number }
  | { kind: 'gaveUp'; at: number; record: number; column: number; reason: string };

export class CsvBinaryEncoder {
  private o = new Writer(1024);
  private scratch = Buffer.allocUnsafe(1 << 12);
  private scratchView = viewOf(this.scratch);
  /** the bytes being converted, as a DataView: plain bytes are tested and copied 4 at a time (words) */
  private bv = NO_BYTES;
  private readonly opts: CsvBinaryOptions;
  /** bytes that end an unquoted field (or must not be in one) */
  private readonly stop = new Uint8Array(256);
  /** the largest stop byte + 1, in each byte of a word, when the stop bytes are all below '0' (a comma or tab
   * delimiter): a word none of whose bytes is below it holds none (one test; digits, letters, '-', '.', ':' are
   * above); else -1, and a word is tested for each stop byte (a '|' or ';' delimiter: digits would be below it) */
  private readonly belowStop: number;
  private readonly delimiterWord: number;
  /** the quote, the escape and a newline in each byte of a word: what ends a run of plain bytes in a quoted field */
  private readonly quoteWord: number;
  private readonly escapeWord: number;
  /** where the next record starts */
  private at = 0;
  /** the furthest byte the record's parse looked at: a give-up decided at the bytes' end may be a cut record */
  private far = 0;
  /** the line ending of the sub-batch's first record: COPY takes it for all */
  private crlf: boolean | undefined;
  /** rows of the sub-batch so far */
  rows = 0;
  /** newlines inside the sub-batch's quoted fields so far (its physical lines = rows + this, line endings aside) */
  newlines = 0;
  /** after finish(), with CsvBinaryOptions.key: the sub-batch's key range (undefined: no row, or a NULL key) */
  keys: KeyRange | undefined;

  constructor(opts: CsvBinaryOptions) {
    this.opts = opts;
    this.stop[NL] = this.stop[CR] = this.stop[opts.delimiter] = this.stop[opts.quote] = 1;
    const maxStop = Math.max(NL, CR, opts.delimiter, opts.quote);
    this.belowStop = maxStop < 48 ? Math.imul(maxStop + 1, 0x01010101) : -1;
    this.delimiterWord = Math.imul(opts.delimiter, 0x01010101);
    this.quoteWord = Math.imul(opts.quote, 0x01010101);
    this.escapeWord = Math.imul(opts.escape, 0x01010101);
  }

  /** Converts the records of `buf` (whole records, no header). The bytes come back in a buffer of their own
   * (transferable): about `buf`'s size for typical data, room for 10% more before it grows. */
  encode(buf: Buffer, into?: ArrayBufferLike): CsvBinaryOutcome {
    this.begin(outSize(buf.length), into);
    const step = this.more(buf, 0, buf.length, Number.POSITIVE_INFINITY, true);
    if (step.kind === 'gaveUp') {
      this.bv = NO_BYTES;
      return { ok: false, record: step.record, column: step.column, reason: step.reason };
    }
    return { ok: true, data: this.finish(), rows: this.rows, keys: this.keys };
  }

  /** Starts a sub-batch: its output in a buffer of `size` bytes (grown as needed), or in `into` when that holds it. */
  begin(size: number, into?: ArrayBufferLike): void {
    const o = (this.o = new Writer(Math.max(1024, size), into));
    this.crlf = undefined;
    this.rows = 0;
    this.newlines = 0;
    for (const b of COPY_SIGNATURE) o.buf[o.pos++] = b;
    o.i32(0); // flags
    o.i32(0); // header extension length
  }

  /** Converts the records of `buf` from `from` on, up to `n`, until the sub-batch holds `max` rows. Unless `final`
   * (the input ends at `n`), a record that reaches `n` may be cut: it is left for the next call, with more bytes. */
  more(buf: Buffer, from: number, n: number, max: number, final: boolean): Step {
    const b = n === buf.length ? buf : buf.subarray(0, n);
    this.bv = viewOf(b);
    const o = this.o;
    const tag = this.opts.tag;
    this.at = from;
    while (this.at < n && this.rows < max) {
      const start = this.at;
      const pos = o.pos;
      const newlines = this.newlines;
      let whole: boolean;
      try {
        whole = this.record(b);
      } catch (e) {
        if (!(e instanceof GiveUp)) throw e;
        o.pos = pos;
        this.newlines = newlines;
        this.at = start;
        if (!final && this.far >= n - 1) return { kind: 'more', at: start };
        return { kind: 'gaveUp', at: start, record: this.rows, column: e.column, reason: e.reason };
      }
      if (!whole && !final) {
        o.pos = pos;
        this.newlines = newlines;
        this.at = start;
        return { kind: 'more', at: start };
      }
      if (tag !== undefined) {
        o.ensure(20);
        o.i32(4);
        o.i32(tag);
        o.i32(8);
        o.i64n(this.rows);
      }
      this.rows++;
    }
    return this.at < n || final || this.rows >= max
      ? { kind: 'rows', at: this.at }
      : { kind: 'more', at: this.at };
  }

  /** Ends the sub-batch: its COPY BINARY bytes. */
  finish(): Uint8Array {
    this.bv = NO_BYTES; // the input is not held after its sub-batch
    const o = this.o;
    o.ensure(2);
    o.i16(0xffff);
    const data = new Uint8Array(o.buf.buffer, o.buf.byteOffset, o.pos);
    this.o = new Writer(1024);
    this.keys = this.opts.key && keyRange(data, this.opts.key);
    return data;
  }

  /** One record from `this.at`; false when it ended with the bytes, not with a line ending. */
  private record(b: Buffer): boolean {
    const { kinds, delimiter: delim, quote } = this.opts;
    const o = this.o;
    const n = b.length;
    const cols = kinds.length;
    o.i16(this.opts.tag === undefined ? cols : cols + 2);
    let i = this.at;
    let whole = false;
    for (let c = 0; c < cols; c++) {
      const kind = kinds[c]!;
      if (i < n && b[i] === quote) {
        i = this.quoted(b, i, kind, c);
      } else if (kind <= Kind.Jsonb) {
        i = this.unquotedText(b, i, kind, c);
      } else {
        const fs = i;
        i = this.fieldEnd(b, i);
        if (this.unquotedNull(b, fs, i, c)) o.i32(-1);
        else this.value(kind, b, fs, i, c);
      }
      // what follows the field: the delimiter (more fields to come), or the record's end
      if (c < cols - 1) {
        if (i >= n || b[i] !== delim) throw new GiveUp(-1, 'fewer fields than columns');
        i++;
      } else if (i < n) {
        const x = b[i];
        if (x === NL) {
          if (this.crlf === true) throw new GiveUp(-1, 'mixed line endings');
          this.crlf = false;
          i++;
        } else if (x === CR) {
          this.far = i + 1;
          if (b[i + 1] !== NL || this.crlf === false) throw new GiveUp(-1, 'a carriage return');
          this.crlf = true;
          i += 2;
        } else if (x === delim) {
          throw new GiveUp(-1, 'more fields than columns');
        } else {
          throw new GiveUp(c, 'bytes after a closing quote');
        }
        whole = true;
      }
    }
    this.at = i;
    return whole;
  }

  /** A quoted field from its opening quote at `i`; returns the index after its closing quote. One pass copies the
   * bytes unescaped: text straight into the output (its length patched after), other types through `scratch`.
   * A JavaScript loop: fields are short, and a native indexOf per quote costs more. Plain bytes go a word of four
   * at a time (one DataView read, a test of all four for the quote, the escape and a newline, one write), the word
   * that holds one byte by byte. With the unquoted fields' words (fieldEnd, unquotedText), the bench's rows convert
   * in 0.84 of the instructions typed and 0.66 as text (callgrind: the count of 3 more passes over 35,000 rows);
   * a byte at a time, each byte's loop was a dozen loads and checks the JIT does not hoist. */
  private quoted(b: Buffer, i: number, kind: Kind, c: number): number {
    const { quote, escape } = this.opts;
    const n = b.length;
    const bv = this.bv;
    const qw = this.quoteWord;
    const ew = this.escapeWord;
    const text = kind === Kind.Text || kind === Kind.Json || kind === Kind.Jsonb;
    const o = this.o;
    let dst: Uint8Array;
    let dv: DataView;
    let w: number;
    let lenAt = 0;
    if (text) {
      o.ensure(5 + 256);
      lenAt = o.pos;
      w = lenAt + 4;
      dst = o.buf;
      dv = o.view;
      if (kind === Kind.Jsonb) dst[w++] = 1;
    } else {
      dst = this.scratch;
      dv = this.scratchView;
      w = 0;
    }
    let cap = dst.length - 1;
    let p = i + 1;
    const doubled = escape === quote; // RFC 4180's "" (the default): one byte fewer to look for
    for (;;) {
      // the run of plain bytes up to the next quote, escape or newline, as many as fit before the buffer grows:
      // words of four while none of their bytes is one, then byte by byte through the word that has one
      const lim = Math.min(n, p + cap - w);
      if (doubled) {
        for (let v = 0; p + 4 <= lim && !hasZero((v = bv.getInt32(p, true)) ^ qw) && !hasZero(v ^ NL_WORD);) {
          dv.setInt32(w, v, true);
          p += 4;
          w += 4;
        }
      } else {
        for (
          let v = 0;
          p + 4 <= lim &&
          !hasZero((v = bv.getInt32(p, true)) ^ qw) &&
          !hasZero(v ^ NL_WORD) &&
          !hasZero(v ^ ew);
        ) {
          dv.setInt32(w, v, true);
          p += 4;
          w += 4;
        }
      }
      const e = Math.min(lim, p + 4);
      if (doubled) {
        for (let x = b[p]; p < e && x !== quote && x !== NL; x = b[++p]) dst[w++] = x!;
      } else {
        for (let x = b[p]; p < e && x !== quote && x !== NL && x !== escape; x = b[++p]) dst[w++] = x!;
      }
      if (p >= n) {
        this.far = n;
        throw new GiveUp(c, 'unterminated quote');
      }
      if (p < e) {
        const x = b[p]!;
        if (x === escape && p + 1 < n && (b[p + 1] === quote || b[p + 1] === escape)) {
          dst[w++] = b[p + 1]!;
          p += 2;
        } else if (x === quote) {
          break;
        } else {
          if (x === NL) this.newlines++;
          dst[w++] = x;
          p++;
        }
      }
      if (w >= cap) {
        if (text) {
          o.pos = w;
          o.ensure(4096);
          dst = o.buf;
          dv = o.view;
        } else {
          const bigger = Buffer.allocUnsafe(2 * dst.length);
          bigger.set(dst.subarray(0, w));
          dst = this.scratch = bigger;
          dv = this.scratchView = viewOf(bigger);
        }
        cap = dst.length - 1;
      }
    }
    this.far = p;
    if (!text) {
      this.value(kind, dst, 0, w, c);
      return p + 1;
    }
    dv.setInt32(lenAt, w - lenAt - 4); // the length, now known
    o.pos = w;
    return p + 1;
  }

  /** Where the unquoted field at `i` ends: the index of its first stop byte (delimiter, quote, CR, LF), or the
   * bytes' end. Four bytes at a time while none is below the largest stop byte (digits, letters, '-', '.', ':' are
   * above a comma), then byte by byte through the word that has one. */
  private fieldEnd(b: Buffer, i: number): number {
    const n = b.length;
    const bv = this.bv;
    const stop = this.stop;
    const below = this.belowStop;
    const dw = this.delimiterWord;
    const qw = this.quoteWord;
    for (;;) {
      while (i + 4 <= n && noStop(bv.getInt32(i, true), below, dw, qw)) i += 4;
      const e = Math.min(n, i + 4);
      for (; i < e; i++) if (stop[b[i]!] !== 0) return i;
      if (i >= n) return n;
    }
  }

  /** An unquoted text (json, jsonb) field from `i`, copied as it is scanned (one pass over its bytes, not a scan
   * for its end and a copy after), words at a time as fieldEnd() scans them; returns the index of the byte that
   * ends it. */
  private unquotedText(b: Buffer, i: number, kind: Kind, c: number): number {
    const o = this.o;
    const n = b.length;
    const bv = this.bv;
    const stop = this.stop;
    const below = this.belowStop;
    const dw = this.delimiterWord;
    const qw = this.quoteWord;
    const fs = i;
    o.ensure(5 + 64);
    const lenAt = o.pos;
    let w = lenAt + 4;
    let dst = o.buf;
    let dv = o.view;
    if (kind === Kind.Jsonb) dst[w++] = 1;
    for (;;) {
      // as many bytes as fit before the buffer grows
      const lim = Math.min(n, i + dst.length - w);
      for (let v = 0; i + 4 <= lim && noStop((v = bv.getInt32(i, true)), below, dw, qw); i += 4, w += 4)
        dv.setInt32(w, v, true);
      const e = Math.min(lim, i + 4);
      for (; i < e; i++) {
        const x = b[i]!;
        if (stop[x] !== 0) break;
        dst[w++] = x;
      }
      if (i < e) break; // a stop byte
      if (i < lim) continue; // a word with a byte below the largest stop byte, not one of them
      if (lim === n) break; // the bytes' end
      o.pos = w;
      o.ensure(4096);
      dst = o.buf;
      dv = o.view;
    }
    if (this.unquotedNull(b, fs, i, c)) {
      o.pos = lenAt;
      o.i32(-1);
      return i;
    }
    dv.setInt32(lenAt, w - lenAt - 4); // the length, now known
    o.pos = w;
    return i;
  }

  /** The checks that end any unquoted field [fs, i), text or typed: no quote may follow it, and a lone `\.` is
   * COPY's end-of-data marker; true when the field is the NULL string. */
  private unquotedNull(b: Buffer, fs: number, i: number, c: number): boolean {
    this.far = i;
    if (i < b.length && b[i] === this.opts.quote) throw new GiveUp(c, 'a quote inside an unquoted field');
    const nb = this.opts.nullBytes;
    if (nb.length === 0 ? i === fs : this.isNull(b, fs, i)) return true;
    if (this.opts.kinds.length === 1 && i - fs === 2 && b[fs] === 0x5c && b[fs + 1] === 0x2e)
      throw new GiveUp(c, 'an end-of-data marker');
    return false;
  }

  private isNull(src: Uint8Array, fs: number, fe: number): boolean {
    const nb = this.opts.nullBytes;
    if (fe - fs !== nb.length) return false;
    for (let k = 0; k < nb.length; k++) if (src[fs + k] !== nb[k]) return false;
    return true;
  }

  /** A typed field's value (text, json and jsonb are copied by quoted() and unquotedText(): one here gives up). */
  private value(kind: Kind, b: Uint8Array, fs: number, fe: number, c: number): void {
    const o = this.o;
    let ok = false;
    switch (kind) {
      case Kind.Int2:
        ok = writeInt(o, b, fs, fe, 2);
        break;
      case Kind.Int4:
        ok = writeInt(o, b, fs, fe, 4);
        break;
      case Kind.Int8:
        ok = writeInt(o, b, fs, fe, 8);
        break;
      case Kind.Float8:
        ok = writeFloat8(o, b, fs, fe);
        break;
      case Kind.Numeric:
        ok = writeNumeric(o, b, fs, fe);
        break;
      case Kind.Bool:
        ok = writeBool(o, b, fs, fe);
        break;
      case Kind.Date:
        ok = writeDate(o, b, fs, fe);
        break;
      case Kind.Timestamptz:
        ok = writeTimestamp(o, b, fs, fe, true, this.opts.utcSession === true);
        break;
      case Kind.Timestamp:
        ok = writeTimestamp(o, b, fs, fe, false, false);
        break;
      case Kind.Uuid:
        ok = writeUuid(o, b, fs, fe);
        break;
    }
    if (!ok) throw new GiveUp(c, `not a value the converter takes for ${KIND_NAMES[kind]}`);
  }
}
