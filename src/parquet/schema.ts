// Worker side of a Parquet file's plan: the footer read with parquet-wasm (row groups with their row counts and
// byte sizes) and the Arrow schema described as plain data (FieldInfo) for the main thread's type mapping.
// Only workers import this module: parquet-wasm's memory is per thread and never shrinks.
import type {
  DataType,
  DateUnit as DateUnitT,
  Field,
  Precision as PrecisionT,
  Schema,
  TimeUnit as TimeUnitT,
} from 'apache-arrow';
import { ParquetFile } from 'parquet-wasm';
import { arrow } from './arrow.js';
import { fileBytes } from './filebytes.js';
import type { FieldInfo } from './mapping.js';

const { Precision, TimeUnit, DateUnit, Type, tableFromIPC } = arrow;

export interface RowGroupInfo {
  rows: number;
  /** compressed bytes in the file */
  compressedBytes: number;
  /** uncompressed bytes (the footer's total_byte_size): what decoding it roughly costs in memory */
  bytes: number;
}

export interface Footer {
  rows: number;
  rowGroups: RowGroupInfo[];
  fields: FieldInfo[];
  createdBy: string | undefined;
}

const UNITS = {
  [TimeUnit.SECOND]: 's',
  [TimeUnit.MILLISECOND]: 'ms',
  [TimeUnit.MICROSECOND]: 'us',
  [TimeUnit.NANOSECOND]: 'ns',
} as const;

export async function openParquet(path: string): Promise<ParquetFile> {
  return ParquetFile.fromFile(fileBytes(path) as unknown as Blob);
}

/** The file's Arrow schema, as the reader gives its record batches (dictionaries, large strings included). */
export function arrowSchema(file: ParquetFile): Schema {
  return tableFromIPC(file.schema().intoIPCStream()).schema;
}

export function readFooter(file: ParquetFile): Footer {
  const meta = file.metadata();
  try {
    const fileMeta = meta.fileMetadata();
    const groups = meta.rowGroups();
    const rowGroups = groups.map((g) => ({
      rows: g.numRows(),
      compressedBytes: g.compressedSize(),
      bytes: g.totalByteSize(),
    }));
    for (const g of groups) g.free();
    const createdBy = fileMeta.createdBy();
    const rows = fileMeta.numRows();
    fileMeta.free();
    const schema = arrowSchema(file);
    return { rows, rowGroups, fields: schema.fields.map(describeField), createdBy };
  } finally {
    meta.free();
  }
}

/** An Arrow field as plain data (dictionaries described by their value type). */
export function describeField(field: Field): FieldInfo {
  let t = field.type as DataType;
  if (arrow.DataType.isDictionary(t)) t = t.dictionary as DataType;
  const base = { name: field.name, arrow: String(field.type) };
  const kids = (): FieldInfo[] => (t.children ?? []).map((c) => describeField(c));
  switch (t.typeId) {
    case Type.Null:
      return { ...base, kind: 'null' };
    case Type.Bool:
      return { ...base, kind: 'bool' };
    case Type.Int: {
      const i = t as unknown as { isSigned: boolean; bitWidth: number };
      return { ...base, kind: 'int', signed: i.isSigned, bitWidth: i.bitWidth };
    }
    case Type.Float: {
      const p = (t as unknown as { precision: PrecisionT }).precision;
      if (p === Precision.HALF) return { ...base, kind: 'unsupported' };
      return { ...base, kind: 'float', bitWidth: p === Precision.SINGLE ? 32 : 64 };
    }
    case Type.Decimal: {
      const d = t as unknown as { scale: number; bitWidth: number };
      return { ...base, kind: 'decimal', scale: d.scale, bitWidth: d.bitWidth };
    }
    case Type.Utf8:
    case Type.LargeUtf8:
      return { ...base, kind: 'string' };
    case Type.Binary:
    case Type.LargeBinary:
      return { ...base, kind: 'binary' };
    case Type.FixedSizeBinary:
      return { ...base, kind: 'fixed', byteWidth: (t as unknown as { byteWidth: number }).byteWidth };
    case Type.Date:
      return {
        ...base,
        kind: 'date',
        unit: (t as unknown as { unit: DateUnitT }).unit === DateUnit.DAY ? 'day' : 'ms',
      };
    case Type.Time:
      return { ...base, kind: 'time', unit: UNITS[(t as unknown as { unit: TimeUnitT }).unit] };
    case Type.Timestamp: {
      const ts = t as unknown as { unit: TimeUnitT; timezone: string | null };
      return { ...base, kind: 'timestamp', unit: UNITS[ts.unit], tz: ts.timezone || null };
    }
    case Type.List:
    case Type.LargeList:
      return { ...base, kind: 'list', children: kids() };
    case Type.Struct:
      return { ...base, kind: 'struct', children: kids() };
    case Type.Map: {
      const entries = t.children?.[0]?.type as DataType | undefined;
      return { ...base, kind: 'map', children: (entries?.children ?? []).map((c) => describeField(c)) };
    }
    default:
      return { ...base, kind: 'unsupported' };
  }
}
