// The key range the converter reads off a sub-batch's COPY BINARY bytes (src/keyrange.ts), which the merge as landed
// trusts instead of reading the sub-batch's table: exact for every integer width, at the edges where a 64-bit key
// is not a JavaScript number, and undefined (the server's check then) for anything it cannot vouch for.
import { describe, expect, it } from 'vitest';
import { CsvBinaryEncoder, type CsvBinaryOptions } from '../../src/csvbin/encode.js';
import { Kind } from '../../src/csvbin/types.js';
import { keyField, keyRange, type KeyField } from '../../src/keyrange.js';
import { Writer } from '../../src/parquet/writer.js';

const opts = (kinds: Kind[], key?: KeyField, tag?: number): CsvBinaryOptions => ({
  delimiter: 0x2c,
  quote: 0x22,
  escape: 0x22,
  nullBytes: new Uint8Array(0),
  kinds,
  key,
  tag,
});

/** id,name records converted as staging converts them (tagged), the key read by the converter. */
function converted(ids: (string | number | null)[], size: 2 | 4 | 8 = 8) {
  const kind = { 2: Kind.Int2, 4: Kind.Int4, 8: Kind.Int8 }[size];
  const text = ids.map((id, i) => `n${i},${id ?? ''}\n`).join('');
  const r = new CsvBinaryEncoder(opts([Kind.Text, kind], { field: 1, size }, 3)).encode(Buffer.from(text));
  if (!r.ok) throw new Error(r.reason);
  expect(keyRange(r.data, { field: 1, size })).toEqual(r.keys);
  return r.keys;
}

describe('keyRange', () => {
  it('reads a strictly rising bigint key as the converter writes it, tagged rows included', () => {
    expect(converted([-5, -1, 0, 1, 4294967295, 4294967296, '9007199254740993'])).toEqual({
      lo: '-5',
      hi: '9007199254740993',
      rising: true,
    });
    expect(converted(['-9223372036854775808', '9223372036854775807'])).toEqual({
      lo: '-9223372036854775808',
      hi: '9223372036854775807',
      rising: true,
    });
    expect(converted([42])).toEqual({ lo: '42', hi: '42', rising: true });
  });

  it('is not rising for a key twice or a key below the one before, beyond 2^53 too; lo and hi still exact', () => {
    expect(converted([1, 2, 2, 3])).toEqual({ lo: '1', hi: '3', rising: false });
    expect(converted([10, 3, 7])).toEqual({ lo: '3', hi: '10', rising: false });
    // as doubles these are 2^53, 2^53 + 2 and 2^53: equal neighbours would hide the fall
    expect(converted(['9007199254740992', '9007199254740994', '9007199254740993'])).toEqual({
      lo: '9007199254740992',
      hi: '9007199254740994',
      rising: false,
    });
    expect(converted([4294967296, 4294967295])).toEqual({
      lo: '4294967295',
      hi: '4294967296',
      rising: false,
    });
    expect(converted([-1, -4294967296])).toEqual({ lo: '-4294967296', hi: '-1', rising: false });
  });

  it('reads integer and smallint keys, negative ones included', () => {
    expect(converted([-2147483648, -1, 2147483647], 4)).toEqual({
      lo: '-2147483648',
      hi: '2147483647',
      rising: true,
    });
    expect(converted([-32768, 32767, 0], 2)).toEqual({ lo: '-32768', hi: '32767', rising: false });
  });

  it('vouches for nothing with a NULL key, no rows, or bytes not of the width asked', () => {
    expect(converted([1, null, 3])).toBeUndefined();
    expect(converted([])).toBeUndefined();
    const w = new Writer(64);
    for (const b of Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1')) w.buf[w.pos++] = b;
    w.i32(0);
    w.i32(0);
    w.i16(1);
    w.i32(4);
    w.i32(7);
    w.i16(-1);
    const data = w.take();
    expect(keyRange(data, { field: 0, size: 4 })).toEqual({ lo: '7', hi: '7', rising: true });
    expect(keyRange(data, { field: 0, size: 8 })).toBeUndefined(); // an int4 where an int8 should be
    expect(keyRange(data, { field: 1, size: 4 })).toBeUndefined(); // no such field
    expect(keyRange(data.subarray(0, data.length - 2), { field: 0, size: 4 })).toBeUndefined(); // cut short
    expect(keyRange(Buffer.from('1,a\n2,b\n3,c\n4,d\n5,e\n6,f\n'), { field: 0, size: 4 })).toBeUndefined(); // CSV
  });
});

describe('keyField', () => {
  const col = (name: string, type: string) => ({ target: { name, type } });
  const cols = [col('name', 'text'), col('id', 'bigint'), col('small', 'smallint'), col('n', 'integer')];

  it('names a one-column integer key the file loads, its place and width, for upsert and insert-only', () => {
    expect(keyField({ key: ['id'], mode: 'upsert' }, cols)).toEqual({ field: 1, size: 8 });
    expect(keyField({ key: ['id'], mode: 'insert-only' }, cols)).toEqual({ field: 1, size: 8 });
    expect(keyField({ key: ['small'], mode: 'upsert' }, cols)).toEqual({ field: 2, size: 2 });
    expect(keyField({ key: ['n'], mode: 'upsert' }, cols)).toEqual({ field: 3, size: 4 });
  });

  it('none for append and replace, a key of two columns or another type, or a key the file lacks', () => {
    expect(keyField({ key: ['id'], mode: 'append' }, cols)).toBeUndefined();
    expect(keyField({ key: ['id'], mode: 'replace' }, cols)).toBeUndefined();
    expect(keyField({ key: ['id', 'name'], mode: 'upsert' }, cols)).toBeUndefined();
    expect(keyField({ key: ['name'], mode: 'upsert' }, cols)).toBeUndefined();
    expect(keyField({ key: ['other'], mode: 'upsert' }, [...cols, { target: undefined }])).toBeUndefined();
  });
});
