// The audit table: one row per file per run, in the target's schema (`loader_audit`). A succeeded row is written
// in the same transaction as the file's rows; a partial unique index over (target oid, sha256) for succeeded,
// unforced loads makes "loaded once" hold in the database even across hosts.
import type pg from 'pg';
import { inTransaction } from './db.js';
import { qualified } from './sql.js';

export const AUDIT_TABLE = 'loader_audit';
export const AUDIT_ONCE_INDEX = 'loader_audit_once';

export type FileStatus = 'succeeded' | 'failed' | 'skipped' | 'cancelled';

export interface AuditRow {
  runId: string;
  loadId: string;
  path: string;
  sha256: string | null;
  bytes: number;
  format: string;
  targetOid: number;
  targetSchema: string;
  targetTable: string;
  mode: string;
  status: FileStatus;
  forced: boolean;
  rowsRead: number;
  rowsInserted: number;
  rowsUpdated: number;
  rowsSkipped: number;
  rowsRejected: number;
  subBatches: number;
  retries: number;
  startedAt: Date;
  finishedAt: Date;
  errorCode: string | null;
  errorMessage: string | null;
  host: string;
  loaderVersion: string;
}

export function auditTable(schema: string): string {
  return qualified(schema, AUDIT_TABLE);
}

/** Creates the audit table and its index when missing. Serialized by an advisory lock: concurrent
 * CREATE ... IF NOT EXISTS can still collide in the catalog. */
export async function ensureAuditTable(client: pg.ClientBase, schema: string): Promise<void> {
  const t = auditTable(schema);
  const exists = await client.query(`SELECT to_regclass($1) IS NOT NULL AS ok`, [t]);
  if (exists.rows[0]?.ok) return;
  await inTransaction(client, async () => {
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('loader_audit_ddl'))`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${t} (
      id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      run_id         uuid        NOT NULL,
      load_id        uuid        NOT NULL UNIQUE,
      file_path      text        NOT NULL,
      file_sha256    text,
      file_bytes     bigint      NOT NULL,
      format         text        NOT NULL,
      target_oid     oid         NOT NULL,
      target_schema  text        NOT NULL,
      target_table   text        NOT NULL,
      mode           text        NOT NULL,
      status         text        NOT NULL CHECK (status IN ('succeeded', 'failed', 'skipped', 'cancelled')),
      forced         boolean     NOT NULL DEFAULT false,
      rows_read      bigint      NOT NULL DEFAULT 0,
      rows_inserted  bigint      NOT NULL DEFAULT 0,
      rows_updated   bigint      NOT NULL DEFAULT 0,
      rows_skipped   bigint      NOT NULL DEFAULT 0,
      rows_rejected  bigint      NOT NULL DEFAULT 0,
      sub_batches    integer     NOT NULL DEFAULT 0,
      retries        integer     NOT NULL DEFAULT 0,
      started_at     timestamptz NOT NULL,
      finished_at    timestamptz NOT NULL,
      duration_ms    bigint      NOT NULL,
      error_code     text,
      error_message  text,
      host           text        NOT NULL,
      loader_version text        NOT NULL
    )`);
    await client.query(
      `CREATE UNIQUE INDEX IF NOT EXISTS ${AUDIT_ONCE_INDEX} ON ${t} (target_oid, file_sha256)
        WHERE status = 'succeeded' AND NOT forced`,
    );
    await client.query(`CREATE INDEX IF NOT EXISTS loader_audit_finished ON ${t} (finished_at)`);
  });
}

export async function insertAudit(client: pg.ClientBase, schema: string, a: AuditRow): Promise<void> {
  await client.query(
    `INSERT INTO ${auditTable(schema)} (run_id, load_id, file_path, file_sha256, file_bytes, format, target_oid,
       target_schema, target_table, mode, status, forced, rows_read, rows_inserted, rows_updated, rows_skipped,
       rows_rejected, sub_batches, retries, started_at, finished_at, duration_ms, error_code, error_message, host,
       loader_version)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24,$25,$26)`,
    [
      a.runId,
      a.loadId,
      a.path,
      a.sha256,
      a.bytes,
      a.format,
      a.targetOid,
      a.targetSchema,
      a.targetTable,
      a.mode,
      a.status,
      a.forced,
      a.rowsRead,
      a.rowsInserted,
      a.rowsUpdated,
      a.rowsSkipped,
      a.rowsRejected,
      a.subBatches,
      a.retries,
      a.startedAt,
      a.finishedAt,
      a.finishedAt.getTime() - a.startedAt.getTime(),
      a.errorCode,
      a.errorMessage,
      a.host,
      a.loaderVersion,
    ],
  );
}

/** Whether this content was already loaded into this target (by any run, on any host). */
export async function alreadyLoaded(
  client: pg.ClientBase,
  schema: string,
  targetOid: number,
  sha256: string,
): Promise<{ runId: string; finishedAt: Date } | undefined> {
  const { rows } = await client.query<{ run_id: string; finished_at: Date }>(
    `SELECT run_id, finished_at FROM ${auditTable(schema)}
      WHERE target_oid = $1 AND file_sha256 = $2 AND status = 'succeeded' ORDER BY id DESC LIMIT 1`,
    [targetOid, sha256],
  );
  const r = rows[0];
  return r && { runId: r.run_id, finishedAt: r.finished_at };
}

export async function auditExists(client: pg.ClientBase, schema: string, loadId: string): Promise<boolean> {
  const { rows } = await client.query(`SELECT 1 FROM ${auditTable(schema)} WHERE load_id = $1`, [loadId]);
  return rows.length > 0;
}
