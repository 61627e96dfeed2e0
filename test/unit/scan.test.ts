import { describe, it, expect } from 'vitest';
import {
  CsvScanError,
  RecordScanner,
  recordAtLine,
  recordAtOrdinal,
  scanBuffer,
  type ScanOptions,
  type ScanResult,
} from '../../src/scan.js';

const Q = '"'.charCodeAt(0);
const BS = '\\'.charCodeAt(0);

function opts(o: Partial<ScanOptions> = {}): ScanOptions {
  return { quote: Q, escape: Q, batchSize: 1000, header: false, ...o };
}

const bytes = (s: string): Buffer => Buffer.from(s, 'utf8');

/** The records' texts, cut by batchSize 1. */
function records(text: string, o: Partial<ScanOptions> = {}): string[] {
  const buf = bytes(text);
  return scanBuffer(buf, opts({ ...o, batchSize: 1 })).batches.map((b) =>
    buf.subarray(b.start, b.end).toString('utf8'),
  );
}

function scanChunks(buf: Uint8Array, cuts: number[], o: ScanOptions): ScanResult {
  const s = new RecordScanner(o);
  let prev = 0;
  for (const c of [...cuts, buf.length]) {
    s.push(buf.subarray(prev, c));
    prev = c;
  }
  return s.finish();
}

/** Same input split at every single byte position, and in one-byte chunks: the same result as one push. */
function expectSplitInvariant(text: string | Buffer, o: ScanOptions): ScanResult {
  const buf = typeof text === 'string' ? bytes(text) : text;
  const whole = scanBuffer(buf, o);
  for (let cut = 0; cut <= buf.length; cut++) {
    expect(scanChunks(buf, [cut], o), `split at byte ${cut}`).toEqual(whole);
  }
  const every = Array.from({ length: buf.length }, (_, k) => k);
  expect(scanChunks(buf, every, o), 'one-byte chunks').toEqual(whole);
  return whole;
}

describe('scanBuffer: record boundaries', () => {
  it('cuts plain records at newlines', () => {
    expect(records('a,b\nc,d\ne,f\n')).toEqual(['a,b\n', 'c,d\n', 'e,f\n']);
    const r = scanBuffer(bytes('a,b\nc,d\ne,f\n'), opts());
    expect(r.records).toBe(3);
    expect(r.bytes).toBe(12);
    expect(r.header).toBeUndefined();
  });

  it('never splits a record at a newline inside quotes', () => {
    const text = '1,"multi\nline\nvalue",x\n2,"one",y\n';
    expect(records(text)).toEqual(['1,"multi\nline\nvalue",x\n', '2,"one",y\n']);
    expect(scanBuffer(bytes(text), opts()).records).toBe(2);
  });

  it('treats doubled quotes as an escaped quote that does not close the field', () => {
    const text = '1,"he said ""hi\nthere""",x\n2,b\n';
    expect(records(text)).toEqual(['1,"he said ""hi\nthere""",x\n', '2,b\n']);
  });

  it('handles a field that is only doubled quotes', () => {
    expect(records('"""",a\n"",b\n')).toEqual(['"""",a\n', '"",b\n']);
  });

  it('with a distinct escape byte, an escaped quote does not close the field', () => {
    const text = '1,"a \\" still\ninside",x\n2,b\n';
    expect(records(text, { escape: BS })).toEqual(['1,"a \\" still\ninside",x\n', '2,b\n']);
    // With RFC 4180 rules the backslash is ordinary: the quote after it closes the field, the newline ends the
    // record, and the quote in `inside"` then opens a field that never closes.
    expect(() => records(text)).toThrow(CsvScanError);
  });

  it('with a distinct escape byte, an escaped escape leaves the next quote closing', () => {
    const text = '1,"a\\\\",x\n2,b\n';
    expect(records(text, { escape: BS })).toEqual(['1,"a\\\\",x\n', '2,b\n']);
  });

  it('with a distinct escape byte, an escaped newline stays inside the field and is counted as a line', () => {
    const text = '1,"a\\\nb",x\n2,b\n';
    const r = scanBuffer(bytes(text), opts({ escape: BS, batchSize: 1 }));
    expect(r.records).toBe(2);
    expect(r.batches.map((b) => b.firstLine)).toEqual([1, 3]);
  });

  it('ignores the escape byte outside quotes', () => {
    expect(records('a\\\nb\n', { escape: BS })).toEqual(['a\\\n', 'b\n']);
  });

  it('counts a last record without a trailing newline', () => {
    const r = scanBuffer(bytes('a\nb'), opts());
    expect(r.records).toBe(2);
    expect(r.batches).toEqual([{ index: 0, start: 0, end: 3, firstLine: 1, records: 2 }]);
    expect(records('a\n"b\nc"')).toEqual(['a\n', '"b\nc"']);
  });

  it('keeps CR with its record on CRLF input', () => {
    const text = 'a,b\r\n"x\r\ny",z\r\nlast\r\n';
    expect(records(text)).toEqual(['a,b\r\n', '"x\r\ny",z\r\n', 'last\r\n']);
    const r = scanBuffer(bytes(text), opts({ batchSize: 1 }));
    expect(r.batches.map((b) => b.firstLine)).toEqual([1, 2, 4]);
  });

  it('returns no batches and no records for empty input', () => {
    expect(scanBuffer(new Uint8Array(0), opts())).toEqual({
      header: undefined,
      batches: [],
      records: 0,
      bytes: 0,
    });
  });

  it('counts an empty line as a record, as COPY does', () => {
    expect(records('a\n\nb\n')).toEqual(['a\n', '\n', 'b\n']);
  });

  it('rejects a batchSize below 1', () => {
    expect(() => new RecordScanner(opts({ batchSize: 0 }))).toThrow(RangeError);
  });
});

