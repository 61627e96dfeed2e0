// Retries of transient failures (classifyError() === 'retry'): exponential backoff with jitter via p-retry,
// bounded by --max-retries, stopped by the run's AbortSignal.
import pRetry from 'p-retry';
import { classifyError } from './errors.js';

export interface RetryOptions {
  retries: number;
  signal: AbortSignal;
  /** called before each new attempt with the error that ended the last one */
  onRetry?: (error: Error, attempt: number) => void;
  /** first delay in ms (default 200) */
  minTimeout?: number;
}

export function withRetry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  return pRetry(fn, {
    retries: opts.retries,
    factor: 2,
    minTimeout: opts.minTimeout ?? 200,
    maxTimeout: 10_000,
    randomize: true,
    signal: opts.signal,
    shouldRetry: ({ error }) => !opts.signal.aborted && classifyError(error) === 'retry',
    onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
      if (retriesLeft > 0 && !opts.signal.aborted && classifyError(error) === 'retry')
        opts.onRetry?.(error, attemptNumber + 1);
    },
  });
}
