// Inputs to files: a path that exists as given is taken literally (names like `[x].csv`), anything else is a
// fast-glob pattern (also when cron passed it quoted). De-duplicated by real path, sorted by path.
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import fg from 'fast-glob';

export interface Discovered {
  /** the files, sorted */
  files: string[];
  /** patterns that matched nothing */
  unmatched: string[];
}

export async function discover(patterns: readonly string[], cwd = process.cwd()): Promise<Discovered> {
  const found = new Map<string, string>();
  const unmatched: string[] = [];
  for (const p of patterns) {
    const literal = await stat(resolve(cwd, p)).then(
      () => true,
      () => false,
    );
    const paths = literal
      ? [p]
      : await fg(p, { cwd, onlyFiles: true, dot: false, followSymbolicLinks: true, suppressErrors: true });
    if (paths.length === 0) unmatched.push(p);
    for (const path of paths) {
      const abs = resolve(cwd, path);
      if (!found.has(abs)) found.set(abs, path);
    }
  }
  const files = [...found.values()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return { files, unmatched };
}
