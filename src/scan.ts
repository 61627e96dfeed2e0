// The quote-aware record-boundary scanner: cuts a CSV byte stream into sub-batches of at most `batchSize`
// records without parsing fields. A newline inside quotes never ends a record. Each sub-batch remembers its byte
// range and the physical line its first record starts on, which is how COPY's `line N` is mapped back to the file.
// Pure: bytes in, ranges out. It jumps between quote and newline bytes with indexOf, each byte searched once per
// kind (npm run bench:micro has the figures).

export interface ScanOptions {
  /** the quote byte, usually `"` */
  quote: number;
  /** the escape byte inside quotes; equal to quote for RFC 4180 doubling */
  escape: number;
  /** records per sub-batch */
  batchSize: number;
  /** the first record is a header: reported apart, not counted */
  header: boolean;
  /** bytes to skip at the very start (a BOM) */
  skipBytes?: number;
  /** the physical line the bytes start on (default 1): lines reported count from it */
  firstLine?: number;
}

export interface ByteRange {
  start: number;
  end: number;
}

export interface SubBatchRange extends ByteRange {
  index: number;
  /** physical line (1-based) on which the sub-batch's first record starts */
  firstLine: number;
  records: number;
}

export interface ScanResult {
  header?: ByteRange;
  batches: SubBatchRange[];
  records: number;
  /** total bytes seen (decompressed) */
  bytes: number;
}

export class CsvScanError extends Error {
  readonly line: number;
  constructor(message: string, line: number) {
    super(message);
    this.name = 'CsvScanError';
    this.line = line;
  }
}

const NL = 10;
const CR = 13;

export class RecordScanner {
  private readonly quote: number;
  private readonly escape: number;
  private readonly batchSize: number;
  private wantHeader: boolean;
  private skip: number;

  private base = 0; // absolute offset of the current chunk
  private inQuote = false;
  private pendingEscape = false;
  private line = 1; // physical line of the current position
  private recordStartLine = 1;
  private recordOpen = false; // bytes seen since the last record end
  private batchStart = 0;
  private batchFirstLine = 1;
  private batchRecords = 0;
  private total = 0;
  private readonly batches: SubBatchRange[] = [];
  private header: ByteRange | undefined;

  constructor(opts: ScanOptions) {
    if (opts.batchSize < 1) throw new RangeError('batchSize must be at least 1');
    this.quote = opts.quote;
    this.escape = opts.escape;
    this.batchSize = opts.batchSize;
    this.wantHeader = opts.header;
    this.skip = opts.skipBytes ?? 0;
    this.batchStart = this.skip;
    this.line = this.recordStartLine = this.batchFirstLine = opts.firstLine ?? 1;
  }

  // Per chunk: the next quote, newline and escape at or after the position last searched from (-2: not searched,
  // -1: none left in the chunk). Each byte is searched once per kind, so the scan is linear in the chunk however
  // many quoted fields a record has (searching afresh for the newline at every quote was quadratic in the record).
  private chunk: Uint8Array = new Uint8Array(0);
  private q = -2;
  private nl = -2;
  private esc = -2;

  private nextQuote(from: number): number {
    if (this.q !== -1 && this.q < from) this.q = this.chunk.indexOf(this.quote, from);
    return this.q;
  }

  private nextNl(from: number): number {
    if (this.nl !== -1 && this.nl < from) this.nl = this.chunk.indexOf(NL, from);
    return this.nl;
  }

  private nextEscape(from: number): number {
    if (this.esc !== -1 && this.esc < from) this.esc = this.chunk.indexOf(this.escape, from);
    return this.esc;
  }

  push(chunk: Uint8Array): void {
    let i = 0;
    const n = chunk.length;
    if (this.skip > this.base) i = Math.min(n, this.skip - this.base);
    this.chunk = chunk;
    this.q = this.nl = this.esc = -2;
    while (i < n) {
      if (this.inQuote) {
        i = this.scanQuoted(chunk, i);
        continue;
      }
      this.recordOpen = true;
      const q = this.nextQuote(i);
      const nl = this.nextNl(i);
      if (q !== -1 && (nl === -1 || q < nl)) {
        this.inQuote = true;
        i = q + 1;
        continue;
      }
      if (nl === -1) break;
      this.endRecord(this.base + nl + 1);
      i = nl + 1;
    }
    this.base += n;
    this.chunk = new Uint8Array(0);
  }

