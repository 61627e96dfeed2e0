import { Command, InvalidArgumentError, Option } from 'commander';
import { describe, expect, it } from 'vitest';
import { resolveJobs, worstExit } from '../../src/jobs.js';

const int = (v: string): number => {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError('takes a whole number');
  return Number(v);
};
const cmd = new Command()
  .option('--dsn <url>')
  .option('-t, --table <t>')
  .option('--key <cols>')
  .option('--batch-size <n>', '', int, 50000)
  .option('--force')
  .option('--header')
  .option('--no-header')
  .option('-q, --quiet')
  .option('--config <file>')
  .addOption(new Option('--on-error <p>').choices(['abort-file', 'reject-rows']));
const jobs = (doc: unknown, explicit = {}, fallback = { batchSize: 50000 }) =>
  resolveJobs('loader.json', doc, cmd.options, explicit, fallback);

describe('resolveJobs', () => {
  it('merges defaults, the job, the command line: job over defaults, command-line flags over both', () => {
    const out = jobs(
      {
        dsn: 'postgres://h/d',
        'batch-size': 100,
        jobs: [
          { files: 'a/*.csv', table: 'a', batchSize: '7', key: ['id', 'day'], header: false },
          { name: 'second', files: ['b/*.csv', 'c.csv'], table: 'b', force: true, 'no-header': true },
        ],
      },
      { force: false },
    );
    expect(out).toEqual([
      {
        name: 'a',
        files: ['a/*.csv'],
        values: {
          batchSize: 7,
          dsn: 'postgres://h/d',
          table: 'a',
          key: 'id,day',
          header: false,
          force: false,
        },
      },
      {
        name: 'second',
        files: ['b/*.csv', 'c.csv'],
        values: { batchSize: 100, dsn: 'postgres://h/d', table: 'b', force: false, header: false },
      },
    ]);
  });

  it.each<[unknown, RegExp]>([
    [[], /loader.json: must hold a JSON object/],
    [{ jobs: [] }, /"jobs" must be a non-empty list/],
    [{ jobs: [{ table: 't' }] }, /job 1: "files" must be a pattern/],
    [{ jobs: [{ files: 'x' }] }, /job 1: "table" is required/],
    [{ jobs: [{ files: 'x', table: 't', batchsize: 1 }] }, /job 1: unknown key "batchsize"/],
    [
      {
        jobs: [
          { files: 'x', table: 't' },
          { name: 'n', files: 'y', table: 'u', force: 'yes' },
        ],
      },
      /job 2 \("n"\): "force" takes true or false/,
    ],
    [
      { jobs: [{ files: 'x', table: 't', 'batch-size': 'many' }] },
      /job 1: "batch-size": takes a whole number/,
    ],
    [
      { jobs: [{ files: 'x', table: 't', 'on-error': 'skip' }] },
      /"on-error" must be one of abort-file, reject-rows/,
    ],
    [{ quiet: true, jobs: [{ files: 'x', table: 't' }] }, /defaults: unknown key "quiet"/],
    [{ files: 'x', jobs: [{ files: 'x', table: 't' }] }, /"files" belongs in each job/],
    [
      {
        jobs: [
          { files: 'x', table: 't' },
          { files: 'y', table: 't' },
        ],
      },
      /job 2: another job is named "t"/,
    ],
  ])('refuses %j naming the job and the key', (doc, re) => {
    expect(() => jobs(doc)).toThrow(re);
  });
});

describe('worstExit', () => {
  it('is the worst of the jobs', () => {
    expect(worstExit([])).toBe(0);
    expect(worstExit([0, 1, 0])).toBe(1);
    expect(worstExit([1, 3, 2])).toBe(3);
  });
});
