// `loader check`: before any data moves, what a load into this table would need and whether the role has it: the
// server's version, the connections left, the audit table, and one line per missing grant (as the GRANT to run).
// Exit 0 when nothing is missing, 1 when something is, 2 usage, 3 when the server cannot be reached.
import { Command, Option } from 'commander';
import type pg from 'pg';
import { auditTable } from './audit.js';
import { readTarget, type Target } from './catalog.js';
import type { Subcommand } from './cli.js';
import { MODES, redact, resolveConfig, type Config, type Mode } from './config.js';
import { availableConnections, connectFirst, endWithin } from './db.js';
import { LoaderError } from './errors.js';
import { quoteIdent } from './sql.js';
import { VERSION } from './version.js';

export interface CheckReport {
  lines: string[];
  missing: string[];
}

/** What the role lacks for this target and mode (pure once the catalog facts are read). */
export async function checkGrants(
  client: pg.ClientBase,
  target: Target,
  opts: { direct: boolean },
): Promise<CheckReport> {
  const lines: string[] = [];
  const missing: string[] = [];
  const { rows: who } = await client.query<{ u: string }>(`SELECT current_user AS u`);
  const role = quoteIdent(who[0]?.u ?? 'current_user');
  const schema = quoteIdent(target.schema);
  const has = async (sql: string, params: unknown[]): Promise<boolean> =>
    (await client.query<{ ok: boolean }>(`SELECT ${sql} AS ok`, params)).rows[0]?.ok === true;
  const need = (what: string, on: string, grant: string): void => {
    missing.push(`missing: ${what} on ${on} (GRANT ${grant} TO ${role})`);
  };
  const schemaPriv = (p: string): Promise<boolean> => has(`has_schema_privilege($1, $2)`, [target.schema, p]);
  const tablePriv = (t: string, p: string): Promise<boolean> => has(`has_table_privilege($1, $2)`, [t, p]);

  if (!(await schemaPriv('USAGE'))) need('USAGE', `schema ${schema}`, `USAGE ON SCHEMA ${schema}`);
  const canCreate = await schemaPriv('CREATE');
  const audit = auditTable(target.schema);
  const auditExists = await has(`to_regclass($1) IS NOT NULL`, [audit]);
  if (auditExists) {
    const sel = await tablePriv(audit, 'SELECT');
    const ins = await tablePriv(audit, 'INSERT');
    lines.push(`audit table: ${audit} exists${sel && ins ? '' : ' (not writable by this role)'}`);
    for (const [p, ok] of [
      ['SELECT', sel],
      ['INSERT', ins],
    ] as const)
      if (!ok) need(p, audit, `${p} ON ${audit}`);
  } else {
    lines.push(`audit table: ${audit} is missing; the first run creates it`);
    if (!canCreate)
      need('CREATE (to create the audit table)', `schema ${schema}`, `CREATE ON SCHEMA ${schema}`);
  }
  const direct = opts.direct && target.mode === 'append';
  if (!direct && !canCreate && auditExists)
    need('CREATE (for staging tables)', `schema ${schema}`, `CREATE ON SCHEMA ${schema}`);

  const privs = new Set<string>(['INSERT']);
  if (target.mode === 'upsert') ['SELECT', 'UPDATE'].forEach((p) => privs.add(p));
  if (target.mode === 'insert-only') privs.add('SELECT');
  if (target.mode === 'replace') {
    privs.add(target.referenced ? 'DELETE' : 'TRUNCATE');
    if (target.key) ['SELECT', 'UPDATE'].forEach((p) => privs.add(p));
  }
  for (const p of privs) if (!(await tablePriv(target.sql, p))) need(p, target.sql, `${p} ON ${target.sql}`);

  // Sequences that column defaults call (serial, nextval()); identity columns need no grant of their own.
  const { rows: seqs } = await client.query<{ seq: string; ok: boolean }>(
    `SELECT DISTINCT d.refobjid::regclass::text AS seq, has_sequence_privilege(d.refobjid, 'USAGE') AS ok
       FROM pg_attrdef ad JOIN pg_depend d ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid
        AND d.refclassid = 'pg_class'::regclass
       JOIN pg_class c ON c.oid = d.refobjid AND c.relkind = 'S'
      WHERE ad.adrelid = $1`,
    [target.oid],
  );
  for (const s of seqs) if (!s.ok) need('USAGE', `sequence ${s.seq}`, `USAGE ON SEQUENCE ${s.seq}`);
  return { lines, missing };
}