describe('scanBuffer: header and skipBytes', () => {
  it('reports the header apart and does not count it', () => {
    const r = scanBuffer(bytes('id,name\n1,a\n2,b\n'), opts({ header: true }));
    expect(r.header).toEqual({ start: 0, end: 8 });
    expect(r.records).toBe(2);
    expect(r.batches).toEqual([{ index: 0, start: 8, end: 16, firstLine: 2, records: 2 }]);
  });

  it('a quoted multi-line header moves the first line of the data', () => {
    const r = scanBuffer(bytes('"i\nd",name\n1,a\n'), opts({ header: true }));
    expect(r.header).toEqual({ start: 0, end: 11 });
    expect(r.batches[0]).toMatchObject({ start: 11, firstLine: 3, records: 1 });
  });

  it('a header-only file has a header and no records', () => {
    const r = scanBuffer(bytes('id,name'), opts({ header: true }));
    expect(r.header).toEqual({ start: 0, end: 7 });
    expect(r.records).toBe(0);
    expect(r.batches).toEqual([]);
  });

  it('skips a BOM: the header starts after it', () => {
    const buf = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes('id\n1\n2\n')]);
    const r = scanBuffer(buf, opts({ header: true, skipBytes: 3 }));
    expect(r.header).toEqual({ start: 3, end: 6 });
    expect(r.batches).toEqual([{ index: 0, start: 6, end: 10, firstLine: 2, records: 2 }]);
    expect(r.bytes).toBe(10);
  });

  it('skips a BOM without a header: the first batch starts after it', () => {
    const buf = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes('1\n2\n')]);
    const r = scanBuffer(buf, opts({ skipBytes: 3 }));
    expect(r.batches).toEqual([{ index: 0, start: 3, end: 7, firstLine: 1, records: 2 }]);
  });

  it('skipped bytes are not scanned for quotes', () => {
    // A quote byte inside the skipped prefix must not open a quoted field.
    const r = scanBuffer(bytes('"""a\nb\n'), opts({ skipBytes: 3 }));
    expect(r.records).toBe(2);
  });

  it('a BOM-only file holds nothing', () => {
    const r = scanBuffer(Buffer.from([0xef, 0xbb, 0xbf]), opts({ header: true, skipBytes: 3 }));
    expect(r).toEqual({ header: undefined, batches: [], records: 0, bytes: 3 });
  });
});

