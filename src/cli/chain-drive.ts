import { join } from 'node:path';
import { type ChainAccess, openChainAccess } from '../access/chain-access.js';
import { createClaudeCodeRunner } from '../bench/runners/claude-code.js';
import { parseSandboxMode, type SandboxMode, weakIsolationNotice } from '../bench/sandbox/index.js';
import { advance, type DriverResult } from '../chain/driver.js';
import type { DriverDeps } from '../chain/ports.js';
import { localSkillSource } from '../chain/start.js';
import { resolveLoopSettings } from '../config/loop.js';
import type { Config } from '../config/schema.js';
import { ModelUnavailableError } from '../errors.js';
import { zeroUsage } from '../model/usage.js';
import type { LocalRunStore } from '../store/local.js';
import { benchProgressOutput } from './bench-progress-line.js';
import { printGate } from './chain-gate-printer.js';
import type { CliIO } from './io.js';

/** The exit code of a command that leaves the run stopped short of success (1: an error). */
export const STOPPED_EXIT_CODE = 2;

export interface ChainCliOptions {
  skill?: string;
  autopilot?: boolean;
  intent?: string;
  scripted?: string;
  /** `--record <file>`: append the model exchanges to this scripted-server script. */
  record?: string;
  /** Overrides the config's `sandbox`. */
  sandbox?: string;
  preset?: string;
}

/**
 * The driver's ports with the model when one is configured; otherwise ports that only record
 * (answers, stops): a step or a review that needs a model says so instead of running.
 */
export async function openAccessIfPossible(
  io: CliIO,
  store: LocalRunStore,
  root: string,
  config: Config,
  opts: ChainCliOptions,
): Promise<{ deps: DriverDeps; close(): Promise<void> }> {
  if (modelConfigured(opts, io)) {
    return openAccessLoud(io, store, root, config, opts);
  }
  const unavailable = async (): Promise<never> => {
    throw new ModelUnavailableError(
      'no model is configured: set ANTHROPIC_API_KEY or pass --scripted <script>',
    );
  };
  const deps: DriverDeps = {
    store,
    model: { call: unavailable },
    bench: { run: unavailable, smoke: unavailable, estimateTrialCost: () => 0 },
    upstream: null,
    source: localSkillSource(root),
    meter: { spent: () => ({ usage: zeroUsage(), cost_usd: 0 }) },
    config,
    loop: resolveLoopSettings(config),
    now: () => new Date(),
    log: (line) => io.stderr.write(`${line}\n`),
  };
  return { deps, close: async () => {} };
}

function modelConfigured(opts: ChainCliOptions, io: CliIO): boolean {
  return opts.scripted !== undefined || Boolean(io.env.ANTHROPIC_API_KEY);
}

export async function continueIfPossible(
  store: LocalRunStore,
  root: string,
  skillPath: string,
  config: Config,
  opts: ChainCliOptions,
  io: CliIO,
  actor: string,
): Promise<number> {
  if (!modelConfigured(opts, io)) {
    io.stdout.write(`recorded. Resume with: skill-optimizer run ${skillPath}\n`);
    return 0;
  }
  return drive(store, root, skillPath, config, opts, io, actor);
}

export async function drive(
  store: LocalRunStore,
  root: string,
  skillPath: string,
  config: Config,
  opts: ChainCliOptions,
  io: CliIO,
  actor: string,
): Promise<number> {
  const access = await openAccessLoud(io, store, root, config, opts);
  const benchProgress = benchProgressOutput(io);
  let result: DriverResult;
  try {
    result = await advance(access.deps, {
      autopilot: opts.autopilot === true,
      actor,
      resumeCommand: `skill-optimizer run ${skillPath}`,
      onProgress: (line) => {
        benchProgress.interrupt();
        io.stdout.write(`  ${line}\n`);
      },
      onBenchProgress: (progress) => benchProgress.update(progress),
    });
  } finally {
    benchProgress.interrupt();
    await access.close();
  }
  const where = join(store.worktreeDir, store.runDir);
  switch (result.status) {
    case 'gate':
      printGate(result.state, skillPath, io);
      return 0;
    case 'failed':
      io.stderr.write(`error: ${result.message}\nretry with: skill-optimizer run ${skillPath}\n`);
      return 1;
    default:
      io.stdout.write(
        `run ${result.status}: ${result.message}\nbranch: ${store.branch}\nreport: ${join(where, 'report.md')}\n`,
      );
      // A run that stopped short of its goal (budget, error budget, invalid bench...) is no success.
      return result.status === 'done' ? 0 : STOPPED_EXIT_CODE;
  }
}

/** The flag when given (checked), else the config's `sandbox`. */
export function sandboxModeOf(opts: { sandbox?: string }, config: Config): SandboxMode {
  return opts.sandbox === undefined ? config.sandbox : parseSandboxMode(opts.sandbox, '--sandbox');
}

/** Opens the model and the sandbox, and says first when trials get the weaker isolation. */
async function openAccessLoud(
  io: CliIO,
  store: LocalRunStore,
  root: string,
  config: Config,
  opts: ChainCliOptions,
): Promise<ChainAccess> {
  const access = await openChainAccess(accessOptions(io, store, root, config, opts));
  const notice = weakIsolationNotice(access.sandbox);
  if (notice !== null) io.stderr.write(`${notice}\n`);
  return access;
}

function accessOptions(
  io: CliIO,
  store: LocalRunStore,
  root: string,
  config: Config,
  opts: ChainCliOptions,
) {
  return {
    env: io.env,
    store,
    repoRoot: root,
    config,
    scriptedPath: opts.scripted,
    ...(opts.record !== undefined ? { recordPath: opts.record } : {}),
    sandboxMode: sandboxModeOf(opts, config),
    claudeCode: createClaudeCodeRunner,
    log: (line: string) => io.stderr.write(`${line}\n`),
  };
}
