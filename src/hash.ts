// A file's sha256 in the main thread, read through libuv's pool into one buffer used again: for a Parquet file,
// hashed while a worker starts (its wasm and Arrow modules) and reads the footer, where the worker had hashed it
// first, then read the footer (about 60 ms of the bench's 93 MB file on the way to the first COPY).
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';

const CHUNK = 1 << 20;

export async function sha256Of(path: string, signal?: AbortSignal): Promise<string> {
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafeSlow(CHUNK);
  const f = await open(path, 'r');
  try {
    for (;;) {
      signal?.throwIfAborted();
      const { bytesRead } = await f.read(buf, 0, CHUNK, null);
      if (bytesRead === 0) break;
      h.update(bytesRead === CHUNK ? buf : buf.subarray(0, bytesRead));
    }
  } finally {
    await f.close();
  }
  return h.digest('hex');
}
