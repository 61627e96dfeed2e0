// Bounded parallelism over a list or an async stream of items (a file's sub-batches as the scan cuts them), with
// the first failure cancelling the rest (one AbortController per file).

/** Runs fn over items with at most `limit` in flight; the first failure (of fn, or of the stream) aborts the rest
 * and is the one thrown. */
export async function runBounded<T>(
  items: T[] | AsyncIterable<T>,
  limit: number,
  abort: AbortController,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  // One iterator shared by the lanes: each item is handed out once (an async generator queues concurrent next()).
  const it: Iterator<T> | AsyncIterator<T> = Array.isArray(items)
    ? items[Symbol.iterator]()
    : items[Symbol.asyncIterator]();
  const lanes = Array.isArray(items) ? Math.min(limit, items.length) : limit;
  let first: unknown;
  const fail = (err: unknown): void => {
    if (first === undefined) {
      first = err;
      abort.abort(err);
    }
  };
  const worker = async (): Promise<void> => {
    while (first === undefined && !abort.signal.aborted) {
      let r: IteratorResult<T>;
      try {
        r = await it.next();
      } catch (err) {
        fail(err);
        return;
      }
      if (r.done) return;
      try {
        await fn(r.value);
      } catch (err) {
        fail(err);
      }
    }
  };
  await Promise.all(Array.from({ length: lanes }, worker));
  if (first !== undefined) throw first;
  if (abort.signal.aborted) throw abort.signal.reason;
}
