import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { SkillOptimizerError } from '../errors.js';
import { registerSecret } from '../text/redact.js';
import { benchCommand, compareCommand, mergeCommand } from './bench-command.js';
import {
  answerCommand,
  pickCommand,
  rerunCommand,
  runCommand,
  statusCommand,
  stopCommand,
} from './chain-command.js';
import { doctorCommand } from './doctor-command.js';
import { type CliIO, redactingIO } from './io.js';

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

const RECORD_HELP =
  'append every model exchange (redacted) to this scripted-server script; replay it with --scripted';

function buildProgram(io: CliIO, exit: (code: number) => void): Command {
  const program = new Command('skill-optimizer')
    .description('Benchmark and improve agent skills against test probes.')
    .exitOverride()
    .enablePositionalOptions()
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
    .option('--record <file>', RECORD_HELP)
    // `bench merge --out x`: an option after a subcommand is the subcommand's, not `bench`'s.
    .enablePositionalOptions()
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

  const chainOptions = (cmd: Command) =>
    cmd
      .option('--skill <dir>', 'the skill whose run to act on (default: the only run)')
      .option('--scripted <script>', 'answer model calls from a local scripted server')
      .option('--record <file>', RECORD_HELP)
      .option('--sandbox <mode>', 'auto | bubblewrap | process (overrides the config)')
      .option('--preset <name>', 'quick | standard | thorough (overrides the config)');

  chainOptions(
    program
      .command('run')
      .description('Start or resume the optimisation chain on a skill; stops at the next gate')
      .argument('<skill-dir>', 'folder holding SKILL.md, inside a git repository')
      .option('--intent <text>', 'what you want from this run (appended to intent.md)')
      .option('--autopilot', 'answer every gate with its default')
      .option('--yes', 'same as --autopilot'),
  ).action(async (skillDir: string, opts) => {
    exit(await runCommand(skillDir, { ...opts, autopilot: opts.autopilot || opts.yes }, io));
  });

  program
    .command('doctor')
    .description('Check what a run needs (git, config, skill, model key, sandbox) without writing')
    .argument('[skill-dir]', 'also check this skill folder')
    .option('--scripted <script>', 'check the local scripted model instead of ANTHROPIC_API_KEY')
    .option('--sandbox <mode>', 'auto | bubblewrap | process (overrides the config)')
    .action(async (skillDir: string | undefined, opts) => {
      exit(await doctorCommand(skillDir, opts, io));
    });

  program
    .command('status')
    .description('Where the run stands: steps done or stale, the open gate, cost so far')
    .option('--skill <dir>', 'the skill whose run to show (default: the only run)')
    .action(async (opts) => {
      exit(await statusCommand(opts, io));
    });

  chainOptions(
    program.command('approve').description('Answer the open gate with its default option'),
  ).action(async (opts) => {
    exit(await answerCommand(null, opts, io));
  });

  chainOptions(
    program
      .command('answer')
      .description('Answer the open gate with a named option')
      .argument('<option>', 'one of the options the gate lists'),
  ).action(async (option: string, opts) => {
    exit(await answerCommand(option, opts, io));
  });

  chainOptions(
    program
      .command('pick')
      .description('Pick functionalities to write probes for')
      .argument('<selection...>', 'f1,f2 | all | top N'),
  ).action(async (selection: string[], opts) => {
    exit(await pickCommand(selection, opts, io));
  });

  chainOptions(
    program
      .command('rerun')
      .description('Re-run a step, optionally with a directive for it')
      .argument('<step>', 'step number or name, e.g. 3 or design-tests')
      .option('--directive <text>', 'a requirement for this re-run'),
  ).action(async (step: string, opts) => {
    exit(await rerunCommand(step, opts.directive, opts, io));
  });

  chainOptions(
    program.command('stop').description('Stop the run at this step boundary, writing the report'),
  ).action(async (opts) => {
    exit(await stopCommand(opts, io));
  });

  return program;
}

/** The environment's credentials: redacted from every line the CLI prints and every commit. */
const SECRET_VARIABLES = ['ANTHROPIC_API_KEY', 'GITHUB_TOKEN', 'GH_TOKEN'] as const;

/** Runs the CLI and returns the exit code; errors a user can act on are printed plainly. */
export async function runCli(argv: string[], given: CliIO): Promise<number> {
  for (const name of SECRET_VARIABLES) registerSecret(given.env[name]);
  const io = redactingIO(given);
  let code = 0;
  const program = buildProgram(io, (c) => {
    code = c;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
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
