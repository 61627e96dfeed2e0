// Piscina worker: one pass over a CSV file that computes its sha256 (of the bytes on disk) and cuts it into
// record-aligned sub-batches (of the decompressed bytes, for gzip). Runs off the main thread so that many files
// can be fingerprinted and planned while others stream into PostgreSQL. Errors come back as data.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { CsvScanError, RecordScanner, type ScanResult } from '../src/scan.js';

export interface PlanTask {
  path: string;
  gzip: boolean;
  quote: number;
  escape: number;
  batchSize: number;
  header: boolean;
  skipBytes: number;
}

export type PlanResult =
  | { ok: true; sha256: string; fileBytes: number; scan: ScanResult }
  | { ok: false; kind: 'csv' | 'read'; message: string; line?: number; sha256?: string; fileBytes?: number };

export default async function plan(task: PlanTask): Promise<PlanResult> {
  const hash = createHash('sha256');
  const scanner = new RecordScanner({
    quote: task.quote,
    escape: task.escape,
    batchSize: task.batchSize,
    header: task.header,
    skipBytes: task.skipBytes,
  });
  let fileBytes = 0;
  try {
    const raw = createReadStream(task.path, { highWaterMark: 1 << 20 });
    raw.on('data', (chunk) => {
      hash.update(chunk as Buffer);
      fileBytes += (chunk as Buffer).length;
    });
    const decoded = task.gzip ? raw.pipe(createGunzip()) : raw;
    if (task.gzip) raw.on('error', (err) => decoded.destroy(err));
    for await (const chunk of decoded) scanner.push(chunk as Buffer);
    const scan = scanner.finish(); // may throw: digest only after it (a hash digests once)
    return { ok: true, sha256: hash.digest('hex'), fileBytes, scan };
  } catch (err) {
    if (err instanceof CsvScanError) {
      return {
        ok: false,
        kind: 'csv',
        message: err.message,
        line: err.line,
        sha256: hash.digest('hex'),
        fileBytes,
      };
    }
    const e = err as NodeJS.ErrnoException;
    const what =
      task.gzip && e.code?.startsWith('Z_')
        ? `gzip stream is corrupt or truncated (${e.message})`
        : e.message;
    return { ok: false, kind: 'read', message: what };
  }
}
