import { userInfo } from 'node:os';
import { join } from 'node:path';
import { type ChainAccess, openChainAccess } from '../access/chain-access.js';
import { createClaudeCodeRunner } from '../bench/runners/claude-code.js';
import { parseSandboxMode, type SandboxMode, weakIsolationNotice } from '../bench/sandbox/index.js';
import { parseStepRef, STEP_IDS, STEPS } from '../chain/catalog.js';
import { advance, answerGate, type DriverResult, loadState, stopRun } from '../chain/driver.js';
import { STEP_INPUTS } from '../chain/next.js';
import { parsePickSelection } from '../chain/picks.js';
import type { DriverDeps } from '../chain/ports.js';
import { localSkillSource, openRun, runSlug } from '../chain/start.js';
import type { ChainState } from '../chain/state.js';
import { pickFunctionalities, queueRerun } from '../chain/steer.js';
import { loadConfig } from '../config/load.js';
import { resolveLoopSettings } from '../config/loop.js';
import { type Config, PRESET_NAMES, type PresetName } from '../config/schema.js';
import { ModelUnavailableError, SkillOptimizerError } from '../errors.js';
import { zeroUsage } from '../model/usage.js';
import { runGit } from '../store/git.js';
import { type LocalRunStore, openLocalRun } from '../store/local.js';
import { repoRoot } from '../store/repo.js';
import { benchProgressOutput } from './bench-progress-line.js';
import { preflightPasses } from './doctor-command.js';
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

/** `skill-optimizer run <skill-dir>`: start or resume, advance to the next gate or the end. */
export async function runCommand(
  skillDir: string,
  opts: ChainCliOptions,
  io: CliIO,
): Promise<number> {
  const root = await repoRoot(io.cwd);
  const config = withPreset(await loadConfig(root), opts.preset);
  const sandboxMode = sandboxModeOf(opts, config);
  const ready = await preflightPasses(io, {
    cwd: io.cwd,
    config,
    sandboxMode,
    skillDir,
    ...(opts.scripted !== undefined ? { scripted: opts.scripted } : {}),
  });
  if (!ready) return 1;
  const actor = await whoAmI(root, io);
  const opened = await openRun({
    cwd: io.cwd,
    skillDir,
    runRoot: config.run_dir,
    ...(opts.intent ? { intent: opts.intent } : {}),
    autopilot: opts.autopilot === true,
    actor,
    now: () => new Date(),
    onRecover: (m) => io.stderr.write(`recovered: ${m}\n`),
  });
  io.stdout.write(
    `${opened.created ? 'started' : 'resuming'} run '${opened.store.slug}' on branch ${opened.store.branch}\n`,
  );
  try {
    return await drive(opened.store, opened.repoRoot, opened.skillPath, config, opts, io, actor);
  } finally {
    await opened.store.close();
  }
}

/** `status`: where the run stands, what is stale, cost so far. */
export async function statusCommand(opts: { skill?: string }, io: CliIO): Promise<number> {
  return withRun(opts, io, async ({ store, skillPath }) => {
    const state = await loadState({ store });
    const lines = [
      `run '${state.slug}' (${skillPath}) on branch ${store.branch}`,
      `status: ${state.status}${state.stop_reason ? ` — ${state.stop_reason}` : ''}${state.autopilot ? ' (autopilot)' : ''}`,
      `files: ${join(store.worktreeDir, store.runDir)}`,
      '',
      'steps:',
    ];
    for (const id of STEP_IDS) {
      const report = STEPS[id].report;
      const exists = await store.exists(report);
      const stale = exists && (await store.isStale([report], [...STEP_INPUTS[id]]));
      const pending = (state.directives[id] ?? []).length;
      lines.push(
        `  ${String(STEPS[id].number).padStart(2, '0')} ${id.padEnd(15)} ${exists ? (stale ? 'stale' : 'done') : 'pending'}${pending ? ` (${pending} directives pending)` : ''}`,
      );
    }
    if (state.benches.length > 0) {
      lines.push('', 'benches:');
      for (const b of state.benches) {
        lines.push(
          `  ${b.iteration}: ${b.pass_rate ?? '—'}% (held-out ${b.heldout_pass_rate ?? '—'}%, baseline ${b.baseline_pass_rate ?? '—'}%)`,
        );
      }
    }
    lines.push(
      '',
      `cost so far: $${state.cost_usd.toFixed(4)} (${state.usage.input_tokens + state.usage.cache_creation_input_tokens + state.usage.cache_read_input_tokens} input tokens, ${state.usage.output_tokens} output)`,
    );
    if (state.last_error)
      lines.push(`last error (${state.last_error.step}): ${state.last_error.message}`);
    io.stdout.write(`${lines.join('\n')}\n`);
    if (state.open_gate) printGate(state, skillPath, io);
    return 0;
  });
}

