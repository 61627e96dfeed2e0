// The tuner's scenarios and their generated data: the seeded rows as 1 CSV file, as N files, as 1,000 small files,
// as one Parquet file (the same rows, written by DuckDB), and the large files of the memory scenarios (a ~2 GB CSV
// file; a ~1 GB Parquet file with row groups of up to 64 MB). Each dataset is written once per run, on first use.
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import fg from 'fast-glob';
import type pg from 'pg';
import { BENCH_COLUMNS, writeDataset } from './dataset.js';
import { countRecords, userTable } from './user.js';

export interface Scenario {
  name: string;
  title: string;
  mode: 'append' | 'upsert';
  files: string[];
  rows: number;
  /** bytes of the files loaded */
  bytes: number;
  /** a loader ratio to the reference at most this meets the issue's target */
  goal?: number;
  /** the same rows as one CSV file, when the scenario's files are not that (the psql baselines load it) */
  csv?: string[];
  /** memory scenarios: the target is a peak RSS of at most this many bytes; no baselines are run */
  rssGoal?: number;
}

export const SCENARIOS = ['append', 'files', 'upsert', 'small', 'parquet', 'rss-csv', 'rss-parquet'];
/** `--scenario all`: the memory scenarios write 3 GB of data and are run only when named */
export const ALL = SCENARIOS.slice(0, 5);

const CSV_GOAL_BYTES = 2e9;
const PARQUET_GOAL_BYTES = 1e9;
const ROW_GROUP_BYTES = 60e6; // uncompressed, under the issue's 64 MB
/** DuckDB's types for the dataset's columns (json as text: Parquet has no json type DuckDB writes by default) */
const DUCK_COLUMNS = `{'id':'BIGINT','qty':'INTEGER','label':'VARCHAR','body':'VARCHAR','price':'DECIMAL(12,2)',
  'score':'DOUBLE','active':'BOOLEAN','day':'DATE','at':'TIMESTAMPTZ','ref':'UUID','maybe':'INTEGER','meta':'VARCHAR'}`;

interface Dataset {
  files: string[];
  bytes: number;
  rows: number;
}

/** Generates (once) and describes the scenarios' data under `dir`. */
export class Datasets {
  private readonly cache = new Map<string, Promise<Dataset>>();
  constructor(
    private readonly dir: string,
    private readonly rows: number,
    private readonly fileCount: number,
  ) {}

  private once(kind: string, make: () => Promise<Dataset>): Promise<Dataset> {
    let d = this.cache.get(kind);
    if (!d) this.cache.set(kind, (d = make()));
    return d;
  }

  csv(kind: 'single' | 'files' | 'small'): Promise<Dataset> {
    return this.once(kind, async () => {
      const n = kind === 'single' ? 1 : kind === 'files' ? this.fileCount : Math.ceil(this.rows / 1000);
      const sub = join(this.dir, kind);
      await mkdir(sub, { recursive: true });
      const files = Array.from({ length: n }, (_, i) => join(sub, `part-${String(i).padStart(5, '0')}.csv`));
      console.error(`bench: writing ${this.rows} rows as ${n} CSV file(s) under ${sub}`);
      return { files, bytes: await writeDataset(files, this.rows), rows: this.rows };
    });
  }

  /** The single CSV file's rows as one Parquet file; `copies` > 1 repeats them (the ~1 GB memory scenario). */
  parquet(copies = 1, rowGroupRows = 122_880): Promise<Dataset> {
    return this.once(`parquet-${copies}`, async () => {
      const src = await this.csv('single');
      const out = join(this.dir, `rows-x${copies}.parquet`);
      console.error(
        `bench: writing ${src.rows * copies} rows as Parquet (row groups of ${rowGroupRows} rows)`,
      );
      const { DuckDBInstance } = await import('@duckdb/node-api');
      const duck = await DuckDBInstance.create(':memory:');
      const c = await duck.connect();
      try {
        const list = Array.from({ length: copies }, () => `'${src.files[0]!}'`).join(',');
        await c.run(
          `COPY (SELECT ${BENCH_COLUMNS.map((x) => `"${x}"`).join(',')} FROM read_csv([${list}], header = true, ` +
            `columns = ${DUCK_COLUMNS})) TO '${out}' (FORMAT parquet, ROW_GROUP_SIZE ${rowGroupRows})`,
        );
      } finally {
        c.closeSync();
        duck.closeSync();
      }
      return { files: [out], bytes: (await stat(out)).size, rows: src.rows * copies };
    });
  }

