import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { SkillOptimizerError } from '../errors.js';
import { benchCommand, compareCommand, mergeCommand } from './bench-command.js';
import type { CliIO } from './io.js';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function list(value: string): string[] {
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0) throw new InvalidArgumentError('expected a comma-separated list');
  return items;
}

function buildProgram(io: CliIO): Command {
  const program = new Command('skill-optimizer')
    .description('Benchmark and improve agent skills against test probes.')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    });

  const bench = program
    .command('bench')
    .description('Run a skill against a probe suite and summarise pass rates')
    .argument('<suite>', 'path to suite.yml')
    .option('--runner <name>', 'messages | claude-code')
    .option('--models <list>', 'comma-separated model ids (overrides suite.yml)', list)
    .option('--trials <n>', 'trials per probe and model', positiveInt)
    .option('--concurrency <n>', 'trials in flight at once', positiveInt)
    .option('--baseline', 'also run every probe without the skill')
    .option('--shard <i/n>', 'run only shard i of n (1-based)')
    .option('--out <dir>', 'results root (a timestamped folder is made inside)', 'bench-results')
    .option('--sandbox <mode>', 'auto | bubblewrap | process', 'auto')
    .option('--scripted <script>', 'answer model calls from a local scripted server')
    .action(async (suite: string, opts) => {
      await benchCommand(suite, opts, io);
    });

  bench
    .command('merge')
    .description('Merge shard result folders into one summary')
    .argument('<dirs...>', 'result folders written by bench --shard')
    .option('--out <dir>', 'results root for the merged folder', 'bench-results')
    .action(async (dirs: string[], opts) => {
      await mergeCommand(dirs, opts, io);
    });

  bench
    .command('compare')
    .description('Compare two result sets (before → after) and judge the difference')
    .argument('<before>', 'results folder or results.jsonl')
    .argument('<after>', 'results folder or results.jsonl')
    .action(async (before: string, after: string) => {
      await compareCommand(before, after, io);
    });

  return program;
}

/** Runs the CLI and returns the exit code; errors a user can act on are printed plainly. */
export async function runCli(argv: string[], io: CliIO): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode;
    }
    if (error instanceof SkillOptimizerError) {
      io.stderr.write(`error: ${error.message}\n`);
      if (error.retry) io.stderr.write(`retry with: ${error.retry}\n`);
      return 1;
    }
    throw error;
  }
}