/** `approve` / `answer <option>`: answer the open gate, then continue when a model is available. */
export async function answerCommand(
  answer: string | null,
  opts: ChainCliOptions,
  io: CliIO,
): Promise<number> {
  return withRun(opts, io, async ({ store, root, skillPath, config, actor }) => {
    const state = await loadState({ store });
    if (state.open_gate === null) {
      throw new SkillOptimizerError(
        `no gate is open for '${state.slug}' (status: ${state.status})`,
        {
          retry: `skill-optimizer run ${skillPath}`,
        },
      );
    }
    const chosen = answer ?? state.open_gate.default;
    const access = await openAccessIfPossible(io, store, root, config, opts);
    try {
      await answerGate(access.deps, chosen, {
        actor,
        resumeCommand: `skill-optimizer run ${skillPath}`,
      });
    } finally {
      await access.close();
    }
    io.stdout.write(`answered the ${state.open_gate.id} gate: ${chosen}\n`);
    return continueIfPossible(store, root, skillPath, config, opts, io, actor);
  });
}

/** `pick <f1,f2|all|top N>`: mark functionalities picked (answers the picks gate). */
export async function pickCommand(
  selection: string[],
  opts: ChainCliOptions,
  io: CliIO,
): Promise<number> {
  return withRun(opts, io, async ({ store, root, skillPath, config, actor }) => {
    const parsed = parsePickSelection(selection.join(' '));
    const picked = await pickFunctionalities(store, parsed, selection.join(' '), actor, new Date());
    io.stdout.write(`picked: ${picked.join(', ')}\n`);
    return continueIfPossible(store, root, skillPath, config, opts, io, actor);
  });
}

/** `rerun <step> [--directive text]`: queue a directive for a step (closes an open gate). */
export async function rerunCommand(
  stepRef: string,
  directive: string | undefined,
  opts: ChainCliOptions,
  io: CliIO,
): Promise<number> {
  const step = parseStepRef(stepRef);
  if (step === null) {
    throw new SkillOptimizerError(
      `unknown step '${stepRef}'; use a number 1-9 or one of: ${STEP_IDS.join(', ')}`,
    );
  }
  return withRun(opts, io, async ({ store, root, skillPath, config, actor }) => {
    const text = directive?.trim();
    await queueRerun(store, step, text ? [text] : [], actor, new Date());
    io.stdout.write(`queued a re-run of ${step}\n`);
    return continueIfPossible(store, root, skillPath, config, opts, io, actor);
  });
}

/** `stop`: end the run at this step boundary, with the report written. */
export async function stopCommand(opts: ChainCliOptions, io: CliIO): Promise<number> {
  return withRun(opts, io, async ({ store, root, config, actor }) => {
    const state = await loadState({ store });
    if (state.status === 'done' || state.status === 'stopped') {
      io.stdout.write(`run '${state.slug}' has already ended (${state.status})\n`);
      return 0;
    }
    const access = await openAccessIfPossible(io, store, root, config, opts);
    try {
      await stopRun(access.deps, `stopped by ${actor}`, { actor });
    } finally {
      await access.close();
    }
    io.stdout.write(
      `stopped run '${state.slug}'\nreport: ${join(store.worktreeDir, store.runDir, 'report.md')}\n`,
    );
    return 0;
  });
}

/**
 * The driver's ports with the model when one is configured; otherwise ports that only record
 * (answers, stops): a step or a review that needs a model says so instead of running.
 */
