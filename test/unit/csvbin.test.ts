// The CSV-to-binary converter's own decisions, without a server (test/integration/csvbinary.test.ts compares its
// output with the server's parse): the exact bytes of a few values, and every case where it gives up on a
// sub-batch so that the server parses the CSV instead.
import { describe, expect, it } from 'vitest';
import { CsvBinaryEncoder, type CsvBinaryOptions } from '../../src/csvbin/encode.js';
import { binaryOptions } from '../../src/csvbin/source.js';
import { Kind, kindOf } from '../../src/csvbin/types.js';

const opts = (kinds: Kind[], extra: Partial<CsvBinaryOptions> = {}): CsvBinaryOptions => ({
  delimiter: 0x2c,
  quote: 0x22,
  escape: 0x22,
  nullBytes: new Uint8Array(0),
  kinds,
  ...extra,
});

function encode(text: string, kinds: Kind[], extra: Partial<CsvBinaryOptions> = {}) {
  return new CsvBinaryEncoder(opts(kinds, extra)).encode(Buffer.from(text));
}

/** The tuples' bytes after the 19-byte header, before the 2-byte trailer, as hex. */
function tuples(text: string, kinds: Kind[]): string {
  const r = encode(text, kinds);
  if (!r.ok) throw new Error(`gave up: ${r.reason}`);
  const b = Buffer.from(r.data);
  expect(b.subarray(0, 11).toString('latin1')).toBe('PGCOPY\n\xff\r\n\0');
  expect(b.subarray(b.length - 2).toString('hex')).toBe('ffff');
  return b.subarray(19, b.length - 2).toString('hex');
}

