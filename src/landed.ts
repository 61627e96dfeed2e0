// Merging a file's staging into the target sub-batch by sub-batch, as each one lands, in its own transaction open
// alongside the COPYs (one more connection), instead of in one statement once the last one has landed: on 2 cores
// the merge (one backend, CPU-bound) then runs while the COPYs and the conversions use the other core.
//
// The same result as the one merge, or nothing: it merges sub-batch k only after 0..k-1, so a later occurrence of a
// key still wins; and with a key it goes on only while each sub-batch's smallest key is above every key merged
// before (a file sorted by its key: the common export), so no key is met twice (the inserted and updated counts
// stay exact) and the rows are locked in key order over the whole file, as the one sorted merge locks them (two
// loaders upserting overlapping keys cannot deadlock). Any other outcome (a key out of order, a constraint
// error, a lost connection, the file changed) rolls it all back and the one merge runs as before, which meets the
// same error and deals with it as it always did: this path only ever saves time. Each sub-batch (the first
// BATCH_TABLES of them) is COPYed into a table of its own under the file's staging table (INHERITS: every other
// reader of staging sees all of them), so the merge of sub-batch k reads one small table whole, and no index slows
// the COPYs. An upsert merges each sub-batch by MERGE where that gives ON CONFLICT's result (merge.ts,
// upsertsByMerge): less of the server's CPU and WAL per row.
import type pg from 'pg';
import { inTransaction, withClient } from './db.js';
import type { Mode } from './config.js';
import type { Target } from './catalog.js';
import {
  BATCH_COL,
  batchNumber,
  landedUpsertSql,
  mergeSql,
  upsertsByMerge,
  type FileColumn,
} from './merge.js';
import type { KeyRange } from './keyrange.js';
import { quoteIdent } from './sql.js';

/** Sub-batches 0 to BATCH_TABLES - 1 of a file merged as they land get tables of their own (batchTableDdl); later
 * ones go into staging itself, read through an index on its sub-batch column (batchIndexDdl). Each table of its own
 * costs the merge transaction a lock to read and about 11 to drop (the table, its TOAST table and index, its
 * identity sequence, ...): 64 of them took 717 locks; the server's lock table holds max_locks_per_transaction (64 by
 * default) times max_connections for all sessions together (6,400 on a default server), so hundreds would run it
 * out, and so could the merges of 8 appends at once (--no-direct, which do not wait for each other) at 64 each. */
export const BATCH_TABLES = 32;

/** The staging index the merges of the sub-batches past BATCH_TABLES read by (created with the staging table). */
export function batchIndexDdl(stagingSql: string): string {
  return `CREATE INDEX ON ${stagingSql} (${quoteIdent(BATCH_COL)})`;
}

/** The file column of a one-column key, the one whose order the merge as landed checks. */
function orderKey(target: Target, columns: FileColumn[]): FileColumn | undefined {
  return target.key?.length === 1 ? columns.find((c) => c.target?.name === target.key![0]) : undefined;
}

/** Whether a file's staging can be merged as it lands: not replace (its merges wait for the run's transaction);
 * with a key, only a one-column key the file loads (the order check compares one value). */
export function mergesAsLanded(target: Target, columns: FileColumn[], mode: Mode): boolean {
  if (mode === 'replace') return false;
  return mode === 'append' || orderKey(target, columns) !== undefined;
}

/** The order check of one sub-batch: its smallest key above the largest merged so far (text, NULL at first), and
 * its largest as text for the next check. An empty sub-batch passes and keeps the previous largest. */
export function boundsSql(stagingSql: string, keyStaging: string, keyType: string, batch: number): string {
  const k = quoteIdent(keyStaging);
  return (
    `SELECT (min(${k}) IS NULL OR $1::text IS NULL OR min(${k}) > CAST($1::text AS ${keyType})) AS ok, ` +
    `COALESCE(max(${k})::text, $1::text) AS hi FROM ${stagingSql} WHERE ${quoteIdent(BATCH_COL)} = ${batchNumber(batch)}`
  );
}

export interface LandedJob {
  pool: pg.Pool;
  target: Target;
  stagingSql: string;
  /** what the merge of sub-batch k reads (its own table under stagingSql, or ONLY stagingSql past BATCH_TABLES) */
  batchSql: (k: number) => string;
  columns: FileColumn[];
  mode: Mode;
  /** resolves when this file may merge (every earlier file has finished) */
  turn: () => Promise<void>;
  /** after the last sub-batch, in the transaction: the checks, the counts, the audit row, the staging dropped */
  finish: (client: pg.PoolClient, merged: { inserted: number; updated: number }) => Promise<void>;
}

/** Not an error: the merge as landed stopped (out of order, or the file is failing) and left nothing behind. */
export class NotMerged extends Error {}

export class LandedMerge {
  /** the sub-batches landed, with their key range where the converter read it */
  private readonly landed = new Map<number, KeyRange | undefined>();
  private total: number | undefined;
  private stopped = false;
  /** sub-batches merged so far, from the merge's turn until it ends (pacing: room()); undefined before and after */
  private merged: number | undefined;
  private readonly waiting = new Set<() => void>();
  private wake: (() => void) | undefined;
  private halt: (() => void) | undefined;
  /** resolves true once committed; false when it rolled back (the one merge then runs) */
  readonly done: Promise<boolean>;
  /** why it rolled back, for the log */
  reason: string | undefined;
  /** the statement that merges each sub-batch: MERGE for an upsert where the target allows it, else INSERT */
  readonly statement: 'MERGE' | 'INSERT';

