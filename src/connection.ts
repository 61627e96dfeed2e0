// Where and how to connect, resolved once as libpq does: the DSN (a postgres:// URL or key=value words) first,
// then the PG* variables, then libpq's defaults; the password from the DSN, PGPASSWORD or the password file.
// sslmode keeps libpq's meanings (node-postgres reads prefer and require as verify-full): disable and allow start
// in plaintext, prefer tries TLS and falls back, require encrypts without verifying, verify-ca checks the chain,
// verify-full the host name too. Every pg.Client and pg.Pool of the loader is built from clientConfig().
import { existsSync, readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { LoaderError } from './errors.js';
import { pgpassPassword } from './pgpass.js';

export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

export interface Connection {
  /** where the DSN came from; 'PG*' when there was none */
  readonly source: 'option' | 'DATABASE_URL' | 'PG*';
  /** the DSN as given (holds the password: never print it) */
  readonly connectionString?: string;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  readonly applicationName: string;
  readonly sslmode: SslMode;
  /** a CA file path, or 'system' for the system's CAs */
  readonly sslrootcert?: string;
  readonly connectTimeoutMs: number;
  /** where the password came from (the password itself is a non-enumerable property) */
  readonly passwordFrom?: 'dsn' | 'PGPASSWORD' | 'pgpass';
  readonly password?: string;
  /** libpq would have printed it: a password file ignored for its permissions */
  readonly warning?: string;
  /** after negotiation (prefer, allow): whether this run's connections use TLS */
  readonly tls?: boolean;
}

const KEYS = new Set([
  'host',
  'port',
  'dbname',
  'user',
  'password',
  'application_name',
  'fallback_application_name',
  'connect_timeout',
  'sslmode',
  'sslrootcert',
  'options',
]);

function bad(message: string): LoaderError {
  return new LoaderError('USAGE', message);
}

/** key=value words, values optionally 'single-quoted' with \' and \\ escapes. */
function parseKeywords(dsn: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /\s*([A-Za-z_]+)\s*=\s*(?:'((?:[^'\\]|\\.)*)'|(\S*))/gy;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = re.exec(dsn)) !== null) {
    out.set(m[1]!, m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!);
    end = re.lastIndex;
  }
  if (dsn.slice(end).trim() !== '')
    throw bad('the connection string is neither a postgres:// URL nor key=value');
  return out;
}

function parseUrl(dsn: string): Map<string, string> {
  let u: URL;
  try {
    u = new URL(dsn);
  } catch {
    throw bad('the connection string is not a valid postgres:// URL');
  }
  const out = new Map<string, string>();
  const dec = (s: string): string => decodeURIComponent(s);
  if (u.hostname) out.set('host', dec(u.hostname).replace(/^\[(.*)\]$/, '$1'));
  if (u.port) out.set('port', u.port);
  if (u.username) out.set('user', dec(u.username));
  if (u.password) out.set('password', dec(u.password));
  if (u.pathname.length > 1) out.set('dbname', dec(u.pathname.slice(1)));
  for (const [k, v] of u.searchParams) out.set(k, v);
  return out;
}

/** The DSN's parameters by libpq's names; unknown ones are a usage error naming them. */
export function parseDsn(dsn: string): Map<string, string> {
  const params = /^postgres(ql)?:\/\//i.test(dsn) ? parseUrl(dsn) : parseKeywords(dsn);
  for (const k of params.keys()) {
    if (!KEYS.has(k)) throw bad(`connection parameter ${JSON.stringify(k)} is not supported`);
  }
  if ((params.get('host') ?? '').includes(','))
    throw bad('several hosts in one connection string are not supported');
  return params;
}

/** libpq's default host: the Unix socket directory when a server listens there, else localhost. */
function defaultHost(port: number): string {
  for (const dir of ['/var/run/postgresql', '/tmp']) {
    if (existsSync(join(dir, `.s.PGSQL.${port}`))) return dir;
  }
  return 'localhost';
}

function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'postgres';
  }
}

/** Seconds as libpq reads connect_timeout: a whole number; 0, negative or invalid means "not set" here (the
 * loader never waits forever), values under 2 count as 2. */
function timeoutSeconds(v: string | undefined): number | undefined {
  if (v === undefined || !/^-?\d+$/.test(v.trim())) return undefined;
  const n = Number(v);
  return n <= 0 ? undefined : Math.max(2, n);
}

