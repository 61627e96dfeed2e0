// A Parquet file as the Blob parquet-wasm reads byte ranges from (`size`, `slice()`, `arrayBuffer()`, all it
// calls), backed by synchronous reads into resizable ArrayBuffers that are shrunk to nothing as soon as the wasm
// side has copied them. Node's file-backed Blob (openAsBlob) read each range in chunks and joined them, and its
// buffers (a row group's compressed bytes, 20 MB for the bench's groups) stayed until a garbage collection, in
// glibc's arenas. parquet-wasm alone decoding the bench's 3,000,000 rows (14 groups of about 60 MB), 3 turns:
// peak RSS 336 to 350 MB, 1.57 to 1.74 s through openAsBlob; 216 to 221 MB, 1.10 to 1.16 s through this. A
// resizable buffer's memory is V8's own mapping, given back to the system by resize(0) (not a malloc'd chunk).
// For parquet-wasm only (see arrayBuffer), and in worker threads only (a synchronous read blocks the thread).
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** The duck-typed Blob parquet-wasm's `ParquetFile.fromFile` takes. Not a general Blob: arrayBuffer()'s buffer is
 * emptied a few microtasks after its promise resolves, so it must be read at once (parquet-wasm copies it then). */
export interface FileBytes {
  readonly size: number;
  slice(start?: number, end?: number): FileBytes;
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** `path` as a Blob of its current size. Each range is read with the file opened anew (no descriptor is held
 * between reads, so a thread that exits leaks none); a file whose size changed fails the read. */
export function fileBytes(path: string): FileBytes {
  const fd = openSync(path, 'r');
  let size: number;
  try {
    size = fstatSync(fd).size;
  } finally {
    closeSync(fd);
  }
  return range(path, size, 0, size);
}

/** ES2024's resizable ArrayBuffer (in Node 20; not in this project's TypeScript lib) */
interface Resizable extends ArrayBuffer {
  resize(n: number): void;
}
const ResizableBuffer = ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => Resizable;

function range(path: string, fileSize: number, from: number, to: number): FileBytes {
  return {
    size: to - from,
    slice(start = 0, end = to - from) {
      const n = to - from;
      const s = clamp(start, n);
      const e = Math.max(s, clamp(end, n));
      return range(path, fileSize, from + s, from + e);
    },
    arrayBuffer() {
      const n = to - from;
      const ab = new ResizableBuffer(n, { maxByteLength: Math.max(n, 1) });
      try {
        readInto(path, fileSize, new Uint8Array(ab), from);
      } catch (err) {
        return Promise.reject(err);
      }
      const read = Promise.resolve(ab as ArrayBuffer);
      // parquet-wasm copies the bytes into its memory when its task next runs: a microtask that the reaction it
      // adds to this promise queues (wasm-bindgen-futures). This reaction comes first, and frees the buffer three
      // microtasks later, after that copy; the decode of the row group then runs without it (freed at the next
      // macrotask, it lived through the whole decode, 350 ms for the bench's groups). Freed too soon, the reader
      // would find no bytes and fail the row group, never read other data.
      void read.then(() => later(3, () => ab.resize(0)));
      return read;
    },
  };
}

function readInto(path: string, fileSize: number, view: Uint8Array, from: number): void {
  const fd = openSync(path, 'r');
  try {
    if (fstatSync(fd).size !== fileSize) throw new Error(`${path} changed size while being read`);
    for (let at = 0; at < view.length;) {
      const got = readSync(fd, view, at, view.length - at, from + at);
      if (got === 0) throw new Error(`${path} ended early while being read`);
      at += got;
    }
  } finally {
    closeSync(fd);
  }
}

/** `f` after `hops` more microtasks */
function later(hops: number, f: () => void): void {
  if (hops === 0) f();
  else queueMicrotask(() => later(hops - 1, f));
}

/** Blob.slice's index rules: negative counts from the end, clamped to [0, n]. */
function clamp(i: number, n: number): number {
  const k = Math.trunc(i);
  return k < 0 ? Math.max(n + k, 0) : Math.min(k, n);
}
