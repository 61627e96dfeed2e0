// The connection pool: sized concurrency x internal-concurrency + 5, fitted to what the server and the role
// allow, with per-session settings (time zone, application name). Who checks a client out releases it, passing
// the error so a broken connection is evicted; a checked-out client always has an error listener.
import pg from 'pg';
import type { Config } from './config.js';
import {
  clientConfig as connectionConfig,
  connectFirst as connectSettled,
  type Connection,
} from './connection.js';
import { classifyError } from './errors.js';
import { watchConnection, type WatchOptions } from './watchdog.js';

export interface PoolPlan {
  concurrency: number;
  internalConcurrency: number;
  poolSize: number;
}

/** The pool budget: each file may hold `internal` COPY connections; +5 covers the run's own catalog, DDL, merge
 * and audit connections. Lowered to fit `available` connections: file concurrency first, then internal. */
export function planPool(
  concurrency: number,
  internal: number,
  available: number = Number.POSITIVE_INFINITY,
): PoolPlan {
  const size = (c: number, i: number): number => c * i + 5;
  let c = concurrency;
  let i = internal;
  if (size(c, i) > available) c = Math.max(1, Math.floor((available - 5) / i));
  if (size(c, i) > available) i = Math.max(1, available - 5);
  const poolSize = Math.max(
    2,
    Math.min(size(c, i), Number.isFinite(available) ? Math.max(2, available) : size(c, i)),
  );
  return { concurrency: c, internalConcurrency: i, poolSize };
}

/** The settings every loader session starts with, in the startup packet: they win over a role's or database's
 * `ALTER ... SET` (a short statement_timeout, lock_timeout or idle timeout there would cut a COPY or a merge short).
 * transaction_timeout exists from PostgreSQL 17 on: named only when the server is known to have it (an unknown
 * setting in the startup packet refuses the connection). */
export function sessionSettings(
  config: Pick<Config, 'timezone'>,
  serverVersionNum = 0,
): Record<string, string> {
  return {
    TimeZone: config.timezone,
    statement_timeout: '0',
    lock_timeout: '0',
    idle_in_transaction_session_timeout: '0',
    idle_session_timeout: '0',
    ...(serverVersionNum >= 170000 ? { transaction_timeout: '0' } : {}),
  };
}

/** What every connection the loader opens is given: the connection as libpq would resolve it (src/connection.ts:
 * host, TLS, password, connect timeout, which covers the whole start-up, so a server that accepts and never answers
 * fails in time), TCP keepalive (a peer that vanished is noticed on an idle wait) and the session settings. The
 * DSN's own `options=` (else PGOPTIONS) comes after loader's, so what it sets wins. */
export function clientConfig(
  config: Pick<Config, 'connection' | 'timezone'>,
  serverVersionNum = 0,
): pg.ClientConfig {
  return connectionConfig(config.connection, sessionExtra(config, serverVersionNum));
}

function sessionExtra(config: Pick<Config, 'timezone'>, serverVersionNum: number): pg.PoolConfig {
  const ours = Object.entries(sessionSettings(config, serverVersionNum)).map(
    ([k, v]) => `-c ${k}=${v.replace(/([\\ ])/g, '\\$1')}`,
  );
  return { keepAlive: true, keepAliveInitialDelayMillis: 10_000, options: ours.join(' ') };
}

type ConnectionConfig = Pick<Config, 'connection' | 'connectTimeoutMs' | 'timezone' | 'stallTimeoutMs'>;

/** The stall watchdog's options for connections to this server (src/watchdog.ts). */
export function watchOptions(config: ConnectionConfig, serverVersionNum = 0): WatchOptions {
  return { stallMs: config.stallTimeoutMs, probe: clientConfig(config, serverVersionNum) };
}

const onClientError = (): void => {
  // The error surfaces on the query in flight; this listener only keeps a dead backend from crashing the process.
};

const poolClients = new WeakMap<pg.Pool, Set<pg.PoolClient>>();

export function createPool(config: Config, max: number, serverVersionNum = 0): pg.Pool {
  const pool = new pg.Pool({ ...clientConfig(config, serverVersionNum), max, idleTimeoutMillis: 10_000 });
  const watch = watchOptions(config, serverVersionNum);
  const clients = new Set<pg.PoolClient>();
  poolClients.set(pool, clients);
  pool.on('connect', (client) => {
    // For the client's whole life: a backend that dies between two messages of one TCP read (its connection
    // handed out and terminated at once) emits 'error' before withClient() can listen.
    client.on('error', onClientError);
    clients.add(client);
    watchConnection(client, watch);
  });
  pool.on('remove', (client) => clients.delete(client));
  return pool;
}

