// A semaphore over bytes (--memory-limit): Parquet row groups are admitted by their uncompressed size from the
// footer, on top of --internal-concurrency, so memory follows the limit rather than the files. One per run, shared
// by all files; FIFO, so a large row group is not starved by small ones behind it.

/** Gives back what acquire() took; idempotent. */
export type Release = () => void;

export class ByteBudget {
  private inFlight = 0;
  private readonly waiting: { bytes: number; grant: () => void }[] = [];
  /** the most bytes admitted at once */
  peak = 0;

  constructor(readonly limit: number) {}

  get bytesInFlight(): number {
    return this.inFlight;
  }

  /** Waits until `bytes` fit under the limit. Something larger than the whole limit is admitted alone, when
   * nothing else is in flight (it could never fit, and refusing it would fail a file that loads one group at a
   * time). Rejects with the signal's reason when aborted while waiting. */
  acquire(bytes: number, signal?: AbortSignal): Promise<Release> {
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    const n = Math.max(0, bytes);
    return new Promise<Release>((resolve, reject) => {
      const entry = {
        bytes: n,
        grant: (): void => {
          signal?.removeEventListener('abort', onAbort);
          this.take(n);
          resolve(this.releaser(n));
        },
      };
      const onAbort = (): void => {
        const i = this.waiting.indexOf(entry);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal!.reason);
        this.drain(); // a large waiter that leaves may unblock smaller ones behind it
      };
      this.waiting.push(entry);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.drain();
    });
  }

  /** `bytes` now if they fit under the limit with nobody waiting, else undefined (never queues, never admits
   * something alone): for work that is only worth doing ahead of need, such as decoding the next row group. */
  tryAcquire(bytes: number): Release | undefined {
    const n = Math.max(0, bytes);
    if (this.waiting.length > 0 || this.inFlight + n > this.limit) return undefined;
    this.take(n);
    return this.releaser(n);
  }

  private fits(n: number): boolean {
    return this.inFlight === 0 || this.inFlight + n <= this.limit;
  }

  private take(n: number): void {
    this.inFlight += n;
    this.peak = Math.max(this.peak, this.inFlight);
  }

  private releaser(n: number): Release {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.inFlight -= n;
      this.drain();
    };
  }

  private drain(): void {
    while (this.waiting.length > 0 && this.fits(this.waiting[0]!.bytes)) this.waiting.shift()!.grant();
  }
}

/** "512MB", "2GB", "1.5GiB", "65536" (bytes) to bytes; undefined when it is not a size. Units are binary (1 KB =
 * 1024 bytes), as memory is counted. */
export function parseSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$/i.exec(text);
  if (!m) return undefined;
  const unit = m[2]!.toLowerCase();
  if (!unit && m[3] && m[3].toLowerCase() !== 'b') return undefined;
  const mult = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[unit]!;
  return Math.round(Number(m[1]) * mult);
}
