// A gzip file's content by range: decompressed in order, once, as ranges are asked for (gzip has no random access).
// Used by the sub-batches' byte sources (src/prepare.ts) and by the scan that converts a gzip file (src/feed.ts).
import { createReadStream, type ReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { LoaderError } from './errors.js';

export class GzipRanges {
  private raw: ReadStream | undefined;
  private it: AsyncIterator<Buffer> | undefined;
  /** decompressed chunks kept, from decoded offset `base` up to `top` */
  private chunks: Buffer[] = [];
  private base = 0;
  private top = 0;
  private done = false;
  private chain: Promise<unknown> = Promise.resolve();
  constructor(private readonly path: string) {}

  private open(): void {
    this.close();
    const raw = (this.raw = createReadStream(this.path, { highWaterMark: 1 << 20 }));
    const gz = raw.pipe(createGunzip());
    raw.on('error', (e) => gz.destroy(e));
    this.it = gz[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    this.chunks = [];
    this.base = this.top = 0;
    this.done = false;
  }

  /** The content's bytes [start, end) (fewer where it ends) in a buffer of their own (transferable), and whether
   * the content ends with them. The bytes before `keep` (default `end`) are let go: a later range may start there
   * again without decompressing from the start, which a range starting further back does. */
  take(start: number, end: number, keep = end): Promise<{ bytes: Buffer; last: boolean }> {
    const run = this.chain.then(async () => {
      if (!this.it || start < this.base) this.open();
      while (this.top < end && !this.done) {
        let r: IteratorResult<Buffer>;
        try {
          r = await this.it!.next();
        } catch (err) {
          const e = err as NodeJS.ErrnoException;
          throw e.code?.startsWith('Z_')
            ? new LoaderError('READ', `gzip stream is corrupt or truncated (${e.message})`, {
                file: this.path,
              })
            : err;
        }
        if (r.done) this.done = true;
        else {
          this.chunks.push(r.value);
          this.top += r.value.length;
        }
      }
      const to = Math.min(end, this.top);
      const bytes = Buffer.allocUnsafeSlow(Math.max(0, to - start));
      let p = this.base;
      for (const c of this.chunks) {
        const s = Math.max(start - p, 0);
        const e = Math.min(to - p, c.length);
        if (e > s) c.copy(bytes, p + s - start, s, e);
        p += c.length;
        if (p >= to) break;
      }
      const last = this.done && to === this.top;
      while (this.chunks.length > 0 && this.base + this.chunks[0]!.length <= Math.min(keep, to)) {
        this.base += this.chunks.shift()!.length;
      }
      return { bytes, last };
    });
    this.chain = run.catch(() => {});
    return run;
  }

  close(): void {
    this.raw?.destroy();
    this.raw = undefined;
  }
}
