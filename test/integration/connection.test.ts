// Connections as libpq users expect, against a server of this file's own: first without TLS (prefer falls back,
// require fails clearly), then with ssl=on and a self-signed certificate made in the test (require encrypts
// without verifying, verify-ca checks the chain only, verify-full the host name too). Also .pgpass, PGAPPNAME
// and --connect-timeout against a listener that accepts and never answers.
import { chmod, chown, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbedded, type EmbeddedServer } from '../../bench/embedded.js';
import { connectFirst, resolveConnection } from '../../dist/src/connection.js';
import { selfSigned } from '../cert.js';
import { runCli, tempDir } from '../helpers.js';
import { LoaderError, useEnv } from './support.js';

const env = useEnv('conn');
let server: EmbeddedServer;
let admin: pg.Client;
let ca: string;
const dsn = (q = '', host = '127.0.0.1'): string => {
  const u = new URL(server.dsn);
  u.hostname = host;
  return `${u.toString()}${q ? `?${q}` : ''}`;
};

beforeAll(async () => {
  server = await startEmbedded({ fsync: 'off', max_connections: '20' });
  admin = new pg.Client(server.dsn);
  await admin.connect();
  await admin.query('CREATE TABLE t (id int)');
});
afterAll(async () => {
  await admin?.end();
  await server?.stop();
});

/** Connects as the loader does and tells whether the session is encrypted. */
async function sessionTls(d: string): Promise<boolean> {
  const { client } = await connectFirst(resolveConnection(d, 'option', { PGPASSFILE: '/nonexistent' }));
  try {
    const { rows } = await client.query<{ ssl: boolean }>(
      'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
    );
    return rows[0]!.ssl;
  } finally {
    await client.end();
  }
}

