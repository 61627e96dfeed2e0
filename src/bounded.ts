// Bounded parallelism over a list, with the first failure cancelling the rest (one AbortController per file).

/** Runs fn over items with at most `limit` in flight; the first failure aborts the rest and is the one thrown. */
export async function runBounded<T>(
  items: T[],
  limit: number,
  abort: AbortController,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let first: unknown;
  const worker = async (): Promise<void> => {
    while (next < items.length && first === undefined && !abort.signal.aborted) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        if (first === undefined) {
          first = err;
          abort.abort(err);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (first !== undefined) throw first;
  if (abort.signal.aborted) throw abort.signal.reason;
}
