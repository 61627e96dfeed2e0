// apache-arrow for the Parquet worker threads, from the package's one-file build: its ESM entry is ~160 modules and
// took ~420 ms to import in each new thread (of ~900 ms start-up); the one-file build loads in ~60 ms. Same API; the
// worker modules take Arrow's runtime values only from here, and never rely on `instanceof` across builds.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

type Arrow = typeof import('apache-arrow');
const require = createRequire(import.meta.url);
const bundle = join(dirname(require.resolve('apache-arrow')), 'Arrow.esnext.min.js');

export const arrow: Arrow = (existsSync(bundle) ? require(bundle) : require('apache-arrow')) as Arrow;
