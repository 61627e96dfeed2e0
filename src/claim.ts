// The run's claim connection: one dedicated session (counted in the pool budget's +5) that holds advisory locks.
// A lock on the run marks it alive, so a later run can tell leftover staging tables of a crashed run (drop them)
// from those of a run still working (leave them). A lock on (target, content hash) per file makes a second run
// skip a file that another run is loading, without waiting. Locks only save duplicate work: the guarantee of
// "once" is the audit table's unique index, hit inside the merge transaction.
import pg from 'pg';
import type { Config } from './config.js';
import { clientConfig, endWithin, watchOptions } from './db.js';
import { watchConnection } from './watchdog.js';
import { quoteIdent } from './sql.js';

export const STAGING_PREFIX = 'loader_stg_';

/** A file's staging table's name, loader_stg_<runKey>_<n>, as a regular expression (POSIX and JS alike) without
 * its end: a sub-batch's own table under it adds _<k>. */
const FILE_STAGING = '^loader_stg_[0-9a-f]{12}_[0-9]+';

/** The part of the run id that names its staging tables: loader_stg_<runKey>_<n>. */
export function runKey(runId: string): string {
  return runId.replaceAll('-', '').slice(0, 12);
}

export class Claims {
  private readonly held = new Set<string>();
  private broken = false;
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly client: pg.Client,
    private readonly endMs: number,
  ) {}

  /** One query at a time on the one session: files claim and release concurrently. */
  private query<R extends pg.QueryResultRow>(sql: string, params: unknown[]): Promise<pg.QueryResult<R>> {
    const run = this.chain.then(() => this.client.query<R>(sql, params));
    this.chain = run.catch(() => {});
    return run;
  }

  static async open(config: Config, key: string, serverVersion = 0): Promise<Claims> {
    const client = new pg.Client(clientConfig(config, serverVersion));
    const claims = new Claims(client, config.connectTimeoutMs);
    client.on('error', () => {
      claims.broken = true;
    });
    try {
      await client.connect();
      watchConnection(client, watchOptions(config, serverVersion));
      await client.query(`SELECT pg_advisory_lock(hashtextextended($1, 0))`, [`loader_run:${key}`]);
    } catch (err) {
      await claims.close();
      throw err;
    }
    return claims;
  }

  /** Drops the staging tables of runs that are gone (their run lock is free), their sub-batches' tables
   * (loader_stg_<run>_<file>_<sub-batch>, children of the file's) first; returns how many files' tables. */
  async dropLeftoverStaging(schema: string, ownKey: string): Promise<number> {
    const { rows } = await this.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relkind = 'r' AND c.relname ~ ($2 || '(_[0-9]+)?$')
        ORDER BY length(c.relname) DESC`,
      [schema, FILE_STAGING],
    );
    const byRun = new Map<string, string[]>();
    for (const r of rows) {
      const k = r.name.slice(STAGING_PREFIX.length, STAGING_PREFIX.length + 12);
      if (k !== ownKey) byRun.set(k, [...(byRun.get(k) ?? []), r.name]);
    }
    let dropped = 0;
    for (const [k, tables] of byRun) {
      const lock = `loader_run:${k}`;
      const { rows: got } = await this.query<{ ok: boolean }>(
        `SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok`,
        [lock],
      );
      if (!got[0]?.ok) continue; // that run is alive
      try {
        for (const t of tables) {
          await this.query(`DROP TABLE IF EXISTS ${quoteIdent(schema)}.${quoteIdent(t)}`, []);
          if (new RegExp(`${FILE_STAGING}$`).test(t)) dropped++;
        }
      } finally {
        await this.query(`SELECT pg_advisory_unlock(hashtextextended($1, 0))`, [lock]);
      }
    }
    return dropped;
  }

  /** Claims a file's content for this target; false when another run holds it. Same-session advisory locks
   * are re-entrant, so a second file with the same content in this run is told apart here. */
  async claimFile(targetOid: number, sha256: string): Promise<'claimed' | 'other-run' | 'this-run'> {
    const key = `loader_file:${targetOid}:${sha256}`;
    if (this.held.has(key)) return 'this-run';
    if (this.broken) return 'claimed'; // without the claim session, the unique index still keeps loads single
    try {
      const { rows } = await this.query<{ ok: boolean }>(
        `SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok`,
        [key],
      );
      if (!rows[0]?.ok) return 'other-run';
    } catch {
      this.broken = true;
      return 'claimed';
    }
    this.held.add(key);
    return 'claimed';
  }

  async releaseFile(targetOid: number, sha256: string): Promise<void> {
    const key = `loader_file:${targetOid}:${sha256}`;
    if (!this.held.delete(key) || this.broken) return;
    await this.query(`SELECT pg_advisory_unlock(hashtextextended($1, 0))`, [key]).catch(() => {
      this.broken = true;
    });
  }

  async close(): Promise<void> {
    await endWithin(this.client, this.endMs);
  }
}
