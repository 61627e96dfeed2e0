// --config FILE: several loads in one run (one cron line for a folder tree into several tables). The file holds
// top-level defaults and `jobs: [...]`, each job its files and table plus any other option, named as the command
// line's long options (kebab-case or camelCase, in the command line's units). Everything is validated before the
// first job runs, each message naming the job and the key. Precedence: a flag given on the command line, then the
// job, then the file's defaults, then the command line's defaults and environment.
import { readFile } from 'node:fs/promises';
import { InvalidArgumentError, type Option } from 'commander';
import { LoaderError } from './errors.js';

export interface Job {
  /** the job's name: `name` in the file, else its table */
  name: string;
  /** option values by commander attribute name, merged as the precedence says */
  values: Record<string, unknown>;
  files: string[];
}

/** Options a file may not set: they belong to the command that reads it. */
const NOT_IN_FILE = new Set(['config', 'version', 'help', 'quiet', 'logLevel']);

const camel = (k: string): string => k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

function bad(where: string, message: string): LoaderError {
  return new LoaderError('USAGE', `${where}: ${message}`);
}

/** One value checked and converted as commander would convert it from the command line. */
function convert(where: string, key: string, opt: Option, value: unknown): unknown {
  const takesArg = opt.required || opt.optional;
  if (!takesArg) {
    if (typeof value !== 'boolean')
      throw bad(where, `"${key}" takes true or false, got ${JSON.stringify(value)}`);
    return opt.negate ? !value : value;
  }
  let text: string;
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) text = value.join(',');
  else if (typeof value === 'string' || typeof value === 'number') text = String(value);
  else throw bad(where, `"${key}" takes a string or a number, got ${JSON.stringify(value)}`);
  if (opt.argChoices && !opt.argChoices.includes(text)) {
    throw bad(where, `"${key}" must be one of ${opt.argChoices.join(', ')}, got ${JSON.stringify(text)}`);
  }
  if (opt.parseArg) {
    try {
      return opt.parseArg(text, undefined);
    } catch (err) {
      if (err instanceof InvalidArgumentError) throw bad(where, `"${key}": ${err.message}`);
      throw err;
    }
  }
  return text;
}

/** A section of the file (the defaults or one job) as option values by attribute name. */
function section(
  where: string,
  raw: Record<string, unknown>,
  options: readonly Option[],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (key === 'jobs' || key === 'files' || key === 'name') continue;
    // the long name as written (`no-header` too), else the camelCase attribute of a non-negated option
    const opt =
      options.find((o) => o.long === `--${key}`) ??
      options.find((o) => !o.negate && o.attributeName() === camel(key));
    if (!opt || NOT_IN_FILE.has(opt.attributeName())) throw bad(where, `unknown key "${key}"`);
    out[opt.attributeName()] = convert(where, key, opt, value);
  }
  return out;
}

function files(where: string, v: unknown): string[] {
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.length === 0 || !list.every((f) => typeof f === 'string' && f !== '')) {
    throw bad(where, '"files" must be a pattern or a non-empty list of patterns');
  }
  return list as string[];
}

/** The jobs of a parsed file. `explicit` holds the flags given on the command line (they win over the file),
 * `fallback` the command line's defaults and environment values (the file wins over them). */
export function resolveJobs(
  file: string,
  doc: unknown,
  options: readonly Option[],
  explicit: Record<string, unknown>,
  fallback: Record<string, unknown>,
): Job[] {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw bad(file, 'must hold a JSON object');
  const top = doc as Record<string, unknown>;
  if (!Array.isArray(top.jobs) || top.jobs.length === 0) throw bad(file, '"jobs" must be a non-empty list');
  if ('files' in top) throw bad(file, '"files" belongs in each job');
  const defaults = section(`${file}: defaults`, top, options);
  const names = new Set<string>();
  return top.jobs.map((raw: unknown, i: number) => {
    let where = `${file}: job ${i + 1}`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad(where, 'must be an object');
    const j = raw as Record<string, unknown>;
    if (j.name !== undefined && (typeof j.name !== 'string' || j.name === '')) {
      throw bad(where, '"name" must be a non-empty string');
    }
    if (typeof j.name === 'string') where += ` ("${j.name}")`;
    const values = { ...fallback, ...defaults, ...section(where, j, options), ...explicit };
    if (typeof values.table !== 'string' || values.table === '') throw bad(where, '"table" is required');
    const name = (j.name as string | undefined) ?? values.table;
    if (names.has(name)) throw bad(where, `another job is named "${name}": give each a "name"`);
    names.add(name);
    return { name, values, files: files(where, j.files) };
  });
}

/** Reads and parses the file; a missing or malformed file is a usage error naming it. */
export async function readJobsFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw bad(path, `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw bad(path, `not valid JSON: ${(err as Error).message}`);
  }
}

/** The exit code of several jobs: the worst of theirs (130/143 interrupted > 3 could not start > 2 usage > 1 a file
 * failed > 0). */
export function worstExit(codes: readonly number[]): number {
  return codes.reduce((a, b) => Math.max(a, b), 0);
}
