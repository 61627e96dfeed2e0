// Format detection on the main thread: magic bytes first (file-type: Parquet's PAR1, gzip, zstd, and any other
// known binary format to refuse clearly), then the extension, then the CSV sniff over the first 64 KB.
import { open, stat } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { fileTypeFromBuffer } from 'file-type';
import type { FileType } from './config.js';
import { LoaderError } from './errors.js';

export const SAMPLE_BYTES = 64 * 1024;

export interface Detected {
  format: 'csv' | 'parquet';
  gzip: boolean;
  /** size on disk */
  bytes: number;
  /** modification time when detected, to notice a file still being written */
  mtimeMs: number;
  /** the first SAMPLE_BYTES of the decoded (decompressed) content */
  sample: Buffer;
  /** the sample is the whole decoded file */
  sampleIsAll: boolean;
}

export async function readHead(path: string, n: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

export async function gunzipHead(path: string, n: number): Promise<{ sample: Buffer; all: boolean }> {
  const chunks: Buffer[] = [];
  let total = 0;
  const src = createReadStream(path);
  const gz = src.pipe(createGunzip());
  src.on('error', (err) => gz.destroy(err));
  try {
    for await (const chunk of gz) {
      chunks.push(chunk as Buffer);
      total += (chunk as Buffer).length;
      if (total >= n) {
        gz.destroy();
        src.destroy();
        return { sample: Buffer.concat(chunks).subarray(0, n), all: false };
      }
    }
  } catch (err) {
    // A truncated stream: keep what decoded; the plan pass reports the damage with the file's name.
    if (total === 0) {
      throw new LoaderError(
        'READ',
        `gzip stream is corrupt or truncated (${(err as Error).message})`,
        {},
        { cause: err },
      );
    }
  }
  return { sample: Buffer.concat(chunks), all: true };
}

export async function detect(path: string, forced: FileType): Promise<Detected> {
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    throw new LoaderError(
      'READ',
      `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      {},
      { cause: err },
    );
  }
  if (!st.isFile()) throw new LoaderError('READ', 'not a regular file');
  const head = await readHead(path, SAMPLE_BYTES);
  const magic = head.length >= 4 ? await fileTypeFromBuffer(head) : undefined;
  const lower = path.toLowerCase();
  const isParquetMagic = head.subarray(0, 4).toString('latin1') === 'PAR1';
  if (forced === 'parquet' || (forced === 'auto' && isParquetMagic)) {
    return {
      format: 'parquet',
      gzip: false,
      bytes: st.size,
      mtimeMs: st.mtimeMs,
      sample: head,
      sampleIsAll: st.size <= head.length,
    };
  }
  if (magic?.ext === 'gz') {
    const { sample, all } = await gunzipHead(path, SAMPLE_BYTES);
    refuseBinary(sample);
    return { format: 'csv', gzip: true, bytes: st.size, mtimeMs: st.mtimeMs, sample, sampleIsAll: all };
  }
  if (magic?.ext === 'zst') {
    throw new LoaderError(
      'DETECT',
      'zstd-compressed input is not supported yet: decompress it first (zstd -d)',
    );
  }
  if (magic && forced !== 'csv') {
    throw new LoaderError('DETECT', `this is ${magic.mime} (.${magic.ext}), not CSV or Parquet`);
  }
  if (forced === 'auto' && lower.endsWith('.parquet')) {
    throw new LoaderError(
      'DETECT',
      'named .parquet but has no Parquet magic bytes (PAR1): corrupt or not Parquet',
    );
  }
  if (forced === 'auto' && lower.endsWith('.gz')) {
    throw new LoaderError('DETECT', 'named .gz but has no gzip magic bytes');
  }
  refuseBinary(head);
  return {
    format: 'csv',
    gzip: false,
    bytes: st.size,
    mtimeMs: st.mtimeMs,
    sample: head,
    sampleIsAll: st.size <= head.length,
  };
}

/** No text encoding PostgreSQL accepts has NUL bytes: a NUL in the first KBs means binary data, not CSV. */
function refuseBinary(sample: Buffer): void {
  const nul = sample.indexOf(0);
  if (nul >= 0) throw new LoaderError('DETECT', `binary data, not CSV: a NUL byte at byte ${nul}`);
}
