// A hand-built Parquet file with INT96 timestamp columns (Spark's legacy type, which neither DuckDB nor
// parquet-wasm writes): plain encoding, uncompressed, one row group, the footer in Thrift's compact protocol.

class Thrift {
  private readonly out: number[] = [];
  private last: number[] = [0];
  varint(v: bigint): this {
    let x = v;
    do {
      const b = Number(x & 0x7fn);
      x >>= 7n;
      this.out.push(x > 0n ? b | 0x80 : b);
    } while (x > 0n);
    return this;
  }
  private head(id: number, type: number): void {
    const delta = id - this.last[this.last.length - 1]!;
    this.out.push((delta << 4) | type); // every id here is 1-15 above the previous one
    this.last[this.last.length - 1] = id;
  }
  int(id: number, v: number | bigint, type = 5): this {
    this.head(id, type); // 5 i32, 6 i64: zigzag varints
    const x = BigInt(v);
    return this.varint(x >= 0n ? x << 1n : (-x << 1n) - 1n);
  }
  i64(id: number, v: number | bigint): this {
    return this.int(id, v, 6);
  }
  str(id: number, s: string): this {
    this.head(id, 8);
    const b = Buffer.from(s);
    this.varint(BigInt(b.length));
    this.out.push(...b);
    return this;
  }
  struct(id: number, body: (t: this) => void): this {
    this.head(id, 12);
    this.last.push(0);
    body(this);
    this.out.push(0);
    this.last.pop();
    return this;
  }
  /** a list of structs (type 12), or of i32 (5) / binary (8) given as raw writers */
  list(id: number, elemType: number, items: ((t: this) => void)[]): this {
    this.head(id, 9);
    this.out.push((items.length << 4) | elemType); // fewer than 15 items here
    for (const item of items) {
      if (elemType === 12) {
        this.last.push(0);
        item(this);
        this.out.push(0);
        this.last.pop();
      } else item(this);
    }
    return this;
  }
  raw(s: string): this {
    this.out.push(...Buffer.from(s));
    return this;
  }
  /** the top-level struct's bytes, with its stop byte */
  bytes(): Buffer {
    return Buffer.from([...this.out, 0]);
  }
}

const JULIAN_EPOCH = 2_440_588; // Julian day number of 1970-01-01

/** 12 bytes: nanoseconds of the day (int64 LE), then the Julian day (int32 LE). */
function int96(nanosSinceEpoch: bigint): Buffer {
  const day =
    nanosSinceEpoch / 86_400_000_000_000n -
    (nanosSinceEpoch < 0n && nanosSinceEpoch % 86_400_000_000_000n !== 0n ? 1n : 0n);
  const b = Buffer.alloc(12);
  b.writeBigInt64LE(nanosSinceEpoch - day * 86_400_000_000_000n, 0);
  b.writeInt32LE(Number(day) + JULIAN_EPOCH, 8);
  return b;
}

/** A Parquet file: column `id` (INT32, required) and each of `columns` (INT96, optional, null where null). */
export function int96Parquet(ids: number[], columns: Record<string, (bigint | null)[]>): Buffer {
  const parts: Buffer[] = [Buffer.from('PAR1')];
  let pos = 4;
  const chunks: { name: string; type: number; offset: number; size: number }[] = [];
  const page = (name: string, type: number, data: Buffer): void => {
    const header = new Thrift()
      .int(1, 0) // DATA_PAGE
      .int(2, data.length)
      .int(3, data.length)
      .struct(5, (t) => t.int(1, ids.length).int(2, 0).int(3, 3).int(4, 3)) // PLAIN values, RLE levels
      .bytes();
    chunks.push({ name, type, offset: pos, size: header.length + data.length });
    parts.push(header, data);
    pos += header.length + data.length;
  };
  const idData = Buffer.alloc(4 * ids.length);
  ids.forEach((v, i) => idData.writeInt32LE(v, 4 * i));
  page('id', 1, idData);
  for (const [name, values] of Object.entries(columns)) {
    // Definition levels (bit width 1) as one bit-packed run, length-prefixed; then the non-null values.
    const groups = Math.ceil(values.length / 8);
    const bits = Buffer.alloc(groups);
    values.forEach((v, i) => {
      if (v !== null) bits[i >> 3]! |= 1 << (i & 7);
    });
    const levels = Buffer.concat([Buffer.from([(groups << 1) | 1]), bits]);
    const len = Buffer.alloc(4);
    len.writeInt32LE(levels.length);
    const present = values.filter((v): v is bigint => v !== null).map(int96);
    page(name, 3, Buffer.concat([len, levels, ...present]));
  }
  const names = Object.keys(columns);
  const footer = new Thrift()
    .int(1, 1)
    .list(2, 12, [
      (t) => t.str(4, 'schema').int(5, 1 + names.length),
      (t) => t.int(1, 1).int(3, 0).str(4, 'id'),
      ...names.map((n) => (t: Thrift) => t.int(1, 3).int(3, 1).str(4, n)),
    ])
    .i64(3, ids.length)
    .list(4, 12, [
      (t) =>
        t
          .list(
            1,
            12,
            chunks.map(
              (c) => (u: Thrift) =>
                u.i64(2, c.offset).struct(3, (m) =>
                  m
                    .int(1, c.type)
                    .list(2, 5, [(x) => x.varint(0n), (x) => x.varint(6n)]) // PLAIN, RLE (zigzag 0, 3)
                    .list(3, 8, [(x) => x.varint(BigInt(Buffer.byteLength(c.name))).raw(c.name)])
                    .int(4, 0)
                    .i64(5, ids.length)
                    .i64(6, c.size)
                    .i64(7, c.size)
                    .i64(9, c.offset),
                ),
            ),
          )
          .i64(
            2,
            chunks.reduce((a, c) => a + c.size, 0),
          )
          .i64(3, ids.length),
    ])
    .bytes();
  const flen = Buffer.alloc(4);
  flen.writeInt32LE(footer.length);
  parts.push(footer, flen, Buffer.from('PAR1'));
  return Buffer.concat(parts);
}
