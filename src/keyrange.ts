// The range of a one-column integer key over a sub-batch's COPY BINARY bytes, read by the worker that converted a
// CSV sub-batch or by the main thread for a Parquet slice. With it the merge as landed (src/landed.ts) checks that a
// sub-batch's keys follow the earlier ones without reading its table, and merges a sub-batch whose keys rise
// strictly (no key twice, already in key order) without DISTINCT ON's sort: the two were about a sixth of the
// merging backend's CPU on the bench's upsert (`perf record`). Pure: bytes in, the range out.

import { COPY_SIGNATURE } from './parquet/writer.js';

/** A sub-batch's smallest and largest key (canonical integer text, as PostgreSQL prints them), and whether every
 * key is above the one before it in the sub-batch (file order). */
export interface KeyRange {
  lo: string;
  hi: string;
  rising: boolean;
}

/** The key's place in each tuple (0-based field) and its width: int2, int4 or int8. */
export interface KeyField {
  field: number;
  size: 2 | 4 | 8;
}

const HEADER = 11 + 4 + 4; // signature, flags, header extension length (then the extension itself)
const SIZES: Record<string, KeyField['size']> = { smallint: 2, integer: 4, bigint: 8 };

/** The key whose range is read for the merge as landed (src/landed.ts): a one-column key of smallint, integer or
 * bigint that the file loads (its place among the COPY's columns), when the file upserts or inserts only. */
export function keyField(
  target: { key?: string[] | undefined; mode: string },
  columns: { target?: { name: string; type: string } | undefined }[],
): KeyField | undefined {
  if ((target.mode !== 'upsert' && target.mode !== 'insert-only') || target.key?.length !== 1)
    return undefined;
  const field = columns.findIndex((c) => c.target?.name === target.key![0]);
  const size = SIZES[columns[field]?.target?.type ?? ''];
  return field >= 0 && size ? { field, size } : undefined;
}

/** The key range of COPY BINARY `data` (header, tuples, trailer), or undefined when there is no row, a key is NULL,
 * or the bytes are not what the writer writes (a field of another width where the key should be). */
export function keyRange(data: Uint8Array, key: KeyField): KeyRange | undefined {
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (data.length < HEADER + 2 || COPY_SIGNATURE.some((b, i) => data[i] !== b)) return undefined;
  let p = HEADER + v.getInt32(15);
  // int8 compared as its two halves (no BigInt per row): hi signed, lo unsigned; int2 and int4 in hi alone
  let minHi = 0;
  let minLo = 0;
  let maxHi = 0;
  let maxLo = 0;
  let prevHi = 0;
  let prevLo = 0;
  let rows = 0;
  let rising = true;
  for (;;) {
    if (p + 2 > data.length) return undefined;
    const fields = v.getInt16(p);
    p += 2;
    if (fields === -1) break;
    if (key.field >= fields) return undefined;
    let hi = 0;
    let lo = 0;
    for (let f = 0; f < fields; f++) {
      if (p + 4 > data.length) return undefined;
      const len = v.getInt32(p);
      p += 4;
      if (f === key.field) {
        if (len !== key.size || p + len > data.length) return undefined; // NULL (-1) included
        if (key.size === 8) {
          hi = v.getInt32(p);
          lo = v.getUint32(p + 4);
        } else hi = key.size === 4 ? v.getInt32(p) : v.getInt16(p);
      }
      if (len > 0) p += len;
    }
    if (rows === 0) {
      minHi = maxHi = hi;
      minLo = maxLo = lo;
    } else {
      if (hi < prevHi || (hi === prevHi && lo <= prevLo)) rising = false;
      if (hi < minHi || (hi === minHi && lo < minLo)) {
        minHi = hi;
        minLo = lo;
      }
      if (hi > maxHi || (hi === maxHi && lo > maxLo)) {
        maxHi = hi;
        maxLo = lo;
      }
    }
    prevHi = hi;
    prevLo = lo;
    rows++;
  }
  if (rows === 0) return undefined;
  const text = (hi: number, lo: number): string =>
    key.size === 8 ? ((BigInt(hi) << 32n) + BigInt(lo)).toString() : String(hi);
  return { lo: text(minHi, minLo), hi: text(maxHi, maxLo), rising };
}
