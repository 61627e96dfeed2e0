// Baseline: `node dist/bench/pipe.js 'COPY ... FROM STDIN ...' FILE...` pipes each file (gunzipped when it ends in
// .gz) into one COPY on one connection (DATABASE_URL), one file after another: the plainest Node way to load.
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

const [sql, ...files] = process.argv.slice(2);
if (!sql || files.length === 0) throw new Error('usage: node pipe.js COPY-SQL FILE...');
const client = new pg.Client(process.env.DATABASE_URL);
await client.connect();
try {
  for (const f of files) {
    const read = createReadStream(f, { highWaterMark: 1 << 20 });
    const copy = client.query(copyFrom(sql));
    if (f.endsWith('.gz')) await pipeline(read, createGunzip(), copy);
    else await pipeline(read, copy);
  }
} finally {
  await client.end();
}
