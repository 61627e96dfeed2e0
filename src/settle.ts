// After a run's files: ANALYZE the target when rows landed (--analyze), and move each file to --archive-dir (its
// content is in the table: loaded now, or skipped as already loaded) or --error-dir (it failed). A cancelled or
// otherwise skipped file stays where it is. Paths under the folder keep their place below the pattern's fixed
// part (data/in/2026/01/a.csv from 'data/in/**/*.csv' goes to ARCHIVE/2026/01/a.csv); a name already taken gets
// .1, .2, ... before its extension, never overwriting. A move across filesystems copies, then unlinks.
import { constants } from 'node:fs';
import { copyFile, link, mkdir, unlink } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import fg from 'fast-glob';
import type pg from 'pg';
import type { Config } from './config.js';
import { redact } from './config.js';
import { withClient } from './db.js';
import type { FileResult } from './file.js';
import type { Logger } from './log.js';

/** Where a file goes: 'archive', 'error', or nowhere. */
export function destinationOf(r: FileResult): 'archive' | 'error' | undefined {
  if (r.status === 'succeeded') return 'archive';
  if (r.status === 'skipped' && r.error?.code === 'ALREADY_LOADED') return 'archive';
  if (r.status === 'failed') return 'error';
  return undefined;
}

/** The fixed part of each pattern (a literal path's folder, a glob's parent), absolute. */
export function patternBases(patterns: readonly string[], cwd = process.cwd()): string[] {
  return patterns.map((p) =>
    resolve(cwd, fg.isDynamicPattern(p) ? (fg.generateTasks([p])[0]?.base ?? '.') : dirname(p)),
  );
}

/** A file's path below the folder: relative to the longest pattern base holding it, else its name. */
export function relativePlace(file: string, bases: readonly string[], cwd = process.cwd()): string {
  const abs = resolve(cwd, file);
  let best: string | undefined;
  for (const b of bases) {
    if ((abs.startsWith(b + sep) || b === sep) && (!best || b.length > best.length)) best = b;
  }
  return best ? relative(best, abs) : basename(abs);
}

/** name.1.ext for the n-th alternative: the suffix goes before the first dot of the file name. */
export function numbered(path: string, n: number): string {
  if (n === 0) return path;
  const name = basename(path);
  const dot = name.indexOf('.', 1);
  const alt = dot < 0 ? `${name}.${n}` : `${name.slice(0, dot)}.${n}${name.slice(dot)}`;
  return join(dirname(path), alt);
}

export interface MoveOps {
  link: typeof link;
  copyFile: typeof copyFile;
}

/** Moves src to dest (or dest.1, dest.2, ...: never over an existing file), by a hard link then unlink, or by an
 * exclusive copy then unlink when the link is impossible (another filesystem). Returns where it went. */
export async function moveFile(
  src: string,
  dest: string,
  ops: MoveOps = { link, copyFile },
): Promise<string> {
  await mkdir(dirname(dest), { recursive: true });
  for (let n = 0; ; n++) {
    const to = numbered(dest, n);
    try {
      await ops.link(src, to);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') continue;
      if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EMLINK') throw err;
      try {
        await ops.copyFile(src, to, constants.COPYFILE_EXCL);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
        await unlink(to).catch(() => {});
        throw e;
      }
    }
    await unlink(src);
    return to;
  }
}

/** Moves the run's files as their results say; a failed move is logged and noted on the result, never thrown. */
export async function moveFiles(config: Config, results: FileResult[], log: Logger): Promise<void> {
  if (!config.archiveDir && !config.errorDir) return;
  const bases = patternBases(config.patterns);
  for (const r of results) {
    const where = destinationOf(r);
    const dir = where === 'archive' ? config.archiveDir : where === 'error' ? config.errorDir : undefined;
    if (!dir) continue;
    try {
      r.movedTo = await moveFile(r.path, join(dir, relativePlace(r.path, bases)));
      log.info({ file: r.path, to: r.movedTo }, `moved ${r.path} to ${r.movedTo}`);
    } catch (err) {
      const msg = redact((err as Error).message, config.secrets);
      r.moveError = msg;
      log.error({ file: r.path, dir }, `could not move ${r.path} to ${dir}: ${msg}`);
    }
  }
}

/** ANALYZE the target when this run wrote rows into it; returns whether it ran. */
export async function analyzeTarget(
  pool: pg.Pool,
  targetSql: string,
  results: FileResult[],
  log: Logger,
): Promise<boolean> {
  const wrote = results.some((r) => r.status === 'succeeded' && r.rowsInserted + r.rowsUpdated > 0);
  if (!wrote) return false;
  await withClient(pool, (c) => c.query(`ANALYZE ${targetSql}`));
  log.info({ target: targetSql }, `analyzed ${targetSql}`);
  return true;
}