export function resolveConnection(
  dsn: string | undefined,
  source: Connection['source'],
  env: NodeJS.ProcessEnv,
  connectTimeoutMs?: number,
): Connection {
  const p = dsn ? parseDsn(dsn) : new Map<string, string>();
  const get = (k: string, envName: string): string | undefined => p.get(k) || env[envName] || undefined;
  const portText = get('port', 'PGPORT') ?? '5432';
  if (!/^\d+$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535)
    throw bad(`port ${JSON.stringify(portText)} is not a port number`);
  const port = Number(portText);
  const host = get('host', 'PGHOST') || defaultHost(port);
  const user = get('user', 'PGUSER') ?? osUser();
  const database = get('dbname', 'PGDATABASE') ?? user;
  const sslmode = (get('sslmode', 'PGSSLMODE') ?? 'prefer') as SslMode;
  if (!SSL_MODES.includes(sslmode))
    throw bad(`sslmode must be one of ${SSL_MODES.join(', ')}, got ${JSON.stringify(sslmode)}`);
  const secs = timeoutSeconds(p.get('connect_timeout')) ?? timeoutSeconds(env.PGCONNECT_TIMEOUT);
  let password: string | undefined;
  let passwordFrom: Connection['passwordFrom'];
  let warning: string | undefined;
  if (p.get('password')) [password, passwordFrom] = [p.get('password'), 'dsn'];
  else if (env.PGPASSWORD) [password, passwordFrom] = [env.PGPASSWORD, 'PGPASSWORD'];
  else {
    const found = pgpassPassword({ host, port, database, user }, env);
    warning = found.warning;
    if (found.password !== undefined) [password, passwordFrom] = [found.password, 'pgpass'];
  }
  const conn = {
    source,
    ...(dsn ? { connectionString: dsn } : {}),
    host,
    port,
    user,
    database,
    applicationName:
      p.get('application_name') || env.PGAPPNAME || p.get('fallback_application_name') || 'loader',
    sslmode,
    ...(get('sslrootcert', 'PGSSLROOTCERT') ? { sslrootcert: get('sslrootcert', 'PGSSLROOTCERT') } : {}),
    connectTimeoutMs: connectTimeoutMs ?? (secs ?? 30) * 1000,
    ...(passwordFrom ? { passwordFrom } : {}),
    ...(warning ? { warning } : {}),
  };
  // Non-enumerable, as node-postgres does: a password never shows when the object is logged or compared.
  Object.defineProperty(conn, 'password', { value: password, enumerable: false });
  const options = p.get('options') || env.PGOPTIONS;
  if (options) Object.defineProperty(conn, 'options', { value: options, enumerable: false });
  return Object.freeze(conn) as Connection;
}

/** The root certificate for verify-ca / verify-full (and require, which verifies the chain when a root file
 * exists, as libpq does): sslrootcert, else ~/.postgresql/root.crt. */
function rootCert(c: Connection): { ca?: string; path?: string } {
  if (c.sslrootcert === 'system') return {};
  const path = c.sslrootcert ?? join(homedir(), '.postgresql', 'root.crt');
  if (!existsSync(path)) {
    if (c.sslrootcert || c.sslmode === 'verify-ca' || c.sslmode === 'verify-full') {
      throw new LoaderError(
        'CONNECTION',
        `root certificate file "${path}" does not exist: give sslrootcert (or PGSSLROOTCERT), or use sslmode=require`,
      );
    }
    return {};
  }
  return { ca: readFileSync(path, 'utf8'), path };
}

/** The TLS options for a mode, or false for plaintext. */
export function tlsOptions(c: Connection, tls: boolean): pg.ClientConfig['ssl'] {
  if (!tls) return false;
  switch (c.sslmode) {
    case 'allow':
    case 'prefer':
      return { rejectUnauthorized: false };
    case 'require': {
      const { ca } = rootCert(c);
      return ca ? { ca, checkServerIdentity: () => undefined } : { rejectUnauthorized: false };
    }
    case 'verify-ca': {
      const { ca } = rootCert(c);
      return { ...(ca ? { ca } : {}), checkServerIdentity: () => undefined };
    }
    default: {
      const { ca } = rootCert(c);
      return ca ? { ca } : {};
    }
  }
}

