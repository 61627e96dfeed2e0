// A parquet-wasm record batch as an Arrow JS RecordBatch whose buffers are views of the wasm memory (the Arrow C
// data interface, read in place), instead of an IPC stream written in wasm, copied out and parsed for each batch:
// the copy and the garbage it left in the thread (~50 MB of ArrayBuffers waiting for a collection) are gone, and
// the decode takes about a quarter less CPU (a probe of parquet-wasm alone on the bench's rows).
//
// The views are valid only while the batch is not freed and the wasm memory has not grown (growing replaces its
// ArrayBuffer and detaches every view): the caller imports, encodes and frees in one synchronous run, with no await
// in between (no wasm code can run then). Each column's C format is checked against the file's Arrow type before
// a view is made; anything else (a type or layout this reader does not know, a misaligned buffer) is an
// ImportError, and the caller reads that batch through IPC as before. arrow-js-ffi does this job too, but its
// zero-copy decimals view one word per value instead of four (0.4.3), and it imports apache-arrow's ESM entry in
// every thread (see arrow.ts).
import type { Data, DataType, Field, RecordBatch, Schema } from 'apache-arrow';
import { arrow } from './arrow.js';

const { Type, Precision, DateUnit, TimeUnit, makeData } = arrow;

export class ImportError extends Error {}

/** The C structs on wasm32: int64 fields, then 4-byte pointers. */
interface CArray {
  length: number;
  nullCount: number;
  offset: number;
  nBuffers: number;
  nChildren: number;
  buffers: number;
  children: number;
  dictionary: number;
}

interface CSchema {
  format: string;
  name: string;
  nChildren: number;
  children: number;
  dictionary: number;
}

class Memory {
  readonly view: DataView;
  readonly bytes: Uint8Array;
  constructor(readonly buffer: ArrayBuffer) {
    this.view = new DataView(buffer);
    this.bytes = new Uint8Array(buffer);
  }
  private int(p: number): number {
    const x = this.view.getBigInt64(p, true);
    if (x < -1n || x > BigInt(Number.MAX_SAFE_INTEGER)) throw new ImportError(`bad int64 at ${p}`);
    return Number(x);
  }
  ptr(p: number): number {
    return this.view.getUint32(p, true);
  }
  array(p: number): CArray {
    if (p === 0) throw new ImportError('null ArrowArray');
    return {
      length: this.int(p),
      nullCount: this.int(p + 8),
      offset: this.int(p + 16),
      nBuffers: this.int(p + 24),
      nChildren: this.int(p + 32),
      buffers: this.ptr(p + 40),
      children: this.ptr(p + 44),
      dictionary: this.ptr(p + 48),
    };
  }
  schema(p: number): CSchema {
    if (p === 0) throw new ImportError('null ArrowSchema');
    return {
      format: this.cString(this.ptr(p)),
      name: this.cString(this.ptr(p + 4)),
      nChildren: this.int(p + 24),
      children: this.ptr(p + 32),
      dictionary: this.ptr(p + 36),
    };
  }
  cString(p: number): string {
    if (p === 0) return '';
    const end = this.bytes.indexOf(0, p);
    if (end < 0) throw new ImportError('unterminated string');
    return Buffer.from(this.buffer, p, end - p).toString('utf8');
  }
}

const INT_FORMATS: Record<string, string> = {
  true8: 'c',
  false8: 'C',
  true16: 's',
  false16: 'S',
  true32: 'i',
  false32: 'I',
  true64: 'l',
  false64: 'L',
};
const UNIT_CHARS: Record<number, string> = {
  [TimeUnit.SECOND]: 's',
  [TimeUnit.MILLISECOND]: 'm',
  [TimeUnit.MICROSECOND]: 'u',
  [TimeUnit.NANOSECOND]: 'n',
};

