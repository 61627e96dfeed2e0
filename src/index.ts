// The library: load() with the same options as the command line, and its types.
export { load, type LoadResult, type LoadHooks } from './load.js';
export type { LoadOptions, Mode, FileType } from './config.js';
export type { FileResult } from './file.js';
export type { ProgressEvent, ProgressListener } from './progress.js';
export {
  buildReport,
  REPORT_VERSION,
  type Report,
  type JobReport,
  type FileReport,
  type ReportTotals,
} from './report.js';
export { metricsText } from './metrics.js';
export type { RunPlan, FilePlan } from './dryrun.js';
export type { FileStatus } from './audit.js';
export { LoaderError, type ErrorCode } from './errors.js';
export { createLogger } from './log.js';
export { VERSION } from './version.js';
