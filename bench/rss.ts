import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type Benchmark, row } from './report.js';
import type { RssReport } from './rss-child.js';

const NAME = 'memory';
const PROBES = 10;
const TRIALS = 20;
const CONCURRENCY = 8;
const CHILD = fileURLToPath(new URL('./rss-child.ts', import.meta.url));

/**
 * Target 2: peak RSS of a 200-trial bench (messages runner, scripted server in-process), measured
 * in a child process that runs nothing else. Sandboxed graders are that child's own children and
 * are not counted (getrusage RUSAGE_SELF).
 */
export const memoryBenchmark: Benchmark = {
  name: NAME,
  async run(log) {
    // The child inherits this process's loader flags (tsx), so it can run TypeScript directly.
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [...process.execArgv, CHILD, String(PROBES), String(TRIALS), String(CONCURRENCY)],
      { maxBuffer: 1024 * 1024, timeout: 180_000 },
    );
    const report = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as RssReport;
    const mb = (kb: number) => kb / 1024;
    log(
      `  ${PROBES} probes x ${TRIALS} trials = ${report.trials} trials at concurrency ${CONCURRENCY}, ` +
        `sandbox ${report.isolation}, ${(report.wallMs / 1000).toFixed(1)} s; ` +
        `peak RSS ${mb(report.startMaxRssKb).toFixed(1)} MB before the bench, ${mb(report.maxRssKb).toFixed(1)} MB after; ` +
        `heap used after ${report.heapUsedAfterMb.toFixed(1)} MB`,
    );
    return [
      row(NAME, `peak RSS, ${report.trials}-trial bench`, mb(report.maxRssKb), 'MB', {
        op: '<',
        value: 300,
      }),
      row(NAME, 'peak RSS before the bench (node + modules)', mb(report.startMaxRssKb), 'MB'),
    ];
  },
};