async function runCheck(o: {
  dsn?: string;
  table: string;
  mode?: Mode;
  key?: string;
  direct?: boolean;
  connectTimeout: number;
}): Promise<number> {
  let config: Config;
  try {
    // The load's own resolution (flags > env > defaults); the file list is not used by a check.
    config = resolveConfig(
      {
        dsn: o.dsn,
        table: o.table,
        files: ['(check)'],
        mode: o.mode,
        key: o.key?.split(','),
        connectTimeoutMs: o.connectTimeout * 1000,
      },
      process.env,
      VERSION,
    );
  } catch (err) {
    process.stderr.write(`loader check: ${(err as Error).message}\n`);
    return 2;
  }
  const out = (s: string): boolean => process.stdout.write(s + '\n');
  let client: pg.Client | undefined;
  try {
    const first = await connectFirst(config);
    client = first.client;
    const { rows } = await client.query<{ v: string }>(`SELECT version() AS v`);
    out(`server: ${rows[0]?.v ?? 'unknown'} (server_version_num ${first.serverVersion})`);
    const { available, detail } = await availableConnections(client);
    const wanted = config.concurrency * config.internalConcurrency + 5 + 1;
    out(
      `connections: ${available} free for this role (${detail}); a default run wants ${wanted}` +
        (available < wanted ? ', so it will run with lower concurrency' : ''),
    );
    let target: Target;
    try {
      target = await readTarget(client, config);
    } catch (err) {
      if (!(err instanceof LoaderError)) throw err;
      out(`missing: ${err.message}`);
      return 1;
    }
    out(`target: ${target.sql}, mode ${target.mode}${target.key ? `, key (${target.key.join(', ')})` : ''}`);
    const report = await checkGrants(client, target, { direct: o.direct !== false });
    for (const l of [...report.lines, ...report.missing]) out(l);
    if (report.missing.length === 0) out('ok: nothing missing');
    return report.missing.length === 0 ? 0 : 1;
  } catch (err) {
    process.stderr.write(
      `loader check: cannot check: ${redact((err as Error).message, config.secrets)} [CONNECTION]\n`,
    );
    return 3;
  } finally {
    if (client) await endWithin(client, config.connectTimeoutMs);
  }
}

export const checkCommand: Subcommand = {
  name: 'check',
  make(exit) {
    return new Command('loader check')
      .description(
        'Check, before loading, that the role may load into the table: grants per mode, the audit table, connections left, the server version. Exit 0 all fine, 1 something missing (one line each), 3 cannot connect.',
      )
      .addOption(new Option('--dsn <url>', 'postgres://user:pass@host:port/db').env('DATABASE_URL'))
      .requiredOption('-t, --table <[schema.]table>', 'the target table')
      .addOption(
        new Option('--mode <mode>', 'the mode to check for (default: as a load would choose)').choices(MODES),
      )
      .option('--key <cols>', 'key columns, comma-separated')
      .option('--direct', 'append direct, no staging tables (the default)')
      .option('--no-direct', 'append through staging tables (loader --no-direct): needs CREATE on the schema')
      .option('--connect-timeout <s>', 'seconds to wait for a connection', (v) => Number(v), 30)
      .action((o: Parameters<typeof runCheck>[0]) => exit(runCheck(o)));
  },
};