  constructor(private readonly job: LandedJob) {
    this.statement = upsertsByMerge(job.target, job.columns, job.mode) ? 'MERGE' : 'INSERT';
    this.done = this.run().then(
      () => {
        this.pace(undefined);
        return true;
      },
      (err: Error) => {
        this.reason = err.message;
        this.pace(undefined);
        return false;
      },
    );
  }

  /** sub-batch `b` is in staging, committed; `keys`: the range of its one-column integer key (src/keyrange.ts) */
  land(b: number, keys?: KeyRange): void {
    this.landed.set(b, keys);
    this.wake?.();
  }

  /** every sub-batch has landed: `total` of them */
  end(total: number): void {
    this.total = total;
    this.wake?.();
  }

  /** the file is failing: roll back and let go of the connection */
  stop(): Promise<boolean> {
    this.stopped = true;
    this.wake?.();
    this.halt?.();
    return this.done;
  }

  /** Resolves when sub-batch k may start its COPY: from the merge's turn on, once k is at most `ahead`
   * past the sub-batch being merged. The merge (one backend) is the file's slowest part: COPYs further ahead only
   * take CPU from it where the loader and the server share cores (the bench's upsert on 2 cores, by hand: 6.1 to
   * 6.2 s against 6.5 to 6.6 unpaced), and pile up in staging. Before the merge's turn, and once it ended, at once. */
  room(k: number, ahead: number, signal: AbortSignal): Promise<void> {
    const free = (): boolean => this.merged === undefined || k <= this.merged + ahead || signal.aborted;
    if (free()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const check = (): void => {
        if (!free()) return;
        this.waiting.delete(check);
        signal.removeEventListener('abort', check);
        resolve();
      };
      this.waiting.add(check);
      signal.addEventListener('abort', check, { once: true });
    });
  }

  private pace(merged: number | undefined): void {
    this.merged = merged;
    for (const check of [...this.waiting]) check();
  }

  /** true once sub-batch k has landed, false when there is none (every one has been merged) */
  private async next(k: number): Promise<boolean> {
    for (;;) {
      if (this.stopped) throw new NotMerged('stopped');
      if (this.landed.has(k)) return true;
      if (this.total !== undefined) {
        if (k >= this.total) return false;
        throw new NotMerged(`sub-batch ${k} never landed`);
      }
      await new Promise<void>((r) => (this.wake = r));
    }
  }

  /** Merges sub-batch k: its inserted and updated counts. `rising`: its keys rise strictly, so it holds no key
   * twice and is read in key order as it lies (no DISTINCT ON, no sort). */
  private async merge(
    client: pg.PoolClient,
    k: number,
    rising: boolean,
  ): Promise<{ inserted: string; updated: string }[]> {
    const { job } = this;
    type Counts = { inserted: string; updated: string };
    if (this.statement === 'INSERT')
      return (
        await client.query<Counts>(
          mergeSql(job.target, job.batchSql(k), job.columns, job.mode, k, { rising }),
        )
      ).rows;
    // several statements in one query: a result each (SET, SET, the counts, RESET, RESET)
    const out = (await client.query(
      landedUpsertSql(job.target, job.batchSql(k), job.columns, k, rising),
    )) as unknown as pg.QueryResult<Counts>[];
    const counts = out.find((r) => r.command === 'SELECT');
    if (!counts) throw new Error('MERGE gave back no counts'); // rolls back: the one merge then runs
    return counts.rows;
  }

  private async run(): Promise<void> {
    const { job } = this;
    // a failing file does not wait for the files before it to finish
    await Promise.race([job.turn(), new Promise<void>((r) => (this.halt = r))]);
    if (this.stopped) throw new NotMerged('stopped');
    this.pace(0); // paced from the turn on, not only once the connection is open: the first COPYs are quick
    const key = job.mode === 'append' ? undefined : orderKey(job.target, job.columns);
    await withClient(job.pool, (client) =>
      inTransaction(client, async () => {
        const merged = { inserted: 0, updated: 0 };
        let hi: string | null = null;
        for (let k = 0; await this.next(k); k++) {
          const keys = this.landed.get(k);
          if (key && keys) {
            // the converter read the sub-batch's integer keys: the same check without reading its table
            if (hi !== null && BigInt(keys.lo) <= BigInt(hi))
              throw new NotMerged(`sub-batch ${k}'s keys do not all follow the earlier ones`);
            hi = keys.hi;
          } else if (key) {
            const b: pg.QueryResult<{ ok: boolean | null; hi: string | null }> = await client.query(
              boundsSql(job.batchSql(k), key.stagingName, key.target!.type, k),
              [hi],
            );
            const row = b.rows[0];
            if (row?.ok !== true)
              throw new NotMerged(`sub-batch ${k}'s keys do not all follow the earlier ones`);
            hi = row.hi;
          }
          const rows = await this.merge(client, k, !!key && keys?.rising === true);
          merged.inserted += Number(rows[0]?.inserted ?? 0);
          merged.updated += Number(rows[0]?.updated ?? 0);
          this.pace(k + 1);
        }
        if (this.stopped) throw new NotMerged('stopped');
        await job.finish(client, merged);
      }),
    );
  }
}
