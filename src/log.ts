// The logger: pino on stderr, JSON lines when stderr is not a terminal, pino-pretty when it is. Built once; the
// hot path logs nothing per row. Secrets are never passed in: callers redact() what they log. pino-pretty is
// loaded only for a terminal (cron and pipes start without it).
import { createRequire } from 'node:module';
import { pino, type Logger } from 'pino';
import type pretty from 'pino-pretty';
import { colorEnabled } from './progress-view.js';

export type { Logger };

export interface LoggerOptions {
  /** colours in the terminal's pretty output (default: NO_COLOR / FORCE_COLOR / whether stderr is a terminal) */
  color?: boolean;
  /** where the pretty output goes on a terminal instead of fd 2 (the live progress display clears itself around
   * each line) */
  destination?: { write(line: string): unknown };
}

export function createLogger(level = process.env.LOADER_LOG_LEVEL ?? 'info', o: LoggerOptions = {}): Logger {
  const opts = { level, base: undefined, name: 'loader' };
  if (process.stderr.isTTY) {
    const colorize = o.color ?? colorEnabled(process.env, true);
    const prettyStream = createRequire(import.meta.url)('pino-pretty') as typeof pretty;
    const out = o.destination;
    if (out) {
      // formatted here, line by line and synchronously, so the display is erased and redrawn around each line
      const format = prettyStream.prettyFactory({ colorize, ignore: 'name' });
      return pino(opts, { write: (line: string) => out.write(format(line)) });
    }
    return pino(opts, prettyStream({ destination: 2, sync: true, colorize, ignore: 'name' }));
  }
  return pino(opts, pino.destination({ dest: 2, sync: true }));
}

export const silentLogger: Logger = pino({ level: 'silent' });