/** Ends a client, waiting at most `ms` for the server to see it off: a frozen connection never answers the
 * goodbye, so its socket is destroyed then (the server notices on its own). */
export async function endWithin(client: pg.Client | pg.PoolClient, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const ended = 'release' in client ? Promise.resolve() : client.end().catch(() => {});
  await Promise.race([ended, new Promise((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
  (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}

/** pool.end(), bounded the same way. */
export async function endPool(pool: pg.Pool, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([pool.end().catch(() => {}), new Promise((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
  for (const c of poolClients.get(pool) ?? []) await endWithin(c, 0);
}

/** The run's first connection, before the server's version is known: settles TLS for sslmode prefer/allow (the
 * returned connection has it decided, for every later connection of the run), and tries the settings of the newest
 * servers, then, when the server does not know one of them (42704: an unknown setting refuses the connection),
 * those every supported server knows. Its error listener is set; the caller ends it. */
export async function connectFirst(
  config: ConnectionConfig,
): Promise<{ client: pg.Client; serverVersion: number; connection: Connection }> {
  for (const assumed of [NEWEST, 0]) {
    try {
      const { client, connection } = await connectSettled(config.connection, sessionExtra(config, assumed));
      watchConnection(client, watchOptions({ ...config, connection }, assumed));
      return { client, connection, serverVersion: await serverVersionNum(client) };
    } catch (err) {
      if (assumed === 0 || (err as { code?: string }).code !== '42704') throw err;
    }
  }
  throw new Error('unreachable');
}
const NEWEST = 170000;

/** server_version_num, e.g. 160004. */
export async function serverVersionNum(client: pg.ClientBase): Promise<number> {
  const { rows } = await client.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`);
  return Number(rows[0]?.v ?? 0);
}

/** Free connection slots for this role on this server, counting the connection asking. */
export async function availableConnections(
  client: pg.ClientBase,
): Promise<{ available: number; detail: string }> {
  const { rows } = await client.query<{
    max_conn: number;
    reserved: number;
    in_use: number;
    role_limit: number;
    role_in_use: number;
    is_super: boolean;
  }>(`SELECT current_setting('max_connections')::int AS max_conn,
            current_setting('superuser_reserved_connections')::int
              + coalesce(nullif(current_setting('reserved_connections', true), '')::int, 0) AS reserved,
            -- Other roles' rows show a NULL backend_type to a role without pg_read_all_stats: count those that
            -- have a user (client sessions; at most the logical replication launcher besides, an overcount of one).
            (SELECT count(*)::int FROM pg_stat_activity
              WHERE backend_type = 'client backend' OR (backend_type IS NULL AND usename IS NOT NULL)) AS in_use,
            r.rolconnlimit AS role_limit,
            (SELECT count(*)::int FROM pg_stat_activity
              WHERE backend_type = 'client backend' AND usename = current_user) AS role_in_use,
            r.rolsuper AS is_super
       FROM pg_roles r WHERE r.rolname = current_user`);
  const r = rows[0];
  if (!r) return { available: Number.POSITIVE_INFINITY, detail: 'unknown' };
  const server = r.max_conn - (r.is_super ? 0 : r.reserved) - r.in_use + 1;
  const role = r.role_limit >= 0 && !r.is_super ? r.role_limit - r.role_in_use + 1 : Number.POSITIVE_INFINITY;
  return {
    available: Math.max(1, Math.min(server, role)),
    detail: `max_connections=${r.max_conn}, reserved=${r.reserved}, in use=${r.in_use}, role limit=${r.role_limit}, role in use=${r.role_in_use}`,
  };
}

/** Runs fn with a pooled client; the client is released in finally, evicted when fn failed with a connection
 * error (a data error leaves the connection usable). */
export async function withClient<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  client.on('error', onClientError);
  let failure: Error | undefined;
  try {
    return await fn(client);
  } catch (err) {
    // Anything but a server-reported error may have left the protocol mid-stream, and a server-reported one of the
    // retry kind (57P01 terminated, 08xxx) means the session is gone: evict the connection.
    if (!(err instanceof pg.DatabaseError) || classifyError(err) === 'retry')
      failure = err instanceof Error ? err : new Error(String(err));
    throw err;
  } finally {
    client.off('error', onClientError);
    client.release(failure);
  }
}

/** BEGIN ... COMMIT around fn; ROLLBACK on failure. */
export async function inTransaction<T>(client: pg.ClientBase, fn: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const out = await fn();
    await client.query('COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}