/** Whether a connection of this mode starts with TLS (before any negotiation). */
function startsWithTls(c: Connection): boolean {
  if (c.tls !== undefined) return c.tls;
  return c.sslmode !== 'disable' && c.sslmode !== 'allow' && !c.host.startsWith('/');
}

/** The pg.Client / pg.Pool settings. Nothing goes by connection string, so node-postgres applies no sslmode of
 * its own and reads no password file itself. */
export function clientConfig(c: Connection, extra: pg.PoolConfig = {}): pg.PoolConfig {
  // loader's own settings first, the DSN's options= (else PGOPTIONS) after them: what the user set wins
  const options = (c as { options?: string }).options;
  const joined = [extra.options, options].filter(Boolean).join(' ');
  return {
    host: c.host,
    port: c.port,
    user: c.user,
    database: c.database,
    // a function: node-postgres then never falls back to its own (deprecated) .pgpass reading
    password: async () => c.password ?? '',
    application_name: c.applicationName,
    connectionTimeoutMillis: c.connectTimeoutMs,
    ssl: tlsOptions(c, startsWithTls(c)),
    ...extra,
    ...(joined ? { options: joined } : {}),
  };
}

/** Asks the server whether it speaks TLS (an SSLRequest, answered 'S' or 'N'), within the connect timeout. */
export function serverOffersTls(c: Connection): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const sock = c.host.startsWith('/')
      ? createConnection(join(c.host, `.s.PGSQL.${c.port}`))
      : createConnection({ host: c.host, port: c.port });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(
        new LoaderError(
          'CONNECTION',
          `${c.host}:${c.port} did not answer within ${c.connectTimeoutMs / 1000}s (--connect-timeout)`,
        ),
      );
    }, c.connectTimeoutMs);
    const done = (fn: () => void): void => {
      clearTimeout(timer);
      sock.destroy();
      fn();
    };
    sock.once('error', (err) => done(() => reject(err)));
    sock.once('connect', () => {
      const req = Buffer.alloc(8);
      req.writeInt32BE(8, 0);
      req.writeInt32BE(80877103, 4);
      sock.write(req);
    });
    sock.once('data', (d: Buffer) => done(() => resolve(d[0] === 0x53)));
    sock.once('end', () => done(() => reject(new Error(`${c.host}:${c.port} closed the connection`))));
  });
}

/** Connects the run's first session, settling what prefer and allow leave open (TLS or not) for every later
 * connection: the returned Connection has `tls` decided. */
export async function connectFirst(
  c: Connection,
  extra: pg.PoolConfig = {},
): Promise<{ client: pg.Client; connection: Connection }> {
  let tls = startsWithTls(c);
  if (tls) {
    const offered = await serverOffersTls(c);
    if (!offered && c.sslmode !== 'prefer') {
      throw new LoaderError(
        'CONNECTION',
        `the server at ${c.host}:${c.port} does not support TLS, but sslmode=${c.sslmode} requires it`,
      );
    }
    tls = offered;
  }
  const attempt = async (useTls: boolean): Promise<{ client: pg.Client; connection: Connection }> => {
    const connection = Object.freeze(
      Object.defineProperties({ ...c, tls: useTls }, passwordOf(c)),
    ) as Connection;
    const client = new pg.Client(clientConfig(connection, extra));
    client.on('error', () => {});
    try {
      await client.connect();
    } catch (err) {
      await client.end().catch(() => {});
      throw err;
    }
    return { client, connection };
  };
  try {
    return await attempt(tls);
  } catch (err) {
    // allow: plaintext refused by the server's rules (SQLSTATE class 28), so try again with TLS, as libpq does
    if (c.sslmode === 'allow' && !tls && err instanceof pg.DatabaseError && err.code?.startsWith('28')) {
      return attempt(true);
    }
    throw err;
  }
}

function passwordOf(c: Connection): PropertyDescriptorMap {
  const d: PropertyDescriptorMap = { password: { value: c.password, enumerable: false } };
  const options = (c as { options?: string }).options;
  if (options) d.options = { value: options, enumerable: false };
  return d;
}

/** A connection with its own settings, for sessions outside the pool (claims, set-up). */
export function newClient(c: Connection): pg.Client {
  return new pg.Client(clientConfig(c));
}
