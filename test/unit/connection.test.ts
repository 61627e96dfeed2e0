import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { clientConfig, parseDsn, resolveConnection, tlsOptions } from '../../src/connection.js';
import { LoaderError } from '../../src/errors.js';
import { pgpassLookup } from '../../src/pgpass.js';

const dir = mkdtempSync(join(tmpdir(), 'loader-conn-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const noPgpass = { PGPASSFILE: join(dir, 'none') };
const resolve = (dsn: string | undefined, env: NodeJS.ProcessEnv = {}, ms?: number) =>
  resolveConnection(dsn, dsn ? 'option' : 'PG*', { ...noPgpass, ...env }, ms);

describe('parseDsn', () => {
  it('reads a URL with its query parameters', () => {
    const p = parseDsn(
      'postgresql://al%40ice:p%3Ass@db.example:6543/my%20db?sslmode=require&application_name=x',
    );
    expect(Object.fromEntries(p)).toEqual({
      host: 'db.example',
      port: '6543',
      user: 'al@ice',
      password: 'p:ss',
      dbname: 'my db',
      sslmode: 'require',
      application_name: 'x',
    });
  });

  it("reads key=value words, quoted values with \\' escapes", () => {
    const p = parseDsn("host=h port=5433 dbname=d user=u password='it\\'s secret' sslmode=verify-full");
    expect(p.get('password')).toBe("it's secret");
    expect(p.get('port')).toBe('5433');
    expect(p.get('sslmode')).toBe('verify-full');
  });

  it('refuses unknown parameters and several hosts, naming them', () => {
    expect(() => parseDsn('postgres://h/d?sslmdoe=require')).toThrow(/"sslmdoe" is not supported/);
    expect(() => parseDsn('host=a,b dbname=d')).toThrow(/several hosts/);
    expect(() => parseDsn('just words')).toThrow(LoaderError);
  });
});

describe('resolveConnection: libpq precedence', () => {
  it('takes the DSN first, then PG* variables, then defaults', () => {
    const c = resolve('postgres://dsnhost/dsndb', { PGHOST: 'envhost', PGPORT: '6000', PGUSER: 'envuser' });
    expect(c).toMatchObject({ host: 'dsnhost', port: 6000, user: 'envuser', database: 'dsndb' });
    const e = resolve(undefined, { PGHOST: 'h', PGDATABASE: 'd', PGUSER: 'u' });
    expect(e).toMatchObject({ host: 'h', port: 5432, user: 'u', database: 'd', sslmode: 'prefer' });
  });

  it('the database defaults to the user name', () => {
    expect(resolve(undefined, { PGHOST: 'h', PGUSER: 'bob' }).database).toBe('bob');
  });

  it('application_name: the DSN, else PGAPPNAME, else loader', () => {
    expect(resolve('postgres://h/d').applicationName).toBe('loader');
    expect(resolve('postgres://h/d', { PGAPPNAME: 'nightly' }).applicationName).toBe('nightly');
    expect(resolve('postgres://h/d?application_name=mine', { PGAPPNAME: 'nightly' }).applicationName).toBe(
      'mine',
    );
  });

  it('sslmode and sslrootcert from the DSN or PGSSLMODE / PGSSLROOTCERT; a bad mode is a usage error', () => {
    expect(resolve('postgres://h/d', { PGSSLMODE: 'disable' }).sslmode).toBe('disable');
    expect(resolve('postgres://h/d?sslmode=require', { PGSSLMODE: 'disable' }).sslmode).toBe('require');
    expect(resolve('postgres://h/d', { PGSSLROOTCERT: '/ca.pem' }).sslrootcert).toBe('/ca.pem');
    expect(() => resolve('postgres://h/d?sslmode=on')).toThrow(/sslmode must be one of disable, allow/);
  });

  it('connect timeout: the option, else the DSN, else PGCONNECT_TIMEOUT, else 30 s', () => {
    expect(resolve('postgres://h/d').connectTimeoutMs).toBe(30_000);
    expect(resolve('postgres://h/d', { PGCONNECT_TIMEOUT: '7' }).connectTimeoutMs).toBe(7_000);
    expect(resolve('postgres://h/d?connect_timeout=4', { PGCONNECT_TIMEOUT: '7' }).connectTimeoutMs).toBe(
      4_000,
    );
    expect(resolve('postgres://h/d?connect_timeout=4', {}, 1_500).connectTimeoutMs).toBe(1_500);
    expect(resolve('postgres://h/d', { PGCONNECT_TIMEOUT: '1' }).connectTimeoutMs).toBe(2_000);
    expect(resolve('postgres://h/d', { PGCONNECT_TIMEOUT: '0' }).connectTimeoutMs).toBe(30_000);
  });

  it('password: the DSN, else PGPASSWORD, else the password file; never enumerable', () => {
    const file = join(dir, 'pgpass');
    writeFileSync(file, 'h:5432:d:u:from-file\n');
    chmodSync(file, 0o600);
    const env = { PGPASSFILE: file };
    expect(resolveConnection('postgres://u:from-dsn@h/d', 'option', env).password).toBe('from-dsn');
    expect(resolveConnection('postgres://u@h/d', 'option', { ...env, PGPASSWORD: 'pw' }).password).toBe('pw');
    const c = resolveConnection('postgres://u@h/d', 'option', env);
    expect(c.password).toBe('from-file');
    expect(c.passwordFrom).toBe('pgpass');
    expect(JSON.stringify(c)).not.toContain('from-file');
    expect(Object.keys(c)).not.toContain('password');
  });

  it('ignores a password file others can read, with a warning', () => {
    const file = join(dir, 'pgpass-open');
    writeFileSync(file, '*:*:*:*:leaky\n');
    chmodSync(file, 0o644);
    const c = resolveConnection('postgres://u@h/d', 'option', { PGPASSFILE: file });
    expect(c.password).toBeUndefined();
    expect(c.warning).toMatch(/group or world access/);
  });
});

describe('pgpassLookup', () => {
  const key = { host: 'db', port: 5432, database: 'sales', user: 'app' };
  it('takes the first matching line, with * wildcards and \\: escapes', () => {
    const text = [
      '# comment',
      'other:5432:sales:app:no',
      '*:5432:sales:app:pa\\:ss\\\\',
      '*:*:*:*:later',
    ].join('\n');
    expect(pgpassLookup(text, key)).toBe('pa:ss\\');
    expect(pgpassLookup('*:*:*:*:any', key)).toBe('any');
    expect(pgpassLookup('db:5433:sales:app:x', key)).toBeUndefined();
  });
  it('a Unix socket matches localhost', () => {
    expect(pgpassLookup('localhost:5432:sales:app:sock', { ...key, host: '/var/run/postgresql' })).toBe(
      'sock',
    );
  });
});

describe('tlsOptions: libpq meanings', () => {
  const c = (q: string) => resolve(`postgres://h/d?${q}`);
  it('disable and allow start in plaintext; prefer and require encrypt without verifying', () => {
    expect(clientConfig(c('sslmode=disable')).ssl).toBe(false);
    expect(clientConfig(c('sslmode=allow')).ssl).toBe(false);
    expect(clientConfig(c('sslmode=prefer')).ssl).toEqual({ rejectUnauthorized: false });
    expect(clientConfig(c('sslmode=require')).ssl).toEqual({ rejectUnauthorized: false });
  });
  it('verify-ca and verify-full need a root certificate; verify-ca skips the host name check', () => {
    expect(() => tlsOptions(c('sslmode=verify-full&sslrootcert=/nope.pem'), true)).toThrow(/does not exist/);
    const ca = join(dir, 'ca.pem');
    writeFileSync(ca, 'PEM');
    const full = tlsOptions(c(`sslmode=verify-full&sslrootcert=${ca}`), true) as Record<string, unknown>;
    expect(full).toEqual({ ca: 'PEM' });
    const vca = tlsOptions(c(`sslmode=verify-ca&sslrootcert=${ca}`), true) as Record<string, unknown>;
    expect(vca.ca).toBe('PEM');
    expect(typeof vca.checkServerIdentity).toBe('function');
    // require with a root certificate verifies the chain, as libpq does
    const req = tlsOptions(c(`sslmode=require&sslrootcert=${ca}`), true) as Record<string, unknown>;
    expect(req.ca).toBe('PEM');
    expect(tlsOptions(c('sslmode=verify-full&sslrootcert=system'), true)).toEqual({});
  });
});
