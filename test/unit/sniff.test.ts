import { describe, it, expect } from 'vitest';
import { decoderName, hasBom, sniff, type SniffHints } from '../../src/sniff.js';

const cols = ['id', 'name', 'amount'];
const hints = (h: Partial<SniffHints> = {}): SniffHints => ({ columns: cols, ...h });
const bytes = (s: string): Buffer => Buffer.from(s, 'utf8');
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

describe('sniff: delimiter', () => {
  const rows = (d: string): string =>
    [`id${d}name${d}amount`, `1${d}alice${d}10`, `2${d}bob${d}20`, `3${d}carol${d}30`].join('\n') + '\n';

  it.each([
    [',', 'comma'],
    [';', 'semicolon'],
    ['\t', 'tab'],
    ['|', 'pipe'],
  ])('detects %j (%s)', (d) => {
    const s = sniff(bytes(rows(d)), hints());
    expect(s.delimiter).toBe(d);
    expect(s.firstRecord).toEqual(['id', 'name', 'amount']);
  });

  it('prefers the delimiter with a consistent count over one that appears more but irregularly', () => {
    // Commas are frequent inside one unquoted-looking text field of the first row only; semicolons are regular.
    const text = 'id;name;amount\n1;a,b,c,d,e,f;1\n2;x;2\n3;y;3\n4;z;4\n';
    expect(sniff(bytes(text), hints()).delimiter).toBe(';');
  });

  it('does not count delimiters inside quotes', () => {
    const text = 'id|name\n1|"a,b,c"\n2|"d,e,f"\n3|"g,h,i"\n';
    const s = sniff(bytes(text), hints());
    expect(s.delimiter).toBe('|');
    expect(s.quote).toBe('"');
  });

  it('picks the most frequent candidate on a single line without a newline', () => {
    expect(sniff(bytes('a;b;c'), hints()).delimiter).toBe(';');
    expect(sniff(bytes('a|b|c'), hints()).delimiter).toBe('|');
  });

  it('defaults to a comma when no candidate appears', () => {
    const s = sniff(bytes('id\n1\n2\n'), hints());
    expect(s.delimiter).toBe(',');
    expect(s.firstRecord).toEqual(['id']);
  });

  it('a delimiter hint overrides detection', () => {
    const s = sniff(bytes(rows(';')), hints({ delimiter: '|' }));
    expect(s.delimiter).toBe('|');
    expect(s.firstRecord).toEqual(['id;name;amount']);
  });
});

describe('sniff: quote', () => {
  it('defaults to a double quote', () => {
    expect(sniff(bytes('id,name\n1,"a"\n'), hints()).quote).toBe('"');
    expect(sniff(bytes('id,name\n1,a\n'), hints()).quote).toBe('"');
  });

  it('detects a single quote when fields start with it', () => {
    const s = sniff(bytes("id,name\n1,'a,b'\n2,'c'\n"), hints());
    expect(s.quote).toBe("'");
  });

  it('a quote hint overrides detection', () => {
    const s = sniff(bytes("id,name\n1,'a'\n2,'b'\n"), hints({ quote: '"' }));
    expect(s.quote).toBe('"');
  });

  it('parses the first record with quoted delimiters and newlines', () => {
    const s = sniff(bytes('"id","na,me"\n"1","x\ny"\n'), hints());
    expect(s.firstRecord).toEqual(['id', 'na,me']);
  });

  it('honours an escape hint when parsing the first record', () => {
    const s = sniff(bytes('"i\\"d",name\n1,a\n'), hints({ escape: '\\' }));
    expect(s.firstRecord).toEqual(['i"d', 'name']);
  });
});

