// Progress of a run as events (emitted by load() on the main thread, once per sub-batch COPYed, never per row), a
// pure state built from them, and pure renderers of that state: the live terminal display and the plain line
// written off a terminal. The adapters that draw them on stderr live in src/progress-view.ts.
import type { FileResult } from './file.js';
import type { SubBatchRange } from './scan.js';

export type ProgressEvent =
  /** the target is read and the files are found: `bytes` is their total size on disk */
  | { type: 'run-started'; runId: string; target: string; mode: string; files: number; bytes: number }
  /** a file's turn came: `bytes` is its size on disk */
  | { type: 'file-started'; index: number; path: string; bytes: number }
  /** one sub-batch is in (staging or the target): its records and its share of the file's bytes, and the file's
   * running totals. Over a file the `bytes` add up to the file's size and the `rows` to its records read, when
   * it gets that far. */
  | {
      type: 'file-progress';
      index: number;
      path: string;
      rows: number;
      bytes: number;
      rowsDone: number;
      bytesDone: number;
    }
  /** the file's final result (also for skipped, failed and cancelled files; once per file) */
  | { type: 'file-finished'; index: number; path: string; result: FileResult };

export type ProgressListener = (event: ProgressEvent) => void;

/** Shares of a file's bytes for its sub-batches, in whole bytes that add up to `fileBytes`: by byte range for CSV
 * (gzip ranges are decompressed bytes: scaled), by records where there are no ranges (Parquet). */
export function byteShares(batches: readonly SubBatchRange[], fileBytes: number): Map<number, number> {
  const ranged = batches.some((b) => b.end > b.start);
  const weights = batches.map((b) => (ranged ? b.end - b.start : b.records));
  const total = weights.reduce((a, b) => a + b, 0);
  const out = new Map<number, number>();
  let cum = 0;
  let given = 0;
  batches.forEach((b, i) => {
    cum += weights[i]!;
    const upTo = total > 0 ? Math.round((fileBytes * cum) / total) : i === batches.length - 1 ? fileBytes : 0;
    out.set(b.index, upTo - given);
    given = upTo;
  });
  return out;
}

/** One file's progress reporter. `done()` is idempotent per sub-batch, so a retried or re-copied sub-batch (staging
 * lost to a crash) counts once. With every sub-batch known at the start (Parquet, a small CSV file) each gets its
 * exact share; a CSV file whose sub-batches arrive as the scan cuts them (`batches` undefined) counts each by its
 * byte range on disk, the header with the first (a gzip file's ranges are decompressed bytes, which say nothing of
 * its bytes on disk: those come at the end), and `finish()` adds whatever is left once all its rows are in, so the
 * events of a file add up to its size. */
export class FileProgress {
  private readonly shares: Map<number, number> | undefined;
  private readonly seen = new Set<number>();
  private rowsDone = 0;
  private bytesDone = 0;

  constructor(
    private readonly emit: ProgressListener,
    private readonly index: number,
    private readonly path: string,
    batches: readonly SubBatchRange[] | undefined,
    private readonly fileBytes: number,
    private readonly opts: { gzip?: boolean } = {},
  ) {
    this.shares = batches && byteShares(batches, fileBytes);
  }

  done(batch: SubBatchRange): void {
    if (this.seen.has(batch.index)) return;
    this.seen.add(batch.index);
    this.send(batch.records, this.shares ? (this.shares.get(batch.index) ?? 0) : this.streamed(batch));
  }

  /** The bytes not counted yet (a streamed file's tail, a gzip file's all), once every row is in. */
  finish(): void {
    if (this.bytesDone < this.fileBytes) this.send(0, this.fileBytes - this.bytesDone);
  }

  private streamed(b: SubBatchRange): number {
    if (this.opts.gzip) return 0;
    const share = b.end - (b.index === 0 ? 0 : b.start);
    return Math.max(0, Math.min(share, this.fileBytes - this.bytesDone));
  }