describe('scanBuffer: batch cutting', () => {
  it('cuts batches of batchSize records with contiguous byte ranges', () => {
    const text = Array.from({ length: 7 }, (_, k) => `${k}\n`).join('');
    const r = scanBuffer(bytes(text), opts({ batchSize: 3 }));
    expect(r.records).toBe(7);
    expect(r.batches).toEqual([
      { index: 0, start: 0, end: 6, firstLine: 1, records: 3 },
      { index: 1, start: 6, end: 12, firstLine: 4, records: 3 },
      { index: 2, start: 12, end: 14, firstLine: 7, records: 1 },
    ]);
  });

  it('an exact multiple of batchSize leaves no empty batch', () => {
    const r = scanBuffer(bytes('a\nb\nc\nd\n'), opts({ batchSize: 2 }));
    expect(r.batches.map((b) => b.records)).toEqual([2, 2]);
  });

  it('firstLine counts physical lines, including those inside quoted fields', () => {
    const text = 'h\n"a\nb\nc",1\n2\n"x\ny"\n3\n4\n';
    const r = scanBuffer(bytes(text), opts({ header: true, batchSize: 2 }));
    // header line 1; records start on lines 2 ("a..c" spans 2-4), 5, 6 ("x y" spans 6-7), 8, 9
    expect(r.batches.map((b) => [b.firstLine, b.records])).toEqual([
      [2, 2],
      [6, 2],
      [9, 1],
    ]);
    const buf = bytes(text);
    expect(r.batches.map((b) => buf.subarray(b.start, b.end).toString())).toEqual([
      '"a\nb\nc",1\n2\n',
      '"x\ny"\n3\n',
      '4\n',
    ]);
  });

  it('batch ranges cover the data exactly', () => {
    const text = 'h\n' + Array.from({ length: 25 }, (_, k) => `${k},"v\n${k}"\n`).join('');
    const r = scanBuffer(bytes(text), opts({ header: true, batchSize: 4 }));
    expect(r.records).toBe(25);
    expect(r.batches).toHaveLength(7);
    expect(r.batches[0]!.start).toBe(r.header!.end);
    for (let k = 1; k < r.batches.length; k++) expect(r.batches[k]!.start).toBe(r.batches[k - 1]!.end);
    expect(r.batches.at(-1)!.end).toBe(bytes(text).length);
    expect(r.batches.map((b) => b.index)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(r.batches.map((b) => b.firstLine)).toEqual([2, 10, 18, 26, 34, 42, 50]);
  });
});

describe('RecordScanner: chunk boundaries anywhere', () => {
  const cases: [string, string, Partial<ScanOptions>][] = [
    ['plain', 'a,b\nc,d\ne,f', {}],
    ['quoted newlines and doubled quotes', 'id,v\n1,"x\n""y""\nz"\n2,""""\n3,"a,b"\n', { header: true }],
    ['CRLF', 'id,v\r\n1,"x\r\ny"\r\n2,z\r\n', { header: true, batchSize: 1 }],
    ['distinct escape', '1,"a\\"b\nc"\n2,"d\\\\"\n3,"e\\\nf"\n4,g', { escape: BS, batchSize: 2 }],
    ['escape at the end of a field', '"\\\\"\n"\\""\n', { escape: BS, batchSize: 1 }],
    ['batches of 2', '1\n"2\n2"\n3\n4\n"5"\n6', { batchSize: 2 }],
  ];
  for (const [name, text, o] of cases) {
    it(`gives the same result for every split: ${name}`, () => {
      const whole = expectSplitInvariant(text, opts(o));
      expect(whole.records).toBeGreaterThan(0);
    });
  }

  it('gives the same result for every split with a BOM skipped', () => {
    const buf = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes('id\n1,"a\nb"\n2\n')]);
    const whole = expectSplitInvariant(buf, opts({ header: true, skipBytes: 3, batchSize: 1 }));
    expect(whole.header).toEqual({ start: 3, end: 6 });
    expect(whole.batches.map((b) => b.firstLine)).toEqual([2, 4]);
  });

  it('ignores empty chunks', () => {
    const s = new RecordScanner(opts());
    s.push(new Uint8Array(0));
    s.push(bytes('a\n"b'));
    s.push(new Uint8Array(0));
    s.push(bytes('"\n'));
    expect(s.finish().records).toBe(2);
  });
});

