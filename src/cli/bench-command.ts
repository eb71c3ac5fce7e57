import { join, resolve } from 'node:path';
import { openModelAccess } from '../access/model-access.js';
import { compareResults } from '../bench/compare.js';
import { mergeShardResults } from '../bench/merge.js';
import { readResults } from '../bench/results.js';
import { runBench } from '../bench/run-bench.js';
import { createClaudeCodeRunner } from '../bench/runners/claude-code.js';
import { parseSandboxMode, weakIsolationNotice } from '../bench/sandbox/index.js';
import { parseShard } from '../bench/shard.js';
import { loadSuite } from '../bench/suite.js';
import { renderComparison } from '../bench/summary.js';
import type { RunnerName } from '../bench/types.js';
import { SkillOptimizerError } from '../errors.js';
import { type CliIO, progressBar, progressPrinter } from './io.js';

export interface BenchCliOptions {
  runner?: string;
  models?: string[];
  trials?: number;
  concurrency?: number;
  baseline?: boolean;
  shard?: string;
  out: string;
  sandbox: string;
  scripted?: string;
  record?: string;
}

const RUNNERS: RunnerName[] = ['messages', 'claude-code'];

export async function benchCommand(
  suitePath: string,
  opts: BenchCliOptions,
  io: CliIO,
): Promise<void> {
  if (opts.runner !== undefined && !RUNNERS.includes(opts.runner as RunnerName)) {
    throw new SkillOptimizerError(
      `--runner must be one of ${RUNNERS.join(', ')} (got '${opts.runner}')`,
    );
  }
  const sandboxMode = parseSandboxMode(opts.sandbox, '--sandbox');
  const shard = opts.shard === undefined ? undefined : parseShard(opts.shard);
  const suite = await loadSuite(resolve(suitePath), {
    ...(opts.models ? { models: opts.models } : {}),
    ...(opts.trials ? { trials: opts.trials } : {}),
    ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
    ...(opts.runner ? { runner: opts.runner as RunnerName } : {}),
  });

  const progress = progressPrinter(io);
  const printLine = (line: string) => {
    progress.done();
    io.stderr.write(`${line}\n`);
  };
  const access = await openModelAccess({
    env: io.env,
    scriptedPath: opts.scripted,
    ...(opts.record !== undefined ? { recordPath: opts.record } : {}),
    runner: suite.runner,
    sandboxMode,
    claudeCode: createClaudeCodeRunner,
    log: { warn: printLine, info: printLine },
  });
  try {
    const notice = weakIsolationNotice(access.sandbox);
    if (notice !== null) io.stderr.write(`${notice}\n`);
    const result = await runBench(
      {
        suite,
        baseline: opts.baseline === true,
        ...(shard ? { shard } : {}),
        outRoot: resolve(opts.out),
      },
      {
        runner: access.runner,
        sandbox: access.sandbox,
        costOf: access.costOf,
        log: printLine,
        onProgress: ({ done, total, last }) => {
          progress.update(
            `${progressBar(done, total)} ${last.status.toUpperCase()} ${last.probe} (${last.model} #${last.trial}${last.baseline ? ' baseline' : ''})`,
          );
        },
      },
    );
    progress.done();
    const errors = result.records.filter((r) => r.status === 'error').length;
    io.stdout.write(
      `${result.records.length} trials, ${errors} errors, ${result.excluded.length} probes excluded\nresults: ${join(result.dir, 'results.jsonl')}\nsummary: ${result.summaryPath}\n`,
    );
  } finally {
    progress.done();
    await access.close();
  }
}

export async function mergeCommand(
  dirs: string[],
  opts: { out: string },
  io: CliIO,
): Promise<void> {
  const abs = dirs.map((d) => resolve(d));
  if (abs.length === 0)
    throw new SkillOptimizerError('bench merge needs at least one results folder');
  const { dir, records } = await mergeShardResults({
    dirs: abs,
    outRoot: resolve(opts.out),
    now: new Date(),
    title: 'Bench (merged shards)',
    mergedFrom: abs,
  });
  const summaryPath = join(dir, 'summary.md');
  io.stdout.write(
    `merged ${records.length} trials from ${abs.length} shards\nsummary: ${summaryPath}\n`,
  );
}

export async function compareCommand(before: string, after: string, io: CliIO): Promise<void> {
  const comparison = compareResults(
    await readResults(resolve(before)),
    await readResults(resolve(after)),
  );
  io.stdout.write(`${renderComparison(comparison)}\n`);
}
