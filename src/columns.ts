// Column mapping: the file's header names (or positions) onto the target's columns. Pure. A file column the
// target lacks fails the file naming it, unless extras are ignored (kept in staging as text, left out of the
// merge). Generated columns cannot be loaded.
import type { Target } from './catalog.js';
import type { Mode } from './config.js';
import { LoaderError } from './errors.js';
import type { FileColumn } from './merge.js';

export function mapColumns(
  header: string[] | undefined,
  fieldCount: number,
  target: Pick<Target, 'columns' | 'key'>,
  mode: Mode,
  ignoreExtra: boolean,
  tableName: string,
): FileColumn[] {
  const loadable = target.columns.filter((c) => !c.generated);
  const out: FileColumn[] = [];
  if (header) {
    const seen = new Map<string, number>();
    header.forEach((raw, i) => {
      const name = raw.trim();
      const extra = (why: string): void => {
        if (!ignoreExtra)
          throw new LoaderError('COLUMNS', `${why} (use --ignore-extra-columns to skip it)`, {
            column: name,
          });
        out.push({ source: name, target: undefined, stagingName: `__loader_extra_${i + 1}` });
      };
      if (name === '') return extra(`header field ${i + 1} is empty`);
      const exact = target.columns.find((c) => c.name === name || c.name === truncateIdentifier(name));
      const folded = exact
        ? [exact]
        : target.columns.filter((c) => c.name.toLowerCase() === name.toLowerCase());
      const col = folded.length === 1 ? folded[0] : undefined;
      if (!col) return extra(`column ${JSON.stringify(name)} is not in ${tableName}`);
      if (col.generated)
        return extra(`column ${JSON.stringify(col.name)} of ${tableName} is generated and cannot be loaded`);
      const prev = seen.get(col.name);
      if (prev !== undefined) {
        throw new LoaderError(
          'COLUMNS',
          `header fields ${prev + 1} and ${i + 1} both name column ${JSON.stringify(col.name)}`,
          { column: col.name },
        );
      }
      seen.set(col.name, i);
      out.push({ source: name, target: col, stagingName: col.name });
    });
  } else {
    if (fieldCount > loadable.length && !ignoreExtra) {
      throw new LoaderError(
        'COLUMNS',
        `the file has ${fieldCount} fields per record but ${tableName} has ${loadable.length} loadable columns ` +
          `(without a header, fields map to columns by position)`,
      );
    }
    for (let i = 0; i < fieldCount; i++) {
      const col = loadable[i];
      out.push(
        col
          ? { source: `field ${i + 1}`, target: col, stagingName: col.name }
          : { source: `field ${i + 1}`, target: undefined, stagingName: `__loader_extra_${i + 1}` },
      );
    }
  }
  if (!out.some((c) => c.target))
    throw new LoaderError('COLUMNS', `no column of the file matches a column of ${tableName}`);
  if (target.key && mode !== 'append') {
    const present = new Set(out.flatMap((c) => (c.target ? [c.target.name] : [])));
    const missing = target.key.filter((k) => !present.has(k));
    if (missing.length > 0) {
      throw new LoaderError(
        'COLUMNS',
        `key column ${missing.map((m) => JSON.stringify(m)).join(', ')} is missing from the file (mode ${mode})`,
        {
          column: missing[0],
        },
      );
    }
  }
  return out;
}

/** PostgreSQL keeps the first 63 bytes of an identifier (NAMEDATALEN - 1), cut at a character boundary: a longer
 * header name matches the column created from it. */
export function truncateIdentifier(name: string): string {
  if (Buffer.byteLength(name) <= 63) return name;
  let out = '';
  for (const ch of name) {
    if (Buffer.byteLength(out + ch) > 63) break;
    out += ch;
  }
  return out;
}
