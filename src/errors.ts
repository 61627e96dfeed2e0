import pg from 'pg';

// Errors are classes with a stable `code` (listed in the README), a `cause` and context (src/loader-error.ts). Policy
// is decided by `code` and by classifySqlState(), never by matching message text.
import { LoaderError } from './loader-error.js';

export { LoaderError, type ErrorCode, type ErrorContext } from './loader-error.js';

export type ErrorClass = 'retry' | 'reject' | 'fatal';

/** SQLSTATEs and socket errors worth another try: connection loss, serialization, deadlock, too many clients,
 * admin/crash shutdown and "cannot connect now" while the server starts. */
export function classifySqlState(sqlState: string): ErrorClass {
  if (sqlState.startsWith('08')) return 'retry';
  if (sqlState === '40001' || sqlState === '40P01' || sqlState === '53300') return 'retry';
  if (sqlState === '57P01' || sqlState === '57P02' || sqlState === '57P03') return 'retry';
  if (sqlState.startsWith('22') || sqlState.startsWith('23')) return 'reject';
  return 'fatal';
}

const SOCKET_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/** The one place that decides what an error means for policy. */
export function classifyError(err: unknown): ErrorClass {
  if (err instanceof LoaderError) return err.code === 'DATA' ? 'reject' : 'fatal';
  if (err instanceof pg.DatabaseError) return classifySqlState(err.code ?? '');
  if (err && typeof err === 'object') {
    const e = err as { code?: unknown; name?: unknown; syscall?: unknown };
    if (typeof e.code === 'string') {
      if (SOCKET_CODES.has(e.code)) return 'retry';
      // Any other system call error (ENOENT, EACCES, ENOSPC, ENOTFOUND, ...) will not go away by waiting.
      if (typeof e.syscall === 'string') return 'fatal';
    }
    if (e.name === 'AbortError') return 'fatal';
    // node-postgres reports a dropped connection ("Connection terminated unexpectedly") and a pool checkout
    // timeout as plain Errors without a code; everything coded is handled above, so a bare Error from the driver
    // is a connection problem, retried within the budget.
    if (err instanceof Error && !(err instanceof TypeError) && !(err instanceof RangeError)) return 'retry';
  }
  return 'fatal';
}

/** Advice for an error a server setting caused, naming the setting. loader starts its sessions with these at 0,
 * so one that still fires was set where loader cannot override it (the DSN's `options=`, or by an administrator). */
export function adviceFor(sqlState: string | undefined): string | undefined {
  const setting: Record<string, string> = {
    '57014': 'statement_timeout (or a pg_cancel_backend())',
    '55P03': 'lock_timeout',
    '25P03': 'idle_in_transaction_session_timeout',
    '25P04': 'transaction_timeout',
    '57P05': 'idle_session_timeout',
  };
  const name = sqlState ? setting[sqlState] : undefined;
  return name
    ? `the server's ${name} ended it: loader sets it to 0 for its own sessions unless the DSN's options= sets it`
    : undefined;
}

export function sqlStateOf(err: unknown): string | undefined {
  return err instanceof pg.DatabaseError ? err.code : undefined;
}