async function openAccessIfPossible(
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

async function continueIfPossible(
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

async function drive(
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

function printGate(state: ChainState, skillPath: string, io: CliIO): void {
  const gate = state.open_gate;
  if (gate === null) return;
  const skill = `--skill ${skillPath}`;
  const lines = [
    '',
    `waiting at the ${gate.id} gate (after step ${gate.step}):`,
    gate.question,
    '',
    'answer with one of:',
  ];
  for (const option of gate.options) {
    const command =
      option.name === gate.default
        ? `skill-optimizer approve ${skill}`
        : `skill-optimizer answer ${option.name} ${skill}`;
    lines.push(
      `  ${command}    # ${option.name}: ${option.description}${option.name === gate.default ? ' (default)' : ''}`,
    );
  }
  if (gate.id === 'picks') lines.push(`  skill-optimizer pick <f1,f2|all|top N> ${skill}`);
  lines.push(
    `  skill-optimizer rerun <step> --directive "..." ${skill}`,
    `  skill-optimizer stop ${skill}`,
  );
  if (gate.files.length > 0) lines.push('', `look at: ${gate.files.map((f) => f).join(', ')}`);
  io.stdout.write(`${lines.join('\n')}\n`);
}

interface RunContext {
  store: LocalRunStore;
  root: string;
  skillPath: string;
  config: Config;
  actor: string;
}

/** Opens the existing run named by --skill, or the only run in the repository. */
async function withRun(
  opts: { skill?: string; preset?: string; sandbox?: string },
  io: CliIO,
  body: (ctx: RunContext) => Promise<number>,
): Promise<number> {
  const root = await repoRoot(io.cwd);
  const config = withPreset(await loadConfig(root), opts.preset);
  sandboxModeOf(opts, config);
  const { slug, skillPath } = await findRun(root, config.run_dir, opts.skill, io.cwd);
  const store = await openLocalRun({ repoDir: root, slug, runRoot: config.run_dir });
  try {
    return await body({ store, root, skillPath, config, actor: await whoAmI(root, io) });
  } finally {
    await store.close();
  }
}

async function findRun(
  root: string,
  runRoot: string,
  skill: string | undefined,
  cwd: string,
): Promise<{ slug: string; skillPath: string }> {
  const refs = (
    await runGit(['for-each-ref', '--format=%(refname:strip=2)', 'refs/heads/skill-optimizer/'], {
      cwd: root,
    })
  ).stdout
    .split('\n')
    .filter(Boolean);
  const runs: Array<{ slug: string; skillPath: string }> = [];
  for (const ref of refs) {
    const slug = ref.slice('skill-optimizer/'.length);
    const shown = await runGit(['show', `${ref}:${runRoot}/${slug}/chain.yml`], {
      cwd: root,
      okCodes: [128],
    });
    const path = /^skill_path: (.+)$/m
      .exec(shown.stdout)?.[1]
      ?.trim()
      .replace(/^['"]|['"]$/g, '');
    if (shown.exitCode === 0 && path) runs.push({ slug, skillPath: path });
  }
  if (skill !== undefined) {
    const rel = (await import('node:path'))
      .relative(root, (await import('node:path')).resolve(cwd, skill))
      .split('\\')
      .join('/');
    const found = runs.find(
      (r) => r.skillPath === rel || r.slug === skill || r.slug === runSlugSafe(skill),
    );
    if (!found) {
      throw new SkillOptimizerError(
        `no run of '${skill}' in this repository; start one with: skill-optimizer run ${skill}`,
      );
    }
    return found;
  }
  if (runs.length === 1) return runs[0] as { slug: string; skillPath: string };
  if (runs.length === 0)
    throw new SkillOptimizerError(
      'no run in this repository; start one with: skill-optimizer run <skill-dir>',
    );
  throw new SkillOptimizerError(
    `several runs exist (${runs.map((r) => r.skillPath).join(', ')}); say which with --skill <dir>`,
  );
}

function runSlugSafe(text: string): string | null {
  try {
    return runSlug(text);
  } catch {
    return null;
  }
}

function withPreset(config: Config, preset: string | undefined): Config {
  if (preset === undefined) return config;
  if (!(PRESET_NAMES as readonly string[]).includes(preset)) {
    throw new SkillOptimizerError(
      `--preset must be one of ${PRESET_NAMES.join(', ')} (got '${preset}')`,
    );
  }
  return { ...config, preset: preset as PresetName };
}

async function whoAmI(root: string, io: CliIO): Promise<string> {
  const name = await runGit(['config', 'user.name'], { cwd: root, okCodes: [1] });
  return name.stdout.trim() || io.env.USER || userInfo().username || 'local user';
}

/** The flag when given (checked), else the config's `sandbox`. */
function sandboxModeOf(opts: { sandbox?: string }, config: Config): SandboxMode {
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