describe('CsvBinaryEncoder', () => {
  it('writes field counts, lengths and values in network order; an unquoted empty field is NULL', () => {
    // 2 fields: int4 -2 and text "a""b" ; then 7 and NULL
    expect(tuples('-2,"a""b"\n7,\n', [Kind.Int4, Kind.Text])).toBe(
      '0002' + '00000004fffffffe' + '00000003' + '612262' + '0002' + '0000000400000007' + 'ffffffff',
    );
    // a quoted empty field is an empty string, not NULL
    expect(tuples('""\n', [Kind.Text])).toBe('0001' + '00000000');
    // bigint past 2^53, numeric 12.5 (digits 12 and 5000, weight 0, dscale 1), date 2000-01-02
    expect(tuples('9007199254740993,12.5,2000-01-02\n', [Kind.Int8, Kind.Numeric, Kind.Date])).toBe(
      '0003' +
        '00000008' +
        '0020000000000001' +
        '0000000c' +
        '0002' +
        '0000' +
        '0000' +
        '0001' +
        '000c' +
        '1388' +
        '00000004' +
        '00000001',
    );
    // timestamptz 2000-01-01T00:00:01+01:00 is -3599 s from the PostgreSQL epoch; uuid bytes; jsonb's version byte
    expect(tuples('2000-01-01T00:00:01+01:00\n', [Kind.Timestamptz])).toBe(
      '0001' + '00000008' + 'ffffffff297b9e40',
    );
    expect(tuples('A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11\n', [Kind.Uuid])).toBe(
      '0001' + '00000010' + 'a0eebc999c0b4ef8bb6d6bb9bd380a11',
    );
    expect(tuples('1\n', [Kind.Jsonb])).toBe('0001' + '00000002' + '0131');
  });

  it('staging: ends each tuple with the sub-batch number and the record ordinal when asked (tag)', () => {
    const r = encode('-2,a\n7,\n', [Kind.Int4, Kind.Text], { tag: 5 });
    if (!r.ok) throw new Error(r.reason);
    const trailer = (ord: string) => '00000004' + '00000005' + '00000008' + ord;
    expect(
      Buffer.from(r.data)
        .subarray(19, r.data.length - 2)
        .toString('hex'),
    ).toBe(
      '0004' +
        '00000004fffffffe' +
        '00000001' +
        '61' +
        trailer('0000000000000000') +
        '0004' +
        '0000000400000007' +
        'ffffffff' +
        trailer('0000000000000001'),
    );
  });

  it('reads a CRLF file and a last record without a line break', () => {
    const r = encode('1,a\r\n2,b', [Kind.Int4, Kind.Text]);
    expect(r.ok && r.rows).toBe(2);
  });

  it.each([
    ['fewer fields than columns', '1\n', [Kind.Int4, Kind.Text]],
    ['more fields than columns', '1,a,b\n', [Kind.Int4, Kind.Text]],
    ['a quote inside an unquoted field', 'a"b"\n', [Kind.Text]],
    ['bytes after a closing quote', '"a"b\n', [Kind.Text]],
    ['unterminated quote', '"abc\n', [Kind.Text]],
    ['mixed line endings', '1\r\n2\n', [Kind.Int4]],
    ['a carriage return', 'a\rb\n', [Kind.Text]],
    ['an end-of-data marker', '\\.\n', [Kind.Text]],
    ['integer', ' 1\n', [Kind.Int4]],
    ['integer', '2147483648\n', [Kind.Int4]],
    ['smallint', '32768\n', [Kind.Int2]],
    ['bigint', '9223372036854775808\n', [Kind.Int8]],
    ['double precision', '1e400\n', [Kind.Float8]],
    ['double precision', '1e-400\n', [Kind.Float8]],
    ['double precision', 'NaN\n', [Kind.Float8]],
    ['numeric', '1e5\n', [Kind.Numeric]],
    ['boolean', 'tr\n', [Kind.Bool]],
    ['date', '2021-02-29\n', [Kind.Date]],
    ['date', '0000-01-01\n', [Kind.Date]],
    ['timestamptz', '2020-01-01 24:00:00Z\n', [Kind.Timestamptz]],
    ['timestamp', '2020-01-01 00:00:00+01\n', [Kind.Timestamp]],
    ['timestamptz', '2020-01-01 00:00:00.1234567Z\n', [Kind.Timestamptz]],
    ['uuid', '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}\n', [Kind.Uuid]],
  ])('gives up on %s: %j', (reason, text, kinds) => {
    const r = encode(text, kinds);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toContain(reason);
  });

  it('copies quoted fields exactly: doubled quotes, backslash escapes, newlines, fields past the buffers', () => {
    /** the records' fields as strings (every column text), or why it gave up */
    const fields = (text: string, cols: number, extra: Partial<CsvBinaryOptions> = {}) => {
      const r = encode(text, Array<Kind>(cols).fill(Kind.Text), extra);
      if (!r.ok) return `gave up: ${r.reason}`;
      const b = Buffer.from(r.data);
      const out: string[][] = [];
      for (let p = 19; b.readInt16BE(p) !== -1;) {
        const n = b.readInt16BE(p);
        p += 2;
        const rec: string[] = [];
        for (let k = 0; k < n; k++, p += 4) {
          const len = b.readInt32BE(p);
          rec.push(b.toString('utf8', p + 4, p + 4 + len));
          p += len;
        }
        out.push(rec);
      }
      return out;
    };
    expect(fields('"a""b",x\n"one\ntwo","x""""y"\n"",""""\n', 2)).toEqual([
      ['a"b', 'x'],
      ['one\ntwo', 'x""y'],
      ['', '"'],
    ]);
    // with a backslash escape: \" and \\ are one byte; a backslash before anything else is itself
    expect(fields('"a\\"b","c\\\\d","e\\f","\\\n"\n', 4, { escape: 0x5c })).toEqual([
      ['a"b', 'c\\d', 'e\\f', '\\\n'],
    ]);
    expect(fields('"g""h"\n', 1, { escape: 0x5c })).toBe('gave up: bytes after a closing quote');
    // 10,001 bytes: the output grows (4 KB at a time) inside the field, at every offset of the doubled quote
    for (const at of [0, 255, 256, 4095, 4096, 4097, 9999]) {
      const long = 'x'.repeat(at) + '"' + 'y'.repeat(10_000 - at);
      expect(fields(`"${long.replace('"', '""')}",z\n`, 2)).toEqual([[long, 'z']]);
    }
    // a quoted int through the 4 KB scratch buffer, grown
    expect(tuples(`"${'0'.repeat(9000)}7"\n`, [Kind.Int4])).toBe('0001' + '00000004' + '00000007');
  });

  it.each([
    [',', '"', '"'],
    ['\t', '"', '\\'],
    ['|', '"', '"'],
    [';', "'", "'"],
  ])(
    'converts seeded random records exactly, delimiter %j quote %j escape %j (words of 4 bytes at every offset)',
    (delimiter, quote, escape) => {
      // Plain bytes are tested and copied a word of 4 at a time: every field boundary, quote, escape and newline
      // falls at each offset of a word somewhere here, and fields cross the output buffer's growth points.
      let seed = 0x2545f491;
      const rnd = (n: number): number => {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        return (seed >>> 8) % n;
      };
      const alphabet = [
        'a',
        'b',
        'Z',
        '0',
        '7',
        ' ',
        '-',
        '.',
        ':',
        '+',
        '/',
        'é',
        '€',
        delimiter,
        quote,
        escape,
      ];
      const special = [delimiter, quote, escape, '\n', '\r'];
      const kinds = [Kind.Text, Kind.Int4, Kind.Jsonb, Kind.Text, Kind.Json];
      const records: Array<Array<string | number | null>> = [];
      const lines: string[] = [];
      for (let r = 0; r < 600; r++) {
        const rec: Array<string | number | null> = [];
        const cells: string[] = [];
        for (const kind of kinds) {
          if (kind === Kind.Int4) {
            const v = rnd(3) === 0 ? -rnd(1000) : rnd(2 ** 31);
            rec.push(v);
            cells.push(rnd(4) === 0 ? `${quote}${v}${quote}` : String(v));
            continue;
          }
          if (rnd(12) === 0) {
            rec.push(null); // an unquoted empty field
            cells.push('');
            continue;
          }
          const len = rnd(10) === 0 ? 200 + rnd(3000) : rnd(24);
          // one field in 5 of plain bytes only (long ones too: left unquoted, they cross the output's growth)
          const plain = rnd(5) === 0;
          let v = '';
          for (let k = 0; k < len; k++) {
            if (plain) v += alphabet[rnd(alphabet.length - 3)];
            else v += rnd(20) === 0 ? ['\n', '\r'][rnd(2)] : alphabet[rnd(alphabet.length)];
          }
          rec.push(v);
          const mustQuote = v === '' || special.some((c) => v.includes(c)) || v === '\\.';
          if (mustQuote || rnd(3) === 0) {
            let q = '';
            for (const ch of v) q += ch === quote || ch === escape ? escape + ch : ch;
            cells.push(quote + q + quote);
          } else cells.push(v);
        }
        records.push(rec);
        lines.push(cells.join(delimiter));
      }
      const text = lines.join('\n') + '\n';
      const extra = {
        delimiter: delimiter.charCodeAt(0),
        quote: quote.charCodeAt(0),
        escape: escape.charCodeAt(0),
      };
      // the tuples as the records say they should be
      const want: Buffer[] = [];
      for (const rec of records) {
        const head = Buffer.alloc(2);
        head.writeInt16BE(rec.length);
        want.push(head);
        rec.forEach((v, c) => {
          const len = Buffer.alloc(4);
          if (v === null) {
            len.writeInt32BE(-1);
            want.push(len);
          } else if (typeof v === 'number') {
            want.push(
              Buffer.from([0, 0, 0, 4]),
              Buffer.from(new Uint8Array(new Int32Array([v]).buffer).reverse()),
            );
          } else {
            const bytes = Buffer.concat([
              kinds[c] === Kind.Jsonb ? Buffer.from([1]) : Buffer.alloc(0),
              Buffer.from(v),
            ]);
            len.writeInt32BE(bytes.length);
            want.push(len, bytes);
          }
        });
      }
      const expected = Buffer.concat(want).toString('hex');
      const whole = encode(text, kinds, extra);
      if (!whole.ok) throw new Error(`gave up on record ${whole.record}: ${whole.reason}`);
      const got = Buffer.from(whole.data);
      expect(got.subarray(19, got.length - 2).toString('hex')).toBe(expected);
      const newlines = records
        .flat()
        .reduce<number>((n, v) => n + (typeof v === 'string' ? v.split('\n').length - 1 : 0), 0);
      expect(newlines).toBeGreaterThan(100);
      let counted = 0;
      // a sub-batch at a time from a 1 KB output buffer: the output grows inside fields, at many offsets
      const enc = new CsvBinaryEncoder(opts(kinds, extra));
      const buf = Buffer.from(text);
      const parts: Buffer[] = [];
      for (let at = 0; at < buf.length;) {
        enc.begin(64);
        const step = enc.more(buf, at, buf.length, 1 + rnd(7), true);
        if (step.kind !== 'rows') throw new Error(`step ${step.kind} at ${at}`);
        counted += enc.newlines;
        const data = Buffer.from(enc.finish());
        parts.push(data.subarray(19, data.length - 2));
        at = step.at;
      }
      expect(Buffer.concat(parts).toString('hex')).toBe(expected);
      expect(counted).toBe(newlines);
    },
  );

  it('copies every byte value at every place of a word, quoted and unquoted, and counts a newline among them', () => {
    // The word tests (four bytes at once) are exact: each byte value, at each of 8 offsets, in a quoted and in an
    // unquoted text field before an int, comes out as it went in (a quote doubled in the file, one in the value).
    for (let at = 0; at < 8; at++) {
      for (let x = 0; x < 256; x++) {
        const value = Buffer.concat([
          Buffer.from('a'.repeat(at)),
          Buffer.from([x]),
          Buffer.from('b'.repeat(9)),
        ]);
        const quoted = Buffer.concat([
          Buffer.from('"'),
          x === 0x22 ? Buffer.from(value.toString('latin1').replace('"', '""'), 'latin1') : value,
          Buffer.from('",7\n'),
        ]);
        const unquoted = [0x2c, 0x22, 0x0a, 0x0d].includes(x)
          ? undefined
          : Buffer.concat([value, Buffer.from(',7\n')]);
        for (const text of unquoted ? [quoted, unquoted] : [quoted]) {
          const enc = new CsvBinaryEncoder(opts([Kind.Text, Kind.Int4]));
          enc.begin(64);
          const step = enc.more(text, 0, text.length, Number.POSITIVE_INFINITY, true);
          expect(step, `byte ${x} at ${at}`).toEqual({ kind: 'rows', at: text.length });
          expect(enc.newlines).toBe(x === 0x0a ? 1 : 0);
          const b = Buffer.from(enc.finish());
          const len = Buffer.alloc(4);
          len.writeInt32BE(value.length);
          const want = Buffer.concat([
            Buffer.from([0, 2]),
            len,
            value,
            Buffer.from('000000040000000' + '7', 'hex'),
          ]);
          expect(b.subarray(19, b.length - 2).toString('hex'), `byte ${x} at ${at}`).toBe(
            want.toString('hex'),
          );
        }
      }
    }
  });

  it('reads a timestamptz without an offset only when the session is in UTC', () => {
    expect(encode('2020-01-01 00:00:00\n', [Kind.Timestamptz]).ok).toBe(false);
    expect(encode('2020-01-01 00:00:00\n', [Kind.Timestamptz], { utcSession: true }).ok).toBe(true);
  });

  it('says which record and field it gave up on', () => {
    expect(encode('1,a\n2,b\nx,c\n', [Kind.Int4, Kind.Text])).toMatchObject({
      ok: false,
      record: 2,
      column: 0,
    });
  });

  // The record scan that converts (workers/plan.ts `convert`) hands the encoder its bytes a chunk at a time: a
  // record cut by a chunk's end must be left for the next call, never taken or given up on, wherever the cut.
  describe('more(): the bytes a chunk at a time', () => {
    const K2 = [Kind.Int4, Kind.Text];
    const cases: [string, string, Kind[], Partial<CsvBinaryOptions>?][] = [
      ['plain records', '1,a\n22,bb\n333,ccc\n', K2],
      [
        'quoted fields with newlines, doubled quotes and delimiters',
        '1,"a\nb"\n2,"x""y,z"\n3,""""\n4,"\n\n"\n',
        K2,
      ],
      ['CRLF, and a quoted CR', '1,a\r\n2,"b\r\nc"\r\n3,c\r\n', K2],
      ['a last record without a line break', '1,a\n2,"b\n"', K2],
      ['quoted values of every width', '"12",7\n"-3",8\n', [Kind.Int4, Kind.Int8]],
      ['backslash escapes', '1,"a\\"b"\n2,"c\\\\"\n3,"\\\n"\n', K2, { escape: 0x5c }],
      ['a NULL string', '1,NULL\n2,NULLx\n3,"NULL"\n', K2, { nullBytes: Buffer.from('NULL') }],
      ['a value it gives up on, late', '1,a\n2,"b\nc"\n3x,c\n4,d\n', K2],
      ['a record with too few fields', '1,a\n2\n3,c\n', K2],
      ['a carriage return alone', '1,a\n2,b\r3,c\n', K2],
      ['bytes after a closing quote', '1,"a"\n2,"b"c\n', K2],
      ['an unterminated quote', '1,a\n2,"b\n3,c\n', K2],
      ['mixed line endings', '1,a\r\n2,b\n', K2],
    ];
    /** the whole buffer in one call, as encode() sees it */
    const whole = (text: string, kinds: Kind[], extra?: Partial<CsvBinaryOptions>) => {
      const enc = new CsvBinaryEncoder(opts(kinds, extra));
      enc.begin(64);
      const buf = Buffer.from(text);
      const step = enc.more(buf, 0, buf.length, Number.POSITIVE_INFINITY, true);
      return {
        step,
        rows: enc.rows,
        newlines: enc.newlines,
        data: Buffer.from(enc.finish()).toString('hex'),
      };
    };
    it.each(cases)(
      '%s: cut anywhere, the same bytes, rows, newlines and give-up',
      (_, text, kinds, extra) => {
        const want = whole(text, kinds, extra);
        const buf = Buffer.from(text);
        for (let cut = 1; cut < buf.length; cut++) {
          // the bytes up to `cut` first, then all of them (the chunk that follows)
          const enc = new CsvBinaryEncoder(opts(kinds, extra));
          enc.begin(64);
          let step = enc.more(buf, 0, cut, Number.POSITIVE_INFINITY, false);
          expect(step.kind, `cut at ${cut}`).not.toBe('rows');
          if (step.kind === 'more') step = enc.more(buf, step.at, buf.length, Number.POSITIVE_INFINITY, true);
          expect(step, `cut at ${cut}`).toEqual(want.step);
          expect([enc.rows, enc.newlines], `cut at ${cut}`).toEqual([want.rows, want.newlines]);
          expect(Buffer.from(enc.finish()).toString('hex'), `cut at ${cut}`).toBe(want.data);
        }
      },
    );

    it('counts the newlines inside quoted fields, and stops at max rows where the next record starts', () => {
      const text = '1,"a\nb"\n2,"\n\n"\n3,c\n';
      const enc = new CsvBinaryEncoder(opts(K2));
      enc.begin(64);
      const step = enc.more(Buffer.from(text), 0, text.length, 2, false);
      expect(step).toEqual({ kind: 'rows', at: text.indexOf('3,c') });
      expect([enc.rows, enc.newlines]).toEqual([2, 3]);
    });
  });

  it('maps format_type() names to forms, and leaves the rest to the server', () => {
    expect(kindOf('numeric(12,2)')).toBe(Kind.Numeric);
    expect(kindOf('character varying(20)')).toBe(Kind.Text);
    expect(kindOf('timestamp(3) with time zone')).toBe(Kind.Timestamptz);
    expect(kindOf('timestamp(3) without time zone')).toBe(Kind.Timestamp);
    expect(kindOf(undefined)).toBe(Kind.Text); // an ignored field's staging column
    for (const t of ['real', 'interval', 'integer[]', 'bytea', 'public.mood', 'time without time zone'])
      expect(kindOf(t)).toBeUndefined();
  });
});