async function connectError(d: string): Promise<Error> {
  try {
    await sessionTls(d);
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the connection to fail');
}

describe('a server without TLS', () => {
  it('prefer (the default) falls back to plaintext; disable and allow connect in plaintext', async () => {
    expect(await sessionTls(dsn())).toBe(false);
    expect(await sessionTls(dsn('sslmode=prefer'))).toBe(false);
    expect(await sessionTls(dsn('sslmode=disable'))).toBe(false);
    expect(await sessionTls(dsn('sslmode=allow'))).toBe(false);
  });

  it('require fails clearly; through the CLI that is exit 3 with no rows', async () => {
    const err = await connectError(dsn('sslmode=require'));
    expect(err).toBeInstanceOf(LoaderError);
    expect((err as LoaderError).code).toBe('CONNECTION');
    expect(err.message).toMatch(/does not support TLS, but sslmode=require/);
    const f = await env.dir.write('plain.csv', 'id\n1\n');
    const r = await runCli(['--dsn', dsn('sslmode=require'), '--table', 't', f]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('does not support TLS');
    expect((await admin.query('SELECT count(*)::int n FROM t')).rows[0].n).toBe(0);
  });
});

describe('a server with ssl=on and a self-signed certificate', () => {
  beforeAll(async () => {
    const { cert, key } = selfSigned(['localhost']);
    const dataDir = (await admin.query<{ d: string }>(`SELECT current_setting('data_directory') d`)).rows[0]!
      .d;
    const owner = await stat(dataDir);
    for (const [file, body] of [
      ['server.crt', cert],
      ['server.key', key],
    ] as const) {
      const p = join(dataDir, file);
      await writeFile(p, body);
      await chown(p, owner.uid, owner.gid);
      await chmod(p, 0o600);
    }
    ca = join(env.dir.path, 'root.crt');
    await writeFile(ca, cert);
    await admin.query(`ALTER SYSTEM SET ssl = on`);
    await admin.query(`SELECT pg_reload_conf()`);
    for (let i = 0; i < 100; i++) {
      const c = new pg.Client(server.dsn);
      await c.connect();
      const on = (await c.query<{ ssl: string }>('SHOW ssl')).rows[0]!.ssl;
      await c.end();
      if (on === 'on') return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('ssl did not come on');
  });

  it('prefer and require encrypt without verifying the (unknown) certificate', async () => {
    expect(await sessionTls(dsn())).toBe(true);
    expect(await sessionTls(dsn('sslmode=require'))).toBe(true);
    expect(await sessionTls(dsn('sslmode=disable'))).toBe(false);
  });

  it('verify-ca checks the chain but not the host name; verify-full checks both', async () => {
    expect(await sessionTls(dsn(`sslmode=verify-ca&sslrootcert=${ca}`))).toBe(true);
    // the certificate names localhost: 127.0.0.1 passes verify-ca, fails verify-full, localhost passes both
    expect((await connectError(dsn(`sslmode=verify-full&sslrootcert=${ca}`))).message).toMatch(
      /altnames|Hostname|IP/i,
    );
    expect(await sessionTls(dsn(`sslmode=verify-full&sslrootcert=${ca}`, 'localhost'))).toBe(true);
    const other = join(env.dir.path, 'other.crt');
    await writeFile(other, selfSigned(['localhost']).cert);
    expect((await connectError(dsn(`sslmode=verify-ca&sslrootcert=${other}`))).message).toMatch(
      /self.signed|verify|certificate/i,
    );
  });

  it('allow starts in plaintext and goes to TLS when the server refuses plaintext (SQLSTATE 28000)', async () => {
    const hba = (await admin.query<{ f: string }>(`SELECT current_setting('hba_file') f`)).rows[0]!.f;
    const original = await readFile(hba, 'utf8');
    const reload = async (body: string) => {
      await writeFile(hba, body);
      await admin.query('SELECT pg_reload_conf()');
      await new Promise((r) => setTimeout(r, 300));
    };
    try {
      await reload(`local all all trust\nhostnossl all all all reject\nhostssl all all all password\n`);
      expect(await sessionTls(dsn('sslmode=allow'))).toBe(true);
      expect((await connectError(dsn('sslmode=disable'))).message).toMatch(
        /pg_hba.conf rejects|no encryption/,
      );
    } finally {
      await reload(original);
    }
    expect(await sessionTls(dsn('sslmode=allow'))).toBe(false);
  });

  it('loads through the CLI with verify-full (PGSSLMODE, PGSSLROOTCERT), with no security warning', async () => {
    const f = await env.dir.write('tls.csv', 'id\n1\n2\n');
    const r = await runCli(['--table', 't', f], {
      env: {
        DATABASE_URL: dsn('', 'localhost'),
        PGSSLMODE: 'verify-full',
        PGSSLROOTCERT: ca,
        LOADER_LOG_LEVEL: 'warn',
      },
    });
    expect(r.stderr).not.toMatch(/WARNING|deprecat/i);
    expect(r.code).toBe(0);
    expect((await admin.query('SELECT count(*)::int n FROM t')).rows[0].n).toBe(2);
    const r2 = await runCli(['--table', 't', '--force', f], {
      env: { DATABASE_URL: dsn('sslmode=require'), LOADER_LOG_LEVEL: 'warn' },
    });
    expect(r2.stderr).not.toMatch(/WARNING|deprecat/i);
    expect(r2.code).toBe(0);
  });
});

describe('password file, application name', () => {
  it('reads the password from PGPASSFILE, silently, and names the session PGAPPNAME', async () => {
    const u = new URL(server.dsn);
    const dir = await tempDir();
    try {
      const pass = join(dir.path, 'pgpass');
      await writeFile(pass, `# loader test\n127.0.0.1:${u.port}:*:postgres:${u.password}\n`);
      await chmod(pass, 0o600);
      await admin.query('CREATE TABLE apps (id int, app text DEFAULT current_setting($$application_name$$))');
      const f = await dir.write('a.csv', 'id\n1\n');
      const r = await runCli(['--table', 'apps', f], {
        env: {
          PGHOST: '127.0.0.1',
          PGPORT: u.port,
          PGUSER: 'postgres',
          PGDATABASE: 'postgres',
          PGPASSFILE: pass,
          PGPASSWORD: '',
          DATABASE_URL: '',
          PGAPPNAME: 'nightly-import',
          LOADER_LOG_LEVEL: 'warn',
        },
      });
      expect(r.stderr).not.toMatch(/deprecat|WARNING/i);
      expect(r.code).toBe(0);
      expect((await admin.query('SELECT app FROM apps')).rows).toEqual([{ app: 'nightly-import' }]);
      await chmod(pass, 0o644);
      const r2 = await runCli(['--table', 'apps', '--force', f], {
        env: {
          PGHOST: '127.0.0.1',
          PGPORT: u.port,
          PGUSER: 'postgres',
          PGPASSFILE: pass,
          PGPASSWORD: '',
          DATABASE_URL: '',
        },
      });
      expect(r2.code).toBe(3); // a password file others can read is ignored, as libpq does
      expect(r2.stderr).toContain('group or world access');
      expect(r2.stderr).not.toContain(u.password);
    } finally {
      await dir.remove();
    }
  });
});

describe('--connect-timeout', () => {
  let silent: Server;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    silent = createServer((s) => sockets.push(s)); // accepts, never answers
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => silent.close(r));
  });

  it.each(['prefer', 'disable'])(
    'a host that never answers fails in that time (sslmode=%s), exit 3',
    async (mode) => {
      const port = (silent.address() as { port: number }).port;
      const f = await env.dir.write('dead.csv', 'id\n1\n');
      const r = await runCli(
        [
          '--dsn',
          `postgres://u:pw@127.0.0.1:${port}/db?sslmode=${mode}`,
          '--table',
          't',
          '--connect-timeout',
          '1',
          f,
        ],
        { timeoutMs: 20_000 },
      );
      expect(r.signal).toBeNull(); // not killed by the harness: it gave up by itself
      expect(r.code).toBe(3);
    },
  );

  it('PGCONNECT_TIMEOUT is the default', async () => {
    const port = (silent.address() as { port: number }).port;
    const f = await env.dir.write('dead2.csv', 'id\n1\n');
    const r = await runCli(['--dsn', `postgres://u:pw@127.0.0.1:${port}/db`, '--table', 't', f], {
      env: { PGCONNECT_TIMEOUT: '2' },
      timeoutMs: 20_000,
    });
    expect(r.signal).toBeNull();
    expect(r.code).toBe(3);
  });
});
