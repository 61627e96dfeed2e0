// A stalled connection: TCP keepalive notices a peer that is gone, but not a server, proxy or NAT that keeps the
// socket open and never answers. While a statement is in flight and nothing has moved on the socket for
// --stall-timeout, the watchdog asks the server on a fresh connection (bounded by --connect-timeout) what the
// backend is doing. Still working (a long merge, a lock wait): wait on. Gone, idle (the answer was lost), waiting
// for COPY bytes that never arrive, or no answer at all: the backend is terminated (its locks go) and the socket
// destroyed, so the statement fails as a connection error and is retried like any other.
import type { Socket } from 'node:net';
import pg from 'pg';

export interface WatchOptions {
  stallMs: number;
  /** a client config for the probe connection (the DSN, settings and connect timeout of the loader's own) */
  probe: pg.ClientConfig;
}

/** The parts of node-postgres' Client the watchdog reads (internal, stable across pg 8). */
interface RawClient {
  connection: { stream: Socket };
  processID: number | null;
  _activeQuery?: unknown;
  _ending?: boolean;
}

export type Verdict = 'working' | 'stalled';

/** What pg_stat_activity says of a backend we are waiting for. `producing`: our COPY still has data to send and
 * none is stuck in our socket (we are the slow side). */
export function judge(
  row: { state: string | null; wait_event: string | null } | undefined,
  copying: { producing: boolean } | undefined,
): Verdict {
  if (!row) return 'stalled'; // the backend is gone
  if (row.state !== 'active') return 'stalled'; // idle: the statement (or its answer) was lost in between
  if (row.wait_event === 'ClientRead') return copying?.producing ? 'working' : 'stalled';
  return 'working';
}

/** Watches one connection for its lifetime; returns a function that stops watching. */
export function watchConnection(client: pg.ClientBase, opts: WatchOptions): () => void {
  const raw = client as unknown as RawClient;
  const sock = raw.connection?.stream;
  if (!sock || opts.stallMs <= 0) return () => {};
  let lastMove = Date.now();
  let lastFlushed = -1;
  let probing = false;
  const onData = (): void => {
    lastMove = Date.now();
  };
  sock.on('data', onData);
  const tick = async (): Promise<void> => {
    const active = raw._activeQuery as { writableEnded?: boolean } | null | undefined;
    const flushed = sock.bytesWritten - sock.writableLength;
    if (!active || raw._ending || sock.destroyed || flushed !== lastFlushed) {
      lastFlushed = flushed;
      lastMove = Date.now();
      return;
    }
    if (probing || Date.now() - lastMove < opts.stallMs) return;
    // A COPY whose producer has not ended and has nothing queued on the socket is waiting for its own source.
    const isCopy = typeof active.writableEnded === 'boolean';
    const producing = isCopy && active.writableEnded === false && sock.writableLength === 0;
    probing = true;
    try {
      const verdict = await probe(opts.probe, raw.processID, producing ? { producing } : undefined);
      if (verdict === 'stalled') {
        sock.destroy(
          Object.assign(new Error(`no answer from the server for ${Math.round(opts.stallMs / 1000)}s`), {
            code: 'ETIMEDOUT',
          }),
        );
      } else {
        lastMove = Date.now();
      }
    } finally {
      probing = false;
    }
  };
  const timer = setInterval(() => void tick(), Math.max(50, Math.min(5_000, opts.stallMs / 4)));
  timer.unref();
  const stop = (): void => {
    clearInterval(timer);
    sock.off('data', onData);
  };
  client.once('end', stop);
  return stop;
}

/** Asks a fresh connection what the backend is doing; when it is stalled (or the server does not answer at all),
 * terminates it so whatever it holds is freed. */
async function probe(
  config: pg.ClientConfig,
  pid: number | null,
  copying: { producing: boolean } | undefined,
): Promise<Verdict> {
  const timeout = config.connectionTimeoutMillis ?? 30_000;
  const c = new pg.Client({ ...config, application_name: 'loader-watchdog', query_timeout: timeout });
  c.on('error', () => {});
  try {
    await c.connect();
    const { rows } = await c.query<{ state: string | null; wait_event: string | null }>(
      `SELECT state, wait_event FROM pg_stat_activity WHERE pid = $1`,
      [pid],
    );
    const verdict = judge(rows[0], copying);
    if (verdict === 'stalled' && rows[0]) await c.query(`SELECT pg_terminate_backend($1)`, [pid]);
    return verdict;
  } catch (err) {
    // The server answered but refused (too many clients, ...): it is alive, so the statement may be too.
    if (err instanceof pg.DatabaseError) return 'working';
    return 'stalled'; // no answer to a new connection either
  } finally {
    await c.end().catch(() => {});
  }
}