  /** Inside quotes: find the closing quote, counting the newlines passed. Returns the next index to look at. */
  private scanQuoted(chunk: Uint8Array, from: number): number {
    let i = from;
    const n = chunk.length;
    if (this.pendingEscape) {
      if (chunk[i] === NL) this.line++;
      this.pendingEscape = false;
      i++;
    }
    const distinctEscape = this.escape !== this.quote;
    for (;;) {
      const q = this.nextQuote(i);
      let e = distinctEscape ? this.nextEscape(i) : -1;
      if (e !== -1 && q !== -1 && q < e) e = -1;
      const stop = e !== -1 ? e : q;
      const limit = stop === -1 ? n : stop;
      for (let p = this.nextNl(i); p !== -1 && p < limit; p = this.nextNl(p + 1)) this.line++;
      if (stop === -1) return n;
      if (e !== -1) {
        if (e + 1 >= n) {
          this.pendingEscape = true;
          return n;
        }
        if (chunk[e + 1] === NL) this.line++;
        i = e + 2;
        continue;
      }
      this.inQuote = false;
      return q + 1;
    }
  }

  private endRecord(end: number): void {
    this.line++;
    this.recordOpen = false;
    if (this.wantHeader) {
      this.wantHeader = false;
      this.header = { start: this.batchStart, end };
      this.batchStart = end;
      this.batchFirstLine = this.line;
      this.recordStartLine = this.line;
      return;
    }
    this.recordStartLine = this.line;
    this.total++;
    if (++this.batchRecords === this.batchSize) this.flush(end);
  }

  private flush(end: number): void {
    this.batches.push({
      index: this.batches.length,
      start: this.batchStart,
      end,
      firstLine: this.batchFirstLine,
      records: this.batchRecords,
    });
    this.batchStart = end;
    this.batchFirstLine = this.line;
    this.batchRecords = 0;
  }

  /** The header record's range once it has been seen. */
  headerRange(): ByteRange | undefined {
    return this.header;
  }

  /** The sub-batches cut so far, without ending the input (a sample may stop inside a quoted field). */
  completed(): readonly SubBatchRange[] {
    return this.batches;
  }

  finish(): ScanResult {
    if (this.inQuote || this.pendingEscape) {
      throw new CsvScanError(
        `unterminated quoted field in the record starting at line ${this.recordStartLine}`,
        this.recordStartLine,
      );
    }
    // A last record without a trailing newline.
    if (this.recordOpen && this.base > this.batchStart) this.endRecord(this.base);
    if (this.batchRecords > 0) this.flush(this.base);
    return { header: this.header, batches: this.batches, records: this.total, bytes: this.base };
  }
}

/** Newline bytes in buf[start, end): physical lines passed. */
export function newlinesIn(buf: Uint8Array, start = 0, end = buf.length): number {
  return countByte(buf, NL, start, end);
}

/** Scans a whole buffer at once (tests, diagnostics). */
export function scanBuffer(buf: Uint8Array, opts: ScanOptions): ScanResult {
  const s = new RecordScanner(opts);
  s.push(buf);
  return s.finish();
}

/** Finds the record COPY (CSV) means by `line N` in the buffer and returns the line it starts on, its ordinal
 * (0-based) and its bytes' range. PostgreSQL counts one line per record plus the line breaks inside its quoted
 * fields, by their '\n' once the first record has ended with a bare '\n', by their '\r' otherwise (so the first
 * record's '\n's, and all of a CRLF file's lone '\n's, go uncounted); and it names a record by its last line. */
export function recordAtLine(
  buf: Uint8Array,
  line: number,
  opts: Pick<ScanOptions, 'quote' | 'escape'>,
): { firstLine: number; ordinal: number; start: number; end: number } | undefined {
  if (line < 1) return undefined;
  const { batches } = scanBuffer(buf, { ...opts, batchSize: 1, header: false });
  let lfEnded: boolean | undefined; // the first record ended with a bare '\n'
  let counted = 0;
  for (let k = 0; k < batches.length; k++) {
    const b = batches[k]!;
    const lf = b.end > b.start && buf[b.end - 1] === NL;
    const crlf = lf && b.end - 2 >= b.start && buf[b.end - 2] === CR;
    const counts = lfEnded === true ? NL : CR;
    // the record's breaks of that kind, its own ending's aside
    counted += countByte(buf, counts, b.start, b.end) - (counts === NL ? (lf ? 1 : 0) : crlf ? 1 : 0);
    lfEnded ??= lf ? !crlf : undefined;
    if (k + 1 + counted >= line) return { firstLine: b.firstLine, ordinal: k, start: b.start, end: b.end };
  }
  return undefined;
}

function countByte(buf: Uint8Array, byte: number, start: number, end: number): number {
  let n = 0;
  for (let i = buf.indexOf(byte, start); i !== -1 && i < end; i = buf.indexOf(byte, i + 1)) n++;
  return n;
}

/** The record with 0-based ordinal `ordinal` in the buffer. */
export function recordAtOrdinal(
  buf: Uint8Array,
  ordinal: number,
  opts: Pick<ScanOptions, 'quote' | 'escape'>,
): { firstLine: number; ordinal: number; start: number; end: number } | undefined {
  const b = scanBuffer(buf, { ...opts, batchSize: 1, header: false }).batches[ordinal];
  return b && { firstLine: b.firstLine, ordinal, start: b.start, end: b.end };
}
