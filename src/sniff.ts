// CSV dialect sniffing from the first KBs of a file: delimiter among , ; TAB |, quote, BOM, line ending, and
// whether the first record is a header (it names at least one target column). Pure: bytes in, dialect out.
import { parse } from 'csv-parse/sync';
import { RecordScanner } from './scan.js';

export const DELIMITERS = [',', ';', '\t', '|'] as const;

export interface SniffResult {
  delimiter: string;
  quote: string;
  bom: boolean;
  crlf: boolean;
  /** the first record's fields, parsed with the sniffed dialect */
  firstRecord: string[];
  /** undefined when the sample holds no complete record */
  header: boolean | undefined;
}

export interface SniffHints {
  delimiter?: string;
  quote?: string;
  escape?: string;
  header?: boolean;
  encoding?: BufferEncoding | string;
  /** target column names, for header detection */
  columns: readonly string[];
}

const BOM = [0xef, 0xbb, 0xbf];

export function hasBom(buf: Uint8Array): boolean {
  return buf[0] === BOM[0] && buf[1] === BOM[1] && buf[2] === BOM[2];
}

/** Delimiter counts outside quotes for each record of the sample. */
function countOutsideQuotes(text: string, delimiter: string, quote: string): number[] {
  const counts: number[] = [];
  let inQuote = false;
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === quote) inQuote = !inQuote;
    else if (!inQuote && c === delimiter) count++;
    else if (!inQuote && c === '\n') {
      counts.push(count);
      count = 0;
    }
  }
  return counts;
}

function pickDelimiter(text: string, quote: string): string {
  let best: string = ',';
  let bestScore = 0;
  for (const d of DELIMITERS) {
    const counts = countOutsideQuotes(text, d, quote).slice(0, 50);
    if (counts.length === 0) {
      // A single line with no newline: the most frequent candidate wins.
      const n = text.split(d).length - 1;
      if (n > bestScore) [best, bestScore] = [d, n];
      continue;
    }
    // The most common non-zero count, weighted by how many records agree on it.
    const freq = new Map<number, number>();
    for (const c of counts) if (c > 0) freq.set(c, (freq.get(c) ?? 0) + 1);
    for (const [c, agree] of freq) {
      const score = (agree / counts.length) * 1000 + c;
      if (score > bestScore) [best, bestScore] = [d, score];
    }
  }
  return best;
}

function pickQuote(text: string, delimiter: string): string {
  const boundary = (q: string): number => {
    const re = new RegExp(`(^|[${delimiter === '\t' ? '\\t' : '\\' + delimiter}\\n])${q}`, 'g');
    return (text.match(re) ?? []).length;
  };
  return boundary("'") > boundary('"') ? "'" : '"';
}

export function sniff(sample: Uint8Array, hints: SniffHints): SniffResult {
  const bom = hasBom(sample);
  const body = bom ? sample.subarray(3) : sample;
  const decoder = new TextDecoder(hints.encoding && hints.encoding !== 'utf8' ? hints.encoding : 'utf-8');
  const text = decoder.decode(body);
  const crlf = /\r\n/.test(text.slice(0, 65536));
  const quote0 = hints.quote ?? '"';
  const delimiter = hints.delimiter ?? pickDelimiter(text, quote0);
  const quote = hints.quote ?? pickQuote(text, delimiter);
  const escape = hints.escape ?? quote;

  // Parse only whole records: cut the sample at the end of its last complete record (or take it all if the
  // sample is the whole file, which the caller tells by it being shorter than the sample size).
  let firstRecord: string[] = [];
  try {
    const scanner = new RecordScanner({
      quote: quote.charCodeAt(0),
      escape: escape.charCodeAt(0),
      batchSize: 1,
      header: false,
    });
    scanner.push(body);
    // The first record, if complete, decides even when the sample is cut inside a later quoted field; only a
    // sample that is one unfinished record is finished (and then throws if it is inside quotes).
    const last = scanner.completed()[0] ?? scanner.finish().batches[0];
    if (last) {
      const rows = parse(Buffer.from(body.subarray(0, last.end)).toString(decoderName(hints.encoding)), {
        delimiter,
        quote,
        escape,
        relax_column_count: true,
        skip_empty_lines: false,
      }) as string[][];
      firstRecord = rows[0] ?? [];
    }
  } catch {
    // The sample ends inside a quoted field or is not CSV: leave the header undecided, COPY will say more.
  }
  let header: boolean | undefined;
  if (hints.header !== undefined) header = hints.header;
  else if (firstRecord.length > 0) {
    const names = new Set(hints.columns.map((c) => c.toLowerCase()));
    header = firstRecord.some((f) => names.has(f.trim().toLowerCase()));
  }
  return { delimiter, quote, bom, crlf, firstRecord, header };
}

/** Node's Buffer encoding name for an --encoding value, for decoding header names. */
export function decoderName(encoding: string | undefined): BufferEncoding {
  const e = (encoding ?? 'utf8').toLowerCase().replace(/[-_]/g, '');
  if (e === 'latin1' || e === 'iso88591' || e === 'win1252' || e === 'windows1252') return 'latin1';
  if (e === 'utf16le' || e === 'ucs2') return 'utf16le';
  return 'utf8';
}