  private send(rows: number, bytes: number): void {
    this.rowsDone += rows;
    this.bytesDone += bytes;
    this.emit({
      type: 'file-progress',
      index: this.index,
      path: this.path,
      rows,
      bytes,
      rowsDone: this.rowsDone,
      bytesDone: this.bytesDone,
    });
  }
}

export interface ActiveFile {
  path: string;
  bytes: number;
  bytesDone: number;
  rowsDone: number;
  startedAt: number;
}

export interface ProgressState {
  startedAt: number;
  target: string;
  files: number;
  bytes: number;
  /** files finished, by status */
  finished: { succeeded: number; failed: number; skipped: number; cancelled: number };
  /** bytes of finished files (all their bytes, whatever the status) */
  bytesFinished: number;
  /** records read by finished files */
  rowsFinished: number;
  active: Map<number, ActiveFile>;
}

export function initialState(now: number): ProgressState {
  return {
    startedAt: now,
    target: '',
    files: 0,
    bytes: 0,
    finished: { succeeded: 0, failed: 0, skipped: 0, cancelled: 0 },
    bytesFinished: 0,
    rowsFinished: 0,
    active: new Map(),
  };
}

/** Folds one event into the state (in place: the hot path makes no copies). */
export function applyEvent(s: ProgressState, e: ProgressEvent, now: number): ProgressState {
  switch (e.type) {
    case 'run-started':
      s.target = e.target;
      s.files = e.files;
      s.bytes = e.bytes;
      s.startedAt = now;
      break;
    case 'file-started':
      s.active.set(e.index, { path: e.path, bytes: e.bytes, bytesDone: 0, rowsDone: 0, startedAt: now });
      break;
    case 'file-progress': {
      const f = s.active.get(e.index);
      if (f) {
        f.bytesDone = e.bytesDone;
        f.rowsDone = e.rowsDone;
      }
      break;
    }
    case 'file-finished':
      s.active.delete(e.index);
      s.finished[e.result.status]++;
      s.bytesFinished += e.result.bytes;
      s.rowsFinished += e.result.rowsRead;
      break;
  }
  return s;
}

export interface Totals {
  filesDone: number;
  bytesDone: number;
  rowsDone: number;
  elapsedS: number;
  /** 0..1 by bytes */
  fraction: number;
  rowsPerS: number;
  bytesPerS: number;
  /** seconds left by the byte rate so far; undefined until something is done */
  etaS: number | undefined;
}

export function totals(s: ProgressState, now: number): Totals {
  const f = s.finished;
  let bytesDone = s.bytesFinished;
  let rowsDone = s.rowsFinished;
  for (const a of s.active.values()) {
    bytesDone += a.bytesDone;
    rowsDone += a.rowsDone;
  }
  const elapsedS = Math.max(0, (now - s.startedAt) / 1000);
  const fraction = s.bytes > 0 ? Math.min(1, bytesDone / s.bytes) : 0;
  const bytesPerS = elapsedS > 0 ? bytesDone / elapsedS : 0;
  const etaS = bytesPerS > 0 ? Math.max(0, (s.bytes - bytesDone) / bytesPerS) : undefined;
  return {
    filesDone: f.succeeded + f.failed + f.skipped + f.cancelled,
    bytesDone,
    rowsDone,
    elapsedS,
    fraction,
    rowsPerS: elapsedS > 0 ? rowsDone / elapsedS : 0,
    bytesPerS,
    etaS,
  };
}

