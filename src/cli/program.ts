import { Command, CommanderError, InvalidArgumentError } from 'commander';
import packageJson from '../../package.json' with { type: 'json' };
import { SkillOptimizerError } from '../errors.js';
import { registerSecret } from '../text/redact.js';
import { type CliIO, redactingIO } from './io.js';

// Each command's module is imported when the command runs: they load the model SDKs, the Agent
// SDK and Octokit, which `--help` and `--version` must not pay for.
const benchCommands = () => import('./bench-command.js');
const chainCommands = () => import('./chain-command.js');
const statusCommands = () => import('./chain-status-command.js');
const doctorCommands = () => import('./doctor-command.js');

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

/** The `Examples:` block printed after a command's own help. */
function examples(commands: string[]): string {
  return `\nExamples:\n${commands.map((c) => `  $ ${c}`).join('\n')}\n`;
}

const RECORD_HELP =
  'append every model exchange (redacted) to this scripted-server script; replay it with --scripted';

function buildProgram(io: CliIO, exit: (code: number) => void): Command {
  const program = new Command('skill-optimizer')
    .description('Benchmark and improve agent skills against test probes.')
    .addHelpText(
      'after',
      examples([
        "skill-optimizer run skills/pdf --intent 'handle scanned PDFs'",
        'skill-optimizer bench examples/suite.yml --trials 3',
        'skill-optimizer <command> --help',
      ]),
    )
    .version(packageJson.version, '-V, --version', 'print the version')
    .exitOverride()
    .enablePositionalOptions()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    });

  const bench = program
    .command('bench')
    .description('Run a skill against a probe suite and summarise pass rates')
    .addHelpText(
      'after',
      examples([
        'skill-optimizer bench suite.yml',
        'skill-optimizer bench suite.yml --models claude-sonnet-4-5 --trials 5 --baseline',
        'skill-optimizer bench suite.yml --shard 1/4 --out /tmp/bench-results',
      ]),
    )
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
      await (await benchCommands()).benchCommand(suite, opts, io);
    });

  bench
    .command('merge')
    .description('Merge shard result folders into one summary')
    .addHelpText(
      'after',
      examples(['skill-optimizer bench merge bench-results/shard-1 bench-results/shard-2']),
    )
    .argument('<dirs...>', 'result folders written by bench --shard')
    .option('--out <dir>', 'results root for the merged folder', 'bench-results')
    .action(async (dirs: string[], opts) => {
      await (await benchCommands()).mergeCommand(dirs, opts, io);
    });

  bench
    .command('compare')
    .description('Compare two result sets (before → after) and judge the difference')
    .addHelpText(
      'after',
      examples(['skill-optimizer bench compare bench-results/before bench-results/after']),
    )
    .argument('<before>', 'results folder or results.jsonl')
    .argument('<after>', 'results folder or results.jsonl')
    .action(async (before: string, after: string) => {
      await (await benchCommands()).compareCommand(before, after, io);
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
      .addHelpText(
        'after',
        examples([
          'skill-optimizer run skills/pdf',
          "skill-optimizer run skills/pdf --intent 'fewer tool calls' --preset quick",
          'skill-optimizer run skills/pdf --autopilot',
        ]),
      )
      .argument('<skill-dir>', 'folder holding SKILL.md, inside a git repository')
      .option('--intent <text>', 'what you want from this run (appended to intent.md)')
      .option('--autopilot', 'answer every gate with its default')
      .option('--yes', 'same as --autopilot'),
  ).action(async (skillDir: string, opts) => {
    const { runCommand } = await chainCommands();
    exit(await runCommand(skillDir, { ...opts, autopilot: opts.autopilot || opts.yes }, io));
  });

  program
    .command('doctor')
    .description('Check what a run needs (git, config, skill, model key, sandbox) without writing')
    .addHelpText(
      'after',
      examples(['skill-optimizer doctor', 'skill-optimizer doctor skills/pdf --sandbox process']),
    )
    .argument('[skill-dir]', 'also check this skill folder')
    .option('--scripted <script>', 'check the local scripted model instead of ANTHROPIC_API_KEY')
    .option('--sandbox <mode>', 'auto | bubblewrap | process (overrides the config)')
    .action(async (skillDir: string | undefined, opts) => {
      exit(await (await doctorCommands()).doctorCommand(skillDir, opts, io));
    });

  program
    .command('status')
    .description('Where the run stands: steps done or stale, the open gate, cost so far')
    .addHelpText(
      'after',
      examples(['skill-optimizer status', 'skill-optimizer status --skill skills/pdf']),
    )
    .option('--skill <dir>', 'the skill whose run to show (default: the only run)')
    .action(async (opts) => {
      exit(await (await statusCommands()).statusCommand(opts, io));
    });

  chainOptions(
    program
      .command('approve')
      .description('Answer the open gate with its default option')
      .addHelpText(
        'after',
        examples(['skill-optimizer approve', 'skill-optimizer approve --skill skills/pdf']),
      ),
  ).action(async (opts) => {
    exit(await (await chainCommands()).answerCommand(null, opts, io));
  });

  chainOptions(
    program
      .command('answer')
      .description('Answer the open gate with a named option')
      .addHelpText(
        'after',
        examples(['skill-optimizer answer harder', 'skill-optimizer answer no --skill skills/pdf']),
      )
      .argument('<option>', 'one of the options the gate lists'),
  ).action(async (option: string, opts) => {
    exit(await (await chainCommands()).answerCommand(option, opts, io));
  });

  chainOptions(
    program
      .command('pick')
      .description('Pick functionalities to write probes for')
      .addHelpText(
        'after',
        examples([
          'skill-optimizer pick f1,f3',
          'skill-optimizer pick top 3',
          'skill-optimizer pick all --skill skills/pdf',
        ]),
      )
      .argument('<selection...>', 'f1,f2 | all | top N'),
  ).action(async (selection: string[], opts) => {
    exit(await (await chainCommands()).pickCommand(selection, opts, io));
  });

  chainOptions(
    program
      .command('rerun')
      .description('Re-run a step, optionally with a directive for it')
      .addHelpText(
        'after',
        examples([
          'skill-optimizer rerun 3',
          "skill-optimizer rerun design-tests --directive 'cover encrypted PDFs'",
        ]),
      )
      .argument('<step>', 'step number or name, e.g. 3 or design-tests')
      .option('--directive <text>', 'a requirement for this re-run'),
  ).action(async (step: string, opts) => {
    exit(await (await chainCommands()).rerunCommand(step, opts.directive, opts, io));
  });

  chainOptions(
    program
      .command('stop')
      .description('Stop the run at this step boundary, writing the report')
      .addHelpText('after', examples(['skill-optimizer stop --skill skills/pdf'])),
  ).action(async (opts) => {
    exit(await (await chainCommands()).stopCommand(opts, io));
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