describe('sniff: BOM and line endings', () => {
  it('reports and strips a UTF-8 BOM', () => {
    const s = sniff(Buffer.concat([BOM, bytes('id,name\n1,a\n')]), hints());
    expect(s.bom).toBe(true);
    expect(s.firstRecord).toEqual(['id', 'name']);
    expect(s.header).toBe(true);
  });

  it('no BOM', () => {
    expect(sniff(bytes('id,name\n'), hints()).bom).toBe(false);
  });

  it('hasBom needs all three bytes', () => {
    expect(hasBom(BOM)).toBe(true);
    expect(hasBom(Buffer.from([0xef, 0xbb]))).toBe(false);
    expect(hasBom(Buffer.from([0xef, 0xbb, 0xbe]))).toBe(false);
  });

  it('detects CRLF and keeps CR out of the fields', () => {
    const s = sniff(bytes('id,name\r\n1,a\r\n'), hints());
    expect(s.crlf).toBe(true);
    expect(s.firstRecord).toEqual(['id', 'name']);
  });

  it('LF only', () => {
    expect(sniff(bytes('id,name\n1,a\n'), hints()).crlf).toBe(false);
  });
});

describe('sniff: header detection', () => {
  it('is a header when a first-record field names a target column', () => {
    expect(sniff(bytes('id,other\n1,2\n'), hints()).header).toBe(true);
  });

  it('matches names case-insensitively and ignores surrounding spaces', () => {
    expect(sniff(bytes('ID, Name \n1,a\n'), hints()).header).toBe(true);
    expect(sniff(bytes('x,y\n1,a\n'), hints({ columns: ['X'] })).header).toBe(true);
  });

  it('is not a header when no field names a target column', () => {
    const s = sniff(bytes('1,alice,10\n2,bob,20\n'), hints());
    expect(s.header).toBe(false);
    expect(s.firstRecord).toEqual(['1', 'alice', '10']);
  });

  it('a quoted header name still counts', () => {
    expect(sniff(bytes('"amount";"zzz"\n1;2\n'), hints()).header).toBe(true);
  });

  it('a header hint overrides detection both ways', () => {
    expect(sniff(bytes('id,name\n1,a\n'), hints({ header: false })).header).toBe(false);
    expect(sniff(bytes('1,a\n2,b\n'), hints({ header: true })).header).toBe(true);
  });

  it('is undecided for an empty sample', () => {
    const s = sniff(new Uint8Array(0), hints());
    expect(s.header).toBeUndefined();
    expect(s.firstRecord).toEqual([]);
  });

  it('is undecided when the sample ends inside the first record’s quoted field', () => {
    const s = sniff(bytes('id,"unterminated\nstill going'), hints());
    expect(s.header).toBeUndefined();
  });

  it('decides from the first record even when the sample is cut inside a later quoted field', () => {
    // A 64 KB sample of a big file often ends mid-record; the first record is whole and must decide the header.
    const data = '1,alice,10\n2,"bob\nsmith",20\n3,"carol is cut';
    const s = sniff(bytes(data), hints());
    expect(s.firstRecord).toEqual(['1', 'alice', '10']);
    expect(s.header).toBe(false);
    const withHeader = sniff(bytes('id,name,amount\n' + data), hints());
    expect(withHeader.header).toBe(true);
  });

  it('takes a single record without a newline as the whole file', () => {
    const s = sniff(bytes('id,name'), hints());
    expect(s.firstRecord).toEqual(['id', 'name']);
    expect(s.header).toBe(true);
  });
});

describe('sniff: encoding', () => {
  it('decodes a Latin-1 header with the latin1 decoder', () => {
    const s = sniff(
      Buffer.from('caf\xe9,id\n1,2\n', 'latin1'),
      hints({ encoding: 'latin1', columns: ['café'] }),
    );
    expect(s.firstRecord).toEqual(['café', 'id']);
    expect(s.header).toBe(true);
  });
});

describe('decoderName', () => {
  it.each([
    [undefined, 'utf8'],
    ['UTF8', 'utf8'],
    ['utf-8', 'utf8'],
    ['LATIN1', 'latin1'],
    ['ISO-8859-1', 'latin1'],
    ['iso_8859_1', 'latin1'],
    ['WIN1252', 'latin1'],
    ['windows-1252', 'latin1'],
    ['UTF16LE', 'utf16le'],
    ['ucs-2', 'utf16le'],
    ['SQL_ASCII', 'utf8'],
    ['EUC_JP', 'utf8'],
  ])('%j -> %s', (input, want) => {
    expect(decoderName(input)).toBe(want);
  });
});
