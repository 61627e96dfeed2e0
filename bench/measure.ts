// Measuring for the tuner: every setting and baseline runs as a child process, timed from spawn to exit, with its
// peak RSS (the child's own report through rss.js for Node children, else VmHWM polled from /proc). Plus the
// statistics and the printed table.
import { spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

export interface ChildRun {
  seconds: number;
  /** peak RSS in bytes; null when not measurable (a shell loop of many processes) */
  rss: number | null;
  /** CPU seconds (user + system) of a Node child started through rss.js; null for others */
  cpu: number | null;
}

export interface ChildSpec {
  cmd: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** a Node child started through rss.js reports its own peak RSS in this file */
  rssFile?: string;
  /** poll /proc/<pid>/status for VmHWM (meaningless for a shell that starts other processes) */
  pollRss?: boolean;
}

async function vmHwm(pid: number): Promise<number> {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0; // gone already, or no /proc
  }
}

export async function runChild(spec: ChildSpec, signal: AbortSignal): Promise<ChildRun> {
  signal.throwIfAborted();
  if (spec.rssFile) await rm(spec.rssFile, { force: true });
  const t0 = performance.now();
  const child = spawn(spec.cmd, spec.args, {
    env: { ...process.env, ...spec.env, ...(spec.rssFile ? { BENCH_RSS_FILE: spec.rssFile } : {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (b: Buffer): void => void (out = (out + b.toString()).slice(-4000));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let polled = 0;
  const poll = spec.pollRss
    ? setInterval(() => {
        if (child.pid) void vmHwm(child.pid).then((v) => (polled = Math.max(polled, v)));
      }, 20)
    : undefined;
  const kill = (): void => void child.kill('SIGTERM');
  signal.addEventListener('abort', kill, { once: true });
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (c) => resolve(c));
    });
    const seconds = (performance.now() - t0) / 1000;
    if (code !== 0) throw new Error(`${spec.cmd} exited with ${code}: ${out.trim()}`);
    let rss: number | null = spec.pollRss ? polled || null : null;
    let cpu: number | null = null;
    if (spec.rssFile) {
      const [r, c] = (await readFile(spec.rssFile, 'utf8').catch(() => '0')).split(' ').map(Number);
      rss = r || rss;
      cpu = c ?? null;
    }
    return { seconds, rss, cpu };
  } finally {
    clearInterval(poll);
    signal.removeEventListener('abort', kill);
  }
}

/** Runs the specs at once (parallel psql sessions); the time is the slowest one's, the RSS the largest. */
export async function parallel(specs: ChildSpec[], signal: AbortSignal): Promise<ChildRun> {
  const t0 = performance.now();
  const rs = await Promise.all(specs.map((s) => runChild(s, signal)));
  const rss = rs.some((r) => r.rss !== null) ? Math.max(...rs.map((r) => r.rss ?? 0)) : null;
  const cpu = rs.some((r) => r.cpu !== null) ? rs.reduce((a, r) => a + (r.cpu ?? 0), 0) : null;
  return { seconds: rs.length === 1 ? rs[0]!.seconds : (performance.now() - t0) / 1000, rss, cpu };
}

export interface LoaderParams {
  batchSize: number;
  internal: number;
  concurrency: number;
  direct: boolean;
  /** --copy-format: auto, text or binary */
  format?: string;
}

export interface Measured {
  scenario: string;
  name: string;
  kind: 'loader' | 'baseline';
  params?: LoaderParams;
  times: number[];
  /** the largest peak RSS over the runs, bytes */
  rss: number | null;
  /** CPU seconds of each run (the Node child's own, worker threads included), when measured */
  cpu: number[];
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export interface Pending {
  measured: Measured;
  specs: ChildSpec[];
}

/** The order of the settings in turn i: as listed in even turns, reversed in odd ones, so that no setting always
 * runs in the same place (an A/A run of one build as both "loader" and "base", always in that order, had the first
 * faster in 4 of 5 pairs, by 0.41 s on average). */
export function turnOrder<T>(todo: readonly T[], i: number): T[] {
  return i % 2 === 0 ? [...todo] : [...todo].reverse();
}

/** Runs every pending setting `runs` times, in turns, resetting before each run; fills in times and peak RSS. */
export async function rounds(
  todo: Pending[],
  runs: number,
  reset: () => Promise<void>,
  signal: AbortSignal,
): Promise<void> {
  for (let i = 0; i < runs; i++) {
    for (const { measured: m, specs } of turnOrder(todo, i)) {
      signal.throwIfAborted();
      await reset();
      const r = await parallel(specs, signal);
      m.times.push(r.seconds);
      if (r.rss !== null) m.rss = Math.max(m.rss ?? 0, r.rss);
      if (r.cpu !== null) m.cpu.push(r.cpu);
      process.stderr.write(`  run ${i + 1}/${runs} ${m.name}: ${r.seconds.toFixed(2)} s\n`);
    }
  }
}

/** Two settings measured in the same turns (an A/B with --base-cli): run i of one against run i of the other, which
 * shared that turn's load. On a shared machine the spread of either's runs is wider than most changes; what the
 * turns say is how often one was faster and by how much on average. */
export interface Paired {
  turns: number;
  /** turns in which `a` was faster */
  faster: number;
  /** mean of a - b over the turns, seconds (negative: `a` faster) */
  meanDiff: number;
  /** mean of a / b over the turns */
  meanRatio: number;
}

export function paired(a: readonly number[], b: readonly number[]): Paired | undefined {
  const turns = Math.min(a.length, b.length);
  if (turns === 0) return undefined;
  let faster = 0;
  let diff = 0;
  let ratio = 0;
  for (let i = 0; i < turns; i++) {
    if (a[i]! < b[i]!) faster++;
    diff += a[i]! - b[i]!;
    ratio += a[i]! / b[i]!;
  }
  return { turns, faster, meanDiff: diff / turns, meanRatio: ratio / turns };
}

/** One line for an A/B: "<a> against <b>: faster in 3 of 5 turns, 0.21 s (4%) faster on average". */
export function pairedLine(a: string, b: string, p: Paired): string {
  const d = Math.abs(p.meanDiff);
  const pct = Math.abs(1 - p.meanRatio) * 100;
  const how = p.meanDiff < 0 ? 'faster' : 'slower';
  return (
    `${a} against ${b}: faster in ${p.faster} of ${p.turns} turns, ` +
    `${d.toFixed(2)} s (${pct.toFixed(0)}%) ${how} on average`
  );
}

/** The table: one line per setting, ratio to the reference's median. */
export function table(
  results: readonly Measured[],
  rows: number,
  bytes: number,
  reference?: Measured,
): string[] {
  const ref = reference ? median(reference.times) : undefined;
  const w = Math.max(40, ...results.map((r) => r.name.length));
  const lines = [
    [
      'setting'.padEnd(w),
      'median s',
      'min s',
      'max s',
      '   rows/s',
      'MB/s',
      'peak RSS MB',
      'CPU s',
      'ratio',
    ].join('  '),
  ];
  for (const r of results) {
    const m = median(r.times);
    lines.push(
      [
        r.name.padEnd(w),
        m.toFixed(2).padStart(8),
        Math.min(...r.times)
          .toFixed(2)
          .padStart(5),
        Math.max(...r.times)
          .toFixed(2)
          .padStart(5),
        Math.round(rows / m)
          .toLocaleString('en-US')
          .padStart(9),
        (bytes / 1e6 / m).toFixed(0).padStart(4),
        (r.rss === null ? '-' : (r.rss / 1e6).toFixed(0)).padStart(11),
        (r.cpu.length ? median(r.cpu).toFixed(2) : '-').padStart(5),
        (ref ? (m / ref).toFixed(2) : '-').padStart(5),
      ].join('  '),
    );
  }
  return lines;
}

export const tmpRssFile = (dir: string, tag: string): string => join(dir, `rss-${process.pid}-${tag}.txt`);