  /** ~2 GB of CSV: the single file's records repeated (one header). */
  bigCsv(): Promise<Dataset> {
    return this.once('big-csv', async () => {
      const src = await this.csv('single');
      const copies = Math.max(1, Math.round(CSV_GOAL_BYTES / src.bytes));
      const out = join(this.dir, 'big.csv');
      console.error(`bench: writing ${src.rows * copies} rows (${copies} copies) as ${out}`);
      const headerBytes = BENCH_COLUMNS.join(',').length + 1;
      const w = createWriteStream(out);
      for (let i = 0; i < copies; i++) {
        for await (const chunk of createReadStream(src.files[0]!, { start: i === 0 ? 0 : headerBytes })) {
          if (!w.write(chunk)) await once(w, 'drain');
        }
      }
      w.end();
      await once(w, 'finish');
      return { files: [out], bytes: (await stat(out)).size, rows: src.rows * copies };
    });
  }

  /** ~1 GB of Parquet with row groups of about 60 MB uncompressed. */
  async bigParquet(): Promise<Dataset> {
    const src = await this.csv('single');
    const small = await this.parquet();
    const copies = Math.max(1, Math.round(PARQUET_GOAL_BYTES / small.bytes));
    return this.parquet(copies, Math.floor(ROW_GROUP_BYTES / (src.bytes / src.rows)));
  }
}

const MB300 = 300e6;

export async function generated(name: string, data: Datasets): Promise<Scenario> {
  const append = { mode: 'append' as const };
  if (name === 'parquet' || name === 'rss-parquet' || name === 'rss-csv') {
    const d =
      name === 'parquet'
        ? await data.parquet()
        : name === 'rss-csv'
          ? await data.bigCsv()
          : await data.bigParquet();
    const title =
      name === 'parquet'
        ? 'the same rows as one Parquet file, appended (reference: psql \\copy of the CSV)'
        : `peak RSS loading ${(d.bytes / 1e9).toFixed(1)} GB of ${name === 'rss-csv' ? 'CSV' : 'Parquet'} (${d.rows} rows)`;
    return name === 'parquet'
      ? { ...append, name, title, ...d, goal: 0.75, csv: (await data.csv('single')).files }
      : { ...append, name, title, ...d, rssGoal: MB300 };
  }
  const d = await data.csv(name === 'files' ? 'files' : name === 'small' ? 'small' : 'single');
  const titles: Record<string, [string, number]> = {
    append: ['one CSV file appended into a table without indexes', 0.9],
    files: [`the same rows as ${d.files.length} CSV files, appended`, 0.6],
    upsert: ['CSV upsert, half new keys and half updates, into a table with a primary key', 0.85],
    small: [
      `${d.files.length} small CSV files of ${Math.ceil(d.rows / d.files.length)} rows, appended`,
      1 / 3,
    ],
  };
  const [title, goal] = titles[name]!;
  const csv = name === 'files' ? (await data.csv('single')).files : undefined;
  return { name, title, mode: name === 'upsert' ? 'upsert' : 'append', ...d, goal, csv };
}

export async function userScenario(
  c: pg.Client,
  patterns: string[],
  table: string,
  mode: 'append' | 'upsert',
): Promise<Scenario> {
  const files = (await fg(patterns, { onlyFiles: true, unique: true })).sort();
  if (files.length === 0) throw new Error(`no file matches ${patterns.join(' ')}`);
  let bytes = 0;
  let rows = 0;
  for (const f of files) {
    bytes += (await stat(f)).size;
    rows += await countRecords(f);
  }
  await userTable(c, table);
  return {
    name: 'custom',
    title: `your ${files.length} file(s) into a copy of ${table}, ${mode}`,
    mode,
    files,
    rows,
    bytes,
  };
}
