// Parquet type mapping, pure and main-thread: the file's Arrow fields (described as plain data by the worker) and
// the target's column types (from the catalog) give one plan per file column, or a COLUMNS error naming the
// column, the Parquet type and the target type before any row is sent. Also decides binary vs text COPY.
import { LoaderError } from '../loader-error.js';
import type { FileColumn } from '../merge.js';

/** An Arrow field as the worker describes it: plain data, structured-clone safe. */
export interface FieldInfo {
  name: string;
  /** Arrow's own spelling, for messages (e.g. "Timestamp<NANOSECOND, UTC>") */
  arrow: string;
  kind:
    | 'null'
    | 'bool'
    | 'int'
    | 'float'
    | 'decimal'
    | 'string'
    | 'binary'
    | 'fixed'
    | 'date'
    | 'time'
    | 'timestamp'
    | 'list'
    | 'struct'
    | 'map'
    | 'unsupported';
  signed?: boolean;
  bitWidth?: number;
  /** decimal */
  scale?: number;
  /** fixed-size binary */
  byteWidth?: number;
  /** time and timestamp: s, ms, us, ns; date: day or ms */
  unit?: 's' | 'ms' | 'us' | 'ns' | 'day';
  /** timestamp: a zone means the value is an instant (UTC); none means a wall-clock time */
  tz?: string | null;
  /** list: the element; struct: the fields; map: [key, value] */
  children?: FieldInfo[];
}

/** Target column categories the binary encoder writes; everything else ('other') goes by COPY text. */
export type TargetCat =
  | 'bool'
  | 'int2'
  | 'int4'
  | 'int8'
  | 'float4'
  | 'float8'
  | 'numeric'
  | 'text'
  | 'json'
  | 'jsonb'
  | 'uuid'
  | 'bytea'
  | 'date'
  | 'timestamp'
  | 'timestamptz'
  | 'time'
  | 'other';

export interface TargetType {
  /** format_type() spelling */
  sql: string;
  cat: TargetCat;
  /** one-dimensional array of elem */
  elem?: TargetType;
}

/** Built-in type OIDs, needed in binary arrays (array_recv checks the element type). */
export const ELEMENT_OID: Record<Exclude<TargetCat, 'other'>, number> = {
  bool: 16,
  int2: 21,
  int4: 23,
  int8: 20,
  float4: 700,
  float8: 701,
  numeric: 1700,
  text: 25,
  json: 114,
  jsonb: 3802,
  uuid: 2950,
  bytea: 17,
  date: 1082,
  timestamp: 1114,
  timestamptz: 1184,
  time: 1083,
};

const CATS: [RegExp, TargetCat][] = [
  [/^boolean$/, 'bool'],
  [/^smallint$/, 'int2'],
  [/^integer$/, 'int4'],
  [/^bigint$/, 'int8'],
  [/^real$/, 'float4'],
  [/^double precision$/, 'float8'],
  [/^numeric(\(.*\))?$/, 'numeric'],
  [/^(text|character varying(\(\d+\))?|character(\(\d+\))?|bpchar)$/, 'text'],
  [/^json$/, 'json'],
  [/^jsonb$/, 'jsonb'],
  [/^uuid$/, 'uuid'],
  [/^bytea$/, 'bytea'],
  [/^date$/, 'date'],
  [/^timestamp(\(\d\))? without time zone$/, 'timestamp'],
  [/^timestamp(\(\d\))? with time zone$/, 'timestamptz'],
  [/^time(\(\d\))? without time zone$/, 'time'],
];

export function parseTargetType(sql: string): TargetType {
  if (sql.endsWith('[]')) {
    const elem = parseTargetType(sql.slice(0, -2));
    // Multi-dimensional targets (x[][]) are left to the text path.
    return elem.elem ? { sql, cat: 'other' } : { sql, cat: elem.cat === 'other' ? 'other' : elem.cat, elem };
  }
  return { sql, cat: CATS.find(([re]) => re.test(sql))?.[1] ?? 'other' };
}

export interface ColumnPlan {
  /** index of the Parquet field, or -1: an ignored extra column, sent as NULL */
  field: number;
  info: FieldInfo | undefined;
  target: TargetType | undefined;
  /** the name as the file spells it, for messages */
  column: string;
}

export interface FilePlan {
  encoding: 'binary' | 'text';
  columns: ColumnPlan[];
}

type Verdict = 'binary' | 'text' | 'no';

