// A TCP proxy in front of the test's PostgreSQL, on 127.0.0.1 only, that can misbehave the ways a network does:
// cut every connection, freeze the ones open (sockets stay open, nothing moves), or accept new ones and never
// answer. For the fault tests; the database itself is real.
import { createServer, connect, type Server, type Socket } from 'node:net';

export type ProxyMode = 'pass' | 'silent';

export interface Proxy {
  port: number;
  /** a copy of `dsn` that goes through the proxy */
  via(dsn: string): string;
  /** what a new connection gets: forwarded, or accepted and never answered */
  mode: ProxyMode;
  /** destroys every open connection (both sides) */
  cut(): number;
  /** stops moving bytes on every open connection, leaving the sockets open; returns how many */
  freeze(): number;
  close(): Promise<void>;
}

export async function startProxy(targetHost: string, targetPort: number): Promise<Proxy> {
  const pairs = new Set<{ client: Socket; server?: Socket; frozen: boolean }>();
  const state = { mode: 'pass' as ProxyMode };
  const server: Server = createServer((client) => {
    const pair: { client: Socket; server?: Socket; frozen: boolean } = { client, frozen: false };
    pairs.add(pair);
    const drop = (): void => {
      pairs.delete(pair);
      client.destroy();
      pair.server?.destroy();
    };
    client.on('error', drop);
    client.on('close', () => {
      if (!pair.frozen) drop();
    });
    if (state.mode === 'silent') {
      pair.frozen = true;
      client.pause(); // accepted, never read, never answered
      return;
    }
    const upstream = connect(targetPort, targetHost);
    pair.server = upstream;
    upstream.on('error', drop);
    upstream.on('close', () => {
      if (!pair.frozen) drop();
    });
    client.on('data', (d) => {
      if (!pair.frozen) upstream.write(d);
    });
    upstream.on('data', (d) => {
      if (!pair.frozen) client.write(d);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const cutAll = (): number => {
    const n = pairs.size;
    for (const p of [...pairs]) {
      p.frozen = false;
      p.client.destroy();
      p.server?.destroy();
    }
    pairs.clear();
    return n;
  };
  return {
    port,
    via(dsn) {
      const u = new URL(dsn);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    get mode() {
      return state.mode;
    },
    set mode(m) {
      state.mode = m;
    },
    cut: cutAll,
    freeze() {
      let n = 0;
      for (const p of pairs) {
        if (p.frozen) continue;
        p.frozen = true;
        p.client.pause();
        p.server?.pause();
        n++;
      }
      return n;
    },
    async close() {
      cutAll();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