/** Whether C format `f` lays out values as Arrow JS type `t` reads them (its buffers, their widths). */
function sameLayout(t: DataType, f: string): boolean {
  const x = t as unknown as {
    isSigned: boolean;
    bitWidth: number;
    precision: number;
    byteWidth: number;
    unit: number;
    scale: number;
  };
  switch (t.typeId) {
    case Type.Null:
      return f === 'n';
    case Type.Bool:
      return f === 'b';
    case Type.Int:
      return INT_FORMATS[`${x.isSigned}${x.bitWidth}`] === f;
    case Type.Float:
      return f === { [Precision.HALF]: 'e', [Precision.SINGLE]: 'f', [Precision.DOUBLE]: 'g' }[x.precision];
    case Type.Decimal: {
      const m = /^d:\d+,(-?\d+)(?:,(\d+))?$/.exec(f);
      return !!m && Number(m[1]) === x.scale && Number(m[2] ?? 128) === x.bitWidth;
    }
    case Type.Utf8:
      return f === 'u';
    case Type.LargeUtf8:
      return f === 'U';
    case Type.Binary:
      return f === 'z';
    case Type.LargeBinary:
      return f === 'Z';
    case Type.FixedSizeBinary:
      return f === `w:${x.byteWidth}`;
    case Type.Date:
      return f === (x.unit === DateUnit.DAY ? 'tdD' : 'tdm');
    case Type.Time:
      return f === `tt${UNIT_CHARS[x.unit]}` && x.bitWidth === (x.unit <= TimeUnit.MILLISECOND ? 32 : 64);
    case Type.Timestamp:
      return f.startsWith(`ts${UNIT_CHARS[x.unit]}:`);
    case Type.List:
      return f === '+l';
    case Type.LargeList:
      return f === '+L';
    case Type.Struct:
      return f === '+s';
    case Type.Map:
      return f === '+m';
    default:
      return false;
  }
}

/** Values per row in the type's typed array. */
function stride(t: DataType): number {
  if (t.typeId === Type.Decimal) return (t as unknown as { bitWidth: number }).bitWidth / 32;
  if (t.typeId === Type.FixedSizeBinary) return (t as unknown as { byteWidth: number }).byteWidth;
  return 1;
}

type TypedCtor = {
  new (b: ArrayBuffer, off: number, len: number): ArrayLike<unknown>;
  BYTES_PER_ELEMENT: number;
};

