// Pure SQL text helpers: identifier quoting, table-name parsing and the statements the loader builds.
// Every identifier that reaches SQL goes through quoteIdent(); values go as bind parameters.

export function quoteIdent(name: string): string {
  if (name.includes('\0')) throw new Error('an identifier cannot contain a NUL byte');
  return `"${name.replaceAll('"', '""')}"`;
}

export function quoteLiteral(value: string): string {
  if (value.includes('\0')) throw new Error('a literal cannot contain a NUL byte');
  return `'${value.replaceAll("'", "''")}'`;
}

export interface TableName {
  schema?: string;
  table: string;
}

/** Parses `[schema.]table` as psql does: unquoted parts fold to lower case, "quoted" parts keep case and may hold
 * dots and doubled quotes. Throws on anything else. */
export function parseTableName(text: string): TableName {
  const parts: string[] = [];
  let i = 0;
  const n = text.length;
  while (i <= n) {
    let part = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= n) throw new Error(`unterminated quoted identifier in ${JSON.stringify(text)}`);
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            part += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        part += text[i++];
      }
    } else {
      const start = i;
      while (i < n && text[i] !== '.') i++;
      // PostgreSQL folds only ASCII letters in a multi-byte (UTF-8) database: `Ärger` names "Ärger".
      part = text
        .slice(start, i)
        .trim()
        .replace(/[A-Z]+/g, (m) => m.toLowerCase());
      if (!/^[\p{L}_][\p{L}\p{N}_$]*$/u.test(part)) {
        throw new Error(
          `${JSON.stringify(text)} is not a valid [schema.]table name (quote unusual names: "My Table")`,
        );
      }
    }
    if (part === '') throw new Error(`empty identifier in ${JSON.stringify(text)}`);
    parts.push(part);
    if (i >= n) break;
    if (text[i] !== '.')
      throw new Error(`unexpected ${JSON.stringify(text[i])} in table name ${JSON.stringify(text)}`);
    i++;
  }
  if (parts.length === 1) return { table: parts[0]! };
  if (parts.length === 2) return { schema: parts[0]!, table: parts[1]! };
  throw new Error(`${JSON.stringify(text)} has too many dots: use [schema.]table`);
}

export function qualified(schema: string, table: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(table)}`;
}
