// `node dist/bench/rss.js ENTRY.js [args...]`: runs a Node entry point (the loader's CLI, the pipe baseline) in this
// process as if started directly, and at exit writes the process's peak RSS in bytes and its CPU time (user +
// system) in seconds, worker threads included, to the file named by BENCH_RSS_FILE. This is how the tuner measures
// the loader's memory and CPU, not its own.
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [entry, ...rest] = process.argv.slice(2);
if (!entry) throw new Error('usage: node rss.js ENTRY.js [args...]');
const out = process.env.BENCH_RSS_FILE;
if (out) {
  process.on('exit', () => {
    const u = process.resourceUsage();
    writeFileSync(out, `${u.maxRSS * 1024} ${(u.userCPUTime + u.systemCPUTime) / 1e6}`);
  });
}
process.argv = [process.argv[0]!, resolve(entry), ...rest];
await import(pathToFileURL(resolve(entry)).href);