/** How one Arrow field converts into one target type (a scalar target, or an array target's element). */
export function verdict(f: FieldInfo, t: TargetType): Verdict {
  if (f.kind === 'unsupported') return 'no';
  if (f.kind === 'null') return t.cat === 'other' ? 'text' : 'binary';
  if (t.elem) {
    if (f.kind === 'list') {
      const child = f.children?.[0];
      if (!child || child.kind === 'list') return 'no'; // nested lists: only into json
      const v = verdict(child, t.elem);
      return v === 'binary' && t.cat !== 'other' ? 'binary' : v === 'no' ? 'no' : 'text';
    }
    return f.kind === 'string' ? 'text' : 'no'; // a string is parsed by the array's text input
  }
  const c = t.cat;
  const bytes = f.kind === 'binary' || f.kind === 'fixed';
  if (c === 'other') return bytes ? 'no' : 'text';
  if (c === 'text' || c === 'json' || c === 'jsonb') {
    if (bytes) return f.kind === 'fixed' && f.byteWidth === 16 && c === 'text' ? 'binary' : 'no';
    return 'binary';
  }
  if (f.kind === 'string') return c === 'uuid' ? 'binary' : 'text'; // the type's text input parses it
  switch (c) {
    case 'bool':
      return f.kind === 'bool' ? 'binary' : 'no';
    case 'int2':
    case 'int4':
    case 'int8':
      return f.kind === 'int' ? 'binary' : 'no';
    case 'float4':
    case 'float8':
    case 'numeric':
      return f.kind === 'int' || f.kind === 'float' || f.kind === 'decimal' ? 'binary' : 'no';
    case 'uuid':
      return f.kind === 'fixed' && f.byteWidth === 16 ? 'binary' : 'no';
    case 'bytea':
      return bytes ? 'binary' : 'no';
    case 'date':
      return f.kind === 'date' ? 'binary' : 'no';
    case 'timestamp':
    case 'timestamptz':
      return f.kind === 'timestamp' || f.kind === 'date' ? 'binary' : 'no';
    case 'time':
      return f.kind === 'time' ? 'binary' : 'no';
  }
}

/** One plan per file column; throws COLUMNS for the first column whose conversion cannot work. */
export function planFile(fields: FieldInfo[], columns: FileColumn[]): FilePlan {
  let encoding: FilePlan['encoding'] = 'binary';
  const plans = columns.map((c): ColumnPlan => {
    const field = fields.findIndex((f) => f.name === c.source);
    const info = fields[field];
    if (!c.target || !info) return { field: -1, info: undefined, target: undefined, column: c.source };
    const target = parseTargetType(c.target.type);
    const v = verdict(info, target);
    if (v === 'no') {
      throw new LoaderError(
        'COLUMNS',
        `column ${JSON.stringify(c.source)}: Parquet type ${info.arrow} cannot be loaded into ${target.sql}` +
          ` (column ${JSON.stringify(c.target.name)})`,
        { column: c.source },
      );
    }
    if (v === 'text') encoding = 'text';
    return { field, info, target, column: c.source };
  });
  return { encoding, columns: plans };
}

/** The column type --create-table gives a Parquet field: the type its values load into losslessly (what the
 * README's mapping table lists first), as format_type() spells it; undefined when no type fits. */
export function createType(f: FieldInfo): string | undefined {
  switch (f.kind) {
    case 'null':
    case 'string':
      return 'text';
    case 'bool':
      return 'boolean';
    case 'int': {
      const bits = (f.bitWidth ?? 64) + (f.signed === false ? 1 : 0);
      return bits <= 16 ? 'smallint' : bits <= 32 ? 'integer' : bits <= 64 ? 'bigint' : 'numeric';
    }
    case 'float':
      return f.bitWidth === 32 ? 'real' : 'double precision';
    case 'decimal': {
      const precision = /Decimal\[(\d+)e/.exec(f.arrow)?.[1];
      return precision && Number(precision) <= 1000 ? `numeric(${precision},${f.scale ?? 0})` : 'numeric';
    }
    case 'binary':
      return 'bytea';
    case 'fixed':
      return f.byteWidth === 16 ? 'uuid' : 'bytea';
    case 'date':
      return 'date';
    case 'time':
      return 'time without time zone';
    case 'timestamp':
      return f.tz ? 'timestamp with time zone' : 'timestamp without time zone';
    case 'list': {
      const child = f.children?.[0];
      const elem =
        child && child.kind !== 'list' && child.kind !== 'struct' && child.kind !== 'map'
          ? createType(child)
          : undefined;
      return elem ? `${elem}[]` : 'jsonb';
    }
    case 'struct':
    case 'map':
      return 'jsonb';
    default:
      return undefined;
  }
}
