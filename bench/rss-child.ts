import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSandbox } from '../src/bench/sandbox/index.js';
import { loadSuite } from '../src/bench/suite.js';
import { assertAllRan } from './check-records.js';
import { tinyScript, writeTinySuite } from './fixtures/tiny-suite.js';
import { runScriptedBench } from './scripted-bench.js';

/**
 * Child entry of the memory benchmark: one 200-trial bench (messages runner, scripted server in
 * this process), nothing else, so this process's peak RSS is the bench's. Prints one JSON line.
 * argv: probes trials concurrency.
 */
export interface RssReport {
  trials: number;
  /** Peak RSS of this process once modules are loaded, before the bench (KiB). */
  startMaxRssKb: number;
  /** Peak RSS of this process over its whole life (KiB). */
  maxRssKb: number;
  heapUsedAfterMb: number;
  wallMs: number;
  isolation: string;
}

const [probes, trials, concurrency] = process.argv.slice(2).map(Number) as [number, number, number];
const dir = await mkdtemp(join(tmpdir(), 'skill-optimizer-bench-rss-'));
try {
  await writeTinySuite(dir, { probes, trials, concurrency, models: ['claude-sonnet-4-6'] });
  const suite = await loadSuite(join(dir, 'suite.yml'));
  const sandbox = await createSandbox('auto', { secretInReach: false });
  const startMaxRssKb = process.resourceUsage().maxRSS;
  const started = performance.now();
  const run = await runScriptedBench({
    suite,
    script: tinyScript(),
    sandbox,
    latencyMs: 0,
    placement: 'in-process',
  });
  assertAllRan(run.result.records, probes * trials, 'pass');
  const report: RssReport = {
    trials: run.result.records.length,
    startMaxRssKb,
    maxRssKb: process.resourceUsage().maxRSS,
    heapUsedAfterMb: process.memoryUsage().heapUsed / (1024 * 1024),
    wallMs: performance.now() - started,
    isolation: sandbox.level,
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
