// Which columns the CSV-to-binary converter can write: the type as format_type() spells it, to the form it is
// written in. A type not listed (real, whose decimal-to-float4 rounding JavaScript cannot do in one step; time,
// interval, arrays, enums, domains, ...) keeps the file's sub-batches in CSV: the server parses them.

export const enum Kind {
  Text,
  Json,
  Jsonb,
  Int2,
  Int4,
  Int8,
  Float8,
  Numeric,
  Bool,
  Date,
  Timestamptz,
  Timestamp,
  Uuid,
}

const EXACT: Record<string, Kind> = {
  text: Kind.Text,
  json: Kind.Json,
  jsonb: Kind.Jsonb,
  smallint: Kind.Int2,
  integer: Kind.Int4,
  bigint: Kind.Int8,
  'double precision': Kind.Float8,
  numeric: Kind.Numeric,
  boolean: Kind.Bool,
  date: Kind.Date,
  'timestamp with time zone': Kind.Timestamptz,
  'timestamp without time zone': Kind.Timestamp,
  uuid: Kind.Uuid,
  'character varying': Kind.Text,
  character: Kind.Text,
};

/** The converter's form for a column of this type (a staging column of an ignored field is text), or undefined. */
export function kindOf(type: string | undefined): Kind | undefined {
  if (type === undefined) return Kind.Text;
  const exact = EXACT[type];
  if (exact !== undefined) return exact;
  // typmods: the server applies them to a binary value as to text (length check, rounding to scale/precision)
  if (/^numeric\(\d+(,-?\d+)?\)$/.test(type)) return Kind.Numeric;
  if (/^(character varying|character)\(\d+\)$/.test(type)) return Kind.Text;
  const ts = /^timestamp\(\d\) with(out)? time zone$/.exec(type);
  if (ts) return ts[1] ? Kind.Timestamp : Kind.Timestamptz;
  return undefined;
}

/** Each form's name, for a give-up's reason. */
export const KIND_NAMES: Record<Kind, string> = {
  [Kind.Text]: 'text',
  [Kind.Json]: 'json',
  [Kind.Jsonb]: 'jsonb',
  [Kind.Int2]: 'smallint',
  [Kind.Int4]: 'integer',
  [Kind.Int8]: 'bigint',
  [Kind.Float8]: 'double precision',
  [Kind.Numeric]: 'numeric',
  [Kind.Bool]: 'boolean',
  [Kind.Date]: 'date',
  [Kind.Timestamptz]: 'timestamptz',
  [Kind.Timestamp]: 'timestamp',
  [Kind.Uuid]: 'uuid',
};