describe('unterminated quotes', () => {
  it('throws CsvScanError with the first line of the open record', () => {
    const text = 'a\nb\n"c\nd\ne';
    let caught: unknown;
    try {
      scanBuffer(bytes(text), opts());
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(CsvScanError);
    expect((caught as CsvScanError).line).toBe(3);
    expect((caught as CsvScanError).message).toContain('line 3');
  });

  it('counts lines inside earlier quoted records and after a header', () => {
    expect(() => scanBuffer(bytes('h\n"x\ny"\n1,"open'), opts({ header: true }))).toThrow(
      expect.objectContaining({ name: 'CsvScanError', line: 4 }),
    );
  });

  it('throws when the input ends right after an escape byte inside quotes', () => {
    expect(() => scanBuffer(bytes('1,"abc\\'), opts({ escape: BS }))).toThrow(CsvScanError);
  });

  it('throws the same error whatever the chunking', () => {
    const buf = bytes('a\n"b\n"\n"c\n\nd');
    for (let cut = 0; cut <= buf.length; cut++) {
      expect(() => scanChunks(buf, [cut], opts())).toThrow(expect.objectContaining({ line: 4 }));
    }
  });
});

describe('recordAtLine', () => {
  const buf = bytes('1,a\n2,"x\ny\nz"\n3,b\n"4\n",c\n');
  const qo = { quote: Q, escape: Q };

  it('maps a line inside a multi-line record to its first line', () => {
    expect(recordAtLine(buf, 1, qo)).toMatchObject({ firstLine: 1, ordinal: 0 });
    for (const line of [2, 3, 4])
      expect(recordAtLine(buf, line, qo)).toMatchObject({ firstLine: 2, ordinal: 1 });
    expect(recordAtLine(buf, 5, qo)).toMatchObject({ firstLine: 5, ordinal: 2 });
    expect(recordAtLine(buf, 7, qo)).toMatchObject({ firstLine: 6, ordinal: 3 });
  });

  it('returns the byte range of the record', () => {
    const r = recordAtLine(buf, 3, qo)!;
    expect(buf.subarray(r.start, r.end).toString()).toBe('2,"x\ny\nz"\n');
  });

  it('returns undefined before the first line', () => {
    expect(recordAtLine(buf, 0, qo)).toBeUndefined();
  });

  it('honours a distinct escape byte', () => {
    const b = bytes('1,a\n2,"a\\"\nb"\n3\n');
    expect(recordAtLine(b, 3, { quote: Q, escape: BS })).toMatchObject({ firstLine: 2, ordinal: 1 });
    expect(recordAtLine(b, 4, { quote: Q, escape: BS })).toMatchObject({ firstLine: 4, ordinal: 2 });
  });

  // PostgreSQL's count (CopyReadLineText): a quoted line break counts by its '\n' only once the first record has
  // ended with a bare '\n', else by its '\r'. Checked against the server by test/integration/csvbinary.test.ts.
  it("counts lines as COPY does: not the first record's quoted newlines, and a CRLF file's by their CR", () => {
    // the first record's two quoted newlines go uncounted: COPY calls the next record line 2
    const first = bytes('1,"a\nb\nc"\n2,x\n3,"y\nz"\n4,w\n');
    expect([2, 4, 5].map((l) => recordAtLine(first, l, qo)?.ordinal)).toEqual([1, 2, 3]);
    expect(recordAtLine(first, 2, qo)?.firstLine).toBe(4); // its own first line, as the file counts
    // CRLF: a quoted lone '\n' is never counted, a quoted '\r\n' is (by its CR), in the first record too
    const crlf = bytes('1,"a\r\nb"\r\n2,"c\nd"\r\n3,x\r\n');
    expect([2, 3, 4].map((l) => recordAtLine(crlf, l, qo)?.ordinal)).toEqual([0, 1, 2]);
    // LF file whose first record holds a quoted '\r\n': its CR counts
    const mixed = bytes('1,"a\r\nb"\n2,x\n');
    expect([2, 3].map((l) => recordAtLine(mixed, l, qo)?.ordinal)).toEqual([0, 1]);
  });
});

describe('recordAtOrdinal', () => {
  const buf = bytes('1,a\n2,"x\ny"\n3,b');
  const qo = { quote: Q, escape: Q };

  it('finds the record by its 0-based ordinal', () => {
    expect(recordAtOrdinal(buf, 0, qo)).toEqual({ firstLine: 1, ordinal: 0, start: 0, end: 4 });
    const r = recordAtOrdinal(buf, 1, qo)!;
    expect(r.firstLine).toBe(2);
    expect(buf.subarray(r.start, r.end).toString()).toBe('2,"x\ny"\n');
    expect(recordAtOrdinal(buf, 2, qo)).toEqual({ firstLine: 4, ordinal: 2, start: 12, end: 15 });
  });

  it('returns undefined past the last record', () => {
    expect(recordAtOrdinal(buf, 3, qo)).toBeUndefined();
  });
});

describe('RecordScanner.completed', () => {
  it('lists the batches cut so far without finishing, even inside an open quote', () => {
    const s = new RecordScanner(opts({ batchSize: 1 }));
    s.push(bytes('a\n"b\nc",d\n"e\nf'));
    expect(s.completed().map((b) => [b.start, b.end, b.firstLine])).toEqual([
      [0, 2, 1],
      [2, 10, 2],
    ]);
    expect(() => s.finish()).toThrow(expect.objectContaining({ line: 4 }));
  });
});
