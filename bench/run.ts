import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { cacheBenchmark } from './cache-share.js';
import { chainDemoBenchmark } from './chain-demo.js';
import { chainParallelBenchmark } from './chain-parallel.js';
import { concurrencyBenchmark } from './concurrency.js';
import { demoCostBenchmark } from './demo-cost.js';
import { githubRequestsBenchmark } from './github-requests.js';
import { type Benchmark, type ResultRow, renderTable, writeResultsJson } from './report.js';
import { memoryBenchmark } from './rss.js';
import { sandboxBenchmark } from './sandbox-overhead.js';
import { startupBenchmark } from './startup.js';
import { testSuiteBenchmark } from './test-suite.js';
import { webhookBenchmark } from './webhook.js';

/**
 * `npm run bench [-- --only <name>]`: runs the performance benchmarks one after another, prints
 * each measured figure beside its target, and writes every figure to `bench-results.json` at the
 * repository root (or to `--out <path>`): `{ meta, results: [{ name, benchmark, value, unit,
 * target, pass }] }`.
 * A missed target is reported, not failed; the exit code is non-zero only when a benchmark crashed.
 */

const BENCHMARKS: Benchmark[] = [
  concurrencyBenchmark,
  memoryBenchmark,
  sandboxBenchmark,
  cacheBenchmark,
  chainParallelBenchmark,
  chainDemoBenchmark,
  demoCostBenchmark,
  webhookBenchmark,
  githubRequestsBenchmark,
  startupBenchmark,
  testSuiteBenchmark,
];

const DEFAULT_RESULTS_PATH = join(import.meta.dirname, '..', 'bench-results.json');

/** Where to write the results: `--out <path>`, else the repository root. */
function resultsPath(argv: string[]): string {
  const at = argv.indexOf('--out');
  const value = at >= 0 ? argv[at + 1] : undefined;
  return value === undefined ? DEFAULT_RESULTS_PATH : resolve(value);
}

/** The benchmarks to run, or a message saying what `--only` accepts. */
function selected(argv: string[]): Benchmark[] | string {
  const at = argv.indexOf('--only');
  if (at < 0) return BENCHMARKS;
  const name = argv[at + 1];
  const match = BENCHMARKS.filter((b) => b.name === name);
  if (match.length > 0) return match;
  return `--only needs one of: ${BENCHMARKS.map((b) => b.name).join(', ')} (got ${name ?? 'nothing'})`;
}

async function main(): Promise<number> {
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const benches = selected(process.argv.slice(2));
  if (typeof benches === 'string') {
    process.stderr.write(`${benches}\n`);
    return 2;
  }
  const rows: ResultRow[] = [];
  const crashed: string[] = [];
  const started = Date.now();
  const loadBefore = loadavg()[0] ?? 0;
  log(
    `node ${process.version}, ${cpus().length} CPUs, load average ${loadBefore.toFixed(2)} ` +
      '(figures are wall-clock: other work on the machine lowers them)',
  );
  for (const bench of benches) {
    log(`\n## ${bench.name}`);
    const t0 = performance.now();
    try {
      rows.push(...(await bench.run(log)));
    } catch (error) {
      crashed.push(bench.name);
      log(`  CRASHED: ${(error as Error).stack ?? String(error)}`);
    }
    log(`  (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  }
  log(`\n${renderTable(rows)}`);
  const resultsFile = resultsPath(process.argv.slice(2));
  await writeResultsJson(resultsFile, rows, {
    started: new Date(started).toISOString(),
    duration_s: (Date.now() - started) / 1000,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: cpus().length,
    load_average_before: loadBefore,
    load_average_after: loadavg()[0] ?? 0,
    benchmarks: benches.map((b) => b.name),
    crashed,
  });
  log(`\nresults: ${resultsFile}`);
  if (crashed.length > 0) log(`crashed: ${crashed.join(', ')}`);
  return crashed.length > 0 ? 1 : 0;
}

process.exitCode = await main();
