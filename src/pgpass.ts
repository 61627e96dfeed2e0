// libpq's password file (~/.pgpass, or PGPASSFILE): lines of host:port:database:user:password, `*` matching
// anything, `\:` and `\\` escaped, the first matching line wins. Read only when no password was given, ignored
// (with a warning, as libpq does) when others may read it. The parser is pure; pgpassPassword() adds the file.
import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface PgpassKey {
  host: string;
  port: number;
  database: string;
  user: string;
}

/** Splits a line at unescaped colons, unescaping \: and \\. */
function fields(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === '\\' && i + 1 < line.length) cur += line[++i];
    else if (c === ':') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

/** The password of the first line matching key, or undefined. A Unix-socket connection matches `localhost`. */
export function pgpassLookup(text: string, key: PgpassKey): string | undefined {
  const host = key.host.startsWith('/') ? 'localhost' : key.host;
  for (const raw of text.split(/\r?\n/)) {
    if (raw.trim() === '' || raw.startsWith('#')) continue;
    const f = fields(raw);
    if (f.length < 5) continue;
    const want = [host, String(key.port), key.database, key.user];
    if (want.every((w, i) => f[i] === '*' || f[i] === w)) return f.slice(4).join(':');
  }
  return undefined;
}

export function pgpassFile(env: NodeJS.ProcessEnv): string {
  return env.PGPASSFILE ?? join(env.HOME ?? homedir(), '.pgpass');
}

/** The password for key from the password file, and a warning when the file was ignored. */
export function pgpassPassword(
  key: PgpassKey,
  env: NodeJS.ProcessEnv,
): { password?: string; warning?: string } {
  const file = pgpassFile(env);
  let st;
  try {
    st = statSync(file);
  } catch {
    return {};
  }
  if (!st.isFile()) return { warning: `password file ${file} is not a plain file` };
  if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
    return {
      warning: `password file ${file} has group or world access; permissions should be u=rw (0600) or less`,
    };
  }
  try {
    return { password: pgpassLookup(readFileSync(file, 'utf8'), key) };
  } catch {
    return {};
  }
}