function importData(m: Memory, t: DataType, arrayPtr: number, schemaPtr: number): Data {
  const a = m.array(arrayPtr);
  const s = m.schema(schemaPtr);
  const dict = arrow.DataType.isDictionary(t);
  const storage = dict ? (t as unknown as { indices: DataType }).indices : t;
  if (!sameLayout(storage, s.format))
    throw new ImportError(`column ${JSON.stringify(s.name)}: C format ${s.format} for ${String(t)}`);
  if (dict !== (s.dictionary !== 0) || dict !== (a.dictionary !== 0))
    throw new ImportError(`column ${JSON.stringify(s.name)}: dictionary mismatch`);
  const buffer = (i: number): number => {
    if (i >= a.nBuffers) throw new ImportError(`column ${JSON.stringify(s.name)}: buffer ${i} missing`);
    return m.ptr(a.buffers + 4 * i);
  };
  const view = <T>(ctor: TypedCtor, ptr: number, count: number): T => {
    if (ptr === 0 && count > 0) throw new ImportError(`column ${JSON.stringify(s.name)}: null buffer`);
    if (ptr % ctor.BYTES_PER_ELEMENT !== 0)
      throw new ImportError(`column ${JSON.stringify(s.name)}: misaligned`);
    return new ctor(m.buffer, ptr, count) as T;
  };
  const bits = (ptr: number): Uint8Array => view(Uint8Array, ptr, Math.ceil((a.offset + a.length) / 8));
  const child = (i: number, ct: DataType): Data => {
    if (i >= a.nChildren || i >= s.nChildren)
      throw new ImportError(`column ${JSON.stringify(s.name)}: child ${i}`);
    return importData(m, ct, m.ptr(a.children + 4 * i), m.ptr(s.children + 4 * i));
  };
  const nulls = t.typeId === Type.Null ? 0 : buffer(0);
  const props = {
    type: t,
    offset: a.offset,
    length: a.length,
    nullCount: a.nullCount,
    nullBitmap: nulls === 0 ? undefined : bits(nulls),
  };
  if (a.nullCount !== 0 && t.typeId !== Type.Null && nulls === 0)
    throw new ImportError(`column ${JSON.stringify(s.name)}: nulls without a validity buffer`);
  const offsets = (large: boolean): Int32Array | BigInt64Array =>
    view(large ? BigInt64Array : Int32Array, buffer(1) + (large ? 8 : 4) * a.offset, a.length + 1);
  const end = (o: Int32Array | BigInt64Array): number => Number(o[a.length] ?? 0);
  const make = makeData as unknown as (p: object) => Data;
  switch (t.typeId) {
    case Type.Null:
      return make({ type: t, length: a.length, nullCount: a.length });
    case Type.Bool:
      return make({ ...props, data: bits(buffer(1)) });
    case Type.Utf8:
    case Type.Binary:
    case Type.LargeUtf8:
    case Type.LargeBinary: {
      const o = offsets(t.typeId === Type.LargeUtf8 || t.typeId === Type.LargeBinary);
      return make({ ...props, valueOffsets: o, data: view(Uint8Array, buffer(2), end(o)) });
    }
    case Type.List:
    case Type.LargeList:
    case Type.Map: {
      const o = offsets(t.typeId === Type.LargeList);
      const c = child(0, (t.children[0] as Field).type as DataType);
      if (c.length < end(o)) throw new ImportError(`column ${JSON.stringify(s.name)}: child too short`);
      return make({ ...props, valueOffsets: o, child: c });
    }
    case Type.Struct: {
      // a C struct's offset applies to its children too; Arrow JS's children start at its first row
      const kids = t.children.map((f, i) => child(i, f.type as DataType));
      return make({
        ...props,
        children: a.offset === 0 ? kids : kids.map((c) => c.slice(a.offset, a.length)),
      });
    }
    default: {
      // fixed width: ints, floats, decimals, dates, times, timestamps, fixed-size binary; dictionary indices
      const ctor = storage.ArrayType as TypedCtor;
      const k = stride(storage);
      const data = view<ArrayLike<unknown>>(
        ctor,
        buffer(1) + a.offset * k * ctor.BYTES_PER_ELEMENT,
        a.length * k,
      );
      if (!dict) return make({ ...props, data });
      const valueType = (t as unknown as { dictionary: DataType }).dictionary;
      const values = importData(m, valueType, a.dictionary, s.dictionary);
      return make({ ...props, data, dictionary: new arrow.Vector([values]) });
    }
  }
}

/** The batch at `arrayPtr`/`schemaPtr` (a struct array of the columns) in `memory`, typed by `schema`; throws
 * ImportError when its columns are not `schema`'s (names, layouts). */
export function importBatch(
  memory: ArrayBuffer,
  arrayPtr: number,
  schemaPtr: number,
  schema: Schema,
): RecordBatch {
  try {
    return importStruct(new Memory(memory), arrayPtr, schemaPtr, schema);
  } catch (err) {
    if (err instanceof RangeError) throw new ImportError(`a buffer outside the memory: ${err.message}`);
    throw err;
  }
}

function importStruct(m: Memory, arrayPtr: number, schemaPtr: number, schema: Schema): RecordBatch {
  const a = m.array(arrayPtr);
  const s = m.schema(schemaPtr);
  if (s.format !== '+s' || a.nChildren !== schema.fields.length || s.nChildren !== schema.fields.length)
    throw new ImportError(
      `batch of ${a.nChildren} columns (${s.format}), the file has ${schema.fields.length}`,
    );
  if (a.offset !== 0 || a.nullCount > 0) throw new ImportError('a batch with an offset or nulls');
  const children = schema.fields.map((f, i) => {
    const cs = m.ptr(s.children + 4 * i);
    if (m.schema(cs).name !== f.name) throw new ImportError(`column ${i} is not ${JSON.stringify(f.name)}`);
    const d = importData(m, f.type as DataType, m.ptr(a.children + 4 * i), cs);
    if (d.length !== a.length) throw new ImportError(`column ${JSON.stringify(f.name)}: ${d.length} rows`);
    return d;
  });
  const type = new arrow.Struct(schema.fields);
  const data = (makeData as unknown as (p: object) => Data)({
    type,
    length: a.length,
    nullCount: 0,
    children,
  });
  return new arrow.RecordBatch(schema, data as never);
}
