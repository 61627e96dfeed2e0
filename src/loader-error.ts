// Errors are classes with a stable `code` (listed in the README), a `cause` and context. Policy is decided by
// `code` and by classifySqlState() (src/errors.ts), never by matching message text. This module imports nothing, so
// the worker threads' modules can throw a LoaderError without loading pg (about 40 modules) at their start-up.
export type ErrorCode =
  | 'USAGE' // bad option or argument
  | 'CONNECTION' // cannot reach or authenticate to PostgreSQL
  | 'TARGET' // the target table is missing or unusable (columns, key, mode)
  | 'DETECT' // the file's format cannot be detected or is not supported
  | 'READ' // the file cannot be read (missing, not a file, truncated gzip, ...)
  | 'CSV' // the CSV itself is malformed (unterminated quote, ...)
  | 'COLUMNS' // the file's columns do not fit the target
  | 'DATA' // PostgreSQL rejected a value or a row (SQLSTATE class 22 or 23)
  | 'STAGING_LOST' // staging rows vanished (server crash recovery) and could not be restored
  | 'REPLACE_ABORTED' // replace mode: another file of the run failed, so nothing was replaced
  | 'CANCELLED' // the run was cancelled
  | 'SKIPPED' // not loaded on purpose (already loaded, in progress elsewhere, still being written)
  | 'DATABASE' // any other PostgreSQL error
  | 'INTERNAL';

export interface ErrorContext {
  file?: string;
  line?: number;
  column?: string;
  value?: string;
  sqlState?: string;
}

export class LoaderError extends Error {
  readonly code: ErrorCode;
  readonly context: ErrorContext;
  constructor(code: ErrorCode, message: string, context: ErrorContext = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LoaderError';
    this.code = code;
    this.context = context;
  }
}
