// The logger: pino on stderr, JSON lines when stderr is not a terminal, pino-pretty when it is. Built once; the
// hot path logs nothing per row. Secrets are never passed in: callers redact() what they log. pino-pretty is
// loaded only for a terminal (cron and pipes start without it).
import { createRequire } from 'node:module';
import { pino, type Logger } from 'pino';
import type pretty from 'pino-pretty';

export type { Logger };

export function createLogger(level = process.env.LOADER_LOG_LEVEL ?? 'info'): Logger {
  const opts = { level, base: undefined, name: 'loader' };
  if (process.stderr.isTTY) {
    const prettyStream = createRequire(import.meta.url)('pino-pretty') as typeof pretty;
    return pino(
      opts,
      prettyStream({ destination: 2, sync: true, colorize: !process.env.NO_COLOR, ignore: 'name' }),
    );
  }
  return pino(opts, pino.destination({ dest: 2, sync: true }));
}

export const silentLogger: Logger = pino({ level: 'silent' });