export function formatBytes(n: number): string {
  if (n < 1e6) return `${(n / 1e3).toFixed(n < 1e4 ? 1 : 0)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(n < 1e7 ? 1 : 0)} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
}

export function formatDuration(s: number): string {
  const t = Math.round(s);
  if (t < 60) return `${t}s`;
  if (t < 3600) return `${Math.floor(t / 60)}m${String(t % 60).padStart(2, '0')}s`;
  return `${Math.floor(t / 3600)}h${String(Math.floor((t % 3600) / 60)).padStart(2, '0')}m`;
}

const count = (n: number): string => Math.round(n).toLocaleString('en-US');

/** Fits text into `width` columns, cutting the middle of a long path. */
function fit(text: string, width: number): string {
  if (text.length <= width) return text;
  if (width <= 1) return text.slice(0, width);
  const left = Math.ceil((width - 1) / 2);
  return `${text.slice(0, left)}…${text.slice(text.length - (width - 1 - left))}`;
}

/** The plain line written off a terminal every --progress-interval seconds: no escape codes. */
export function progressLine(s: ProgressState, now: number): string {
  const t = totals(s, now);
  const f = s.finished;
  const failed = f.failed + f.cancelled > 0 ? `, ${f.failed + f.cancelled} failed` : '';
  return (
    `progress: ${t.filesDone}/${s.files} files${failed}, ${formatBytes(t.bytesDone)} of ${formatBytes(s.bytes)} ` +
    `(${Math.floor(t.fraction * 100)}%), ${count(t.rowsDone)} rows, ${count(t.rowsPerS)} rows/s, ` +
    `${s.active.size} active, elapsed ${formatDuration(t.elapsedS)}` +
    (t.etaS !== undefined ? `, ETA ${formatDuration(t.etaS)}` : '')
  );
}

export interface Style {
  width: number;
  color: boolean;
  /** most active files shown, one line each */
  maxFiles?: number;
}

const paint = (on: boolean, code: string, text: string): string =>
  on && text ? `\x1b[${code}m${text}\x1b[0m` : text;

/** The live display: one line per active file (rows, MB, rows/s), then the overall bar with its ETA by bytes.
 * Lines never exceed `width` visible columns, so the terminal never wraps them. */
export function renderProgress(s: ProgressState, now: number, style: Style): string[] {
  const width = Math.max(20, style.width);
  const lines: string[] = [];
  const active = [...s.active.values()].sort((a, b) => a.startedAt - b.startedAt);
  const shown = active.slice(0, style.maxFiles ?? 8);
  for (const a of shown) {
    const secs = Math.max(0.001, (now - a.startedAt) / 1000);
    const stats = `${count(a.rowsDone).padStart(11)} rows ${formatBytes(a.bytesDone).padStart(9)} ${count(a.rowsDone / secs).padStart(9)} rows/s`;
    const room = width - stats.length - 3;
    lines.push(room >= 8 ? `  ${fit(a.path, room).padEnd(room)} ${stats}` : fit(`  ${a.path}`, width));
  }
  if (active.length > shown.length) lines.push(`  ... and ${active.length - shown.length} more`);
  const t = totals(s, now);
  const f = s.finished;
  const failed = f.failed + f.cancelled;
  const tail =
    ` ${String(Math.floor(t.fraction * 100)).padStart(3)}% ${formatBytes(t.bytesDone)}/${formatBytes(s.bytes)}` +
    ` ${t.filesDone}/${s.files} files${failed > 0 ? ` (${failed} failed)` : ''}` +
    ` ${count(t.rowsPerS)} rows/s ETA ${t.etaS !== undefined ? formatDuration(t.etaS) : '?'}`;
  // a bar of steady width (the numbers after it change length), up to 30 columns, none on a narrow terminal
  const barWidth = Math.min(30, Math.max(0, width - 56));
  if (barWidth >= 5) {
    const full = Math.round(t.fraction * barWidth);
    const bar =
      paint(style.color, failed > 0 ? '33' : '32', '#'.repeat(full)) +
      paint(style.color, '2', '-'.repeat(barWidth - full));
    lines.push(`[${bar}]${fit(tail, width - barWidth - 2)}`);
  } else {
    lines.push(fit(tail.trimStart(), width));
  }
  return lines;
}