describe('binaryOptions', () => {
  const dialect = { delimiter: ',', quote: '"', escape: '"', null: '', encoding: 'UTF8' };
  const cols = [
    { source: 'id', stagingName: 'id', target: { name: 'id', type: 'integer' } },
    { source: 'x', stagingName: 'x', target: undefined },
  ] as never;
  const auto = { format: 'auto' as const, onError: 'abort-file', utcSession: true };

  it('converts a UTF-8 file of known types, an ignored field as text', () => {
    expect(binaryOptions(auto, dialect, cols, 'f.csv')).toMatchObject({
      delimiter: 0x2c,
      kinds: [Kind.Int4, Kind.Text],
      utcSession: true,
    });
  });

  it('keeps CSV for reject-rows, another encoding, a multi-byte delimiter, text; binary insists', () => {
    expect(binaryOptions({ ...auto, onError: 'reject-rows' }, dialect, cols, 'f.csv')).toBeUndefined();
    expect(binaryOptions(auto, { ...dialect, encoding: 'LATIN1' }, cols, 'f.csv')).toBeUndefined();
    expect(binaryOptions(auto, { ...dialect, delimiter: '§' }, cols, 'f.csv')).toBeUndefined();
    expect(binaryOptions({ ...auto, format: 'text' }, dialect, cols, 'f.csv')).toBeUndefined();
    expect(() =>
      binaryOptions({ ...auto, format: 'binary' }, { ...dialect, delimiter: '§' }, cols, 'f.csv'),
    ).toThrow(/one-byte/);
  });
});
