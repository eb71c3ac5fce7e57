import { appendFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as core from '@actions/core';
import { openChainAccess } from '../access/chain-access.js';
import { type ClaudeCodeRunnerFactory, openModelAccess } from '../access/model-access.js';
import { runPreflight } from '../access/preflight.js';
import { createClaudeCodeRunner } from '../bench/runners/claude-code.js';
import { type BubblewrapProbe, probeBubblewrap, type SandboxMode } from '../bench/sandbox/index.js';
import type { RunnerName } from '../bench/types.js';
import { SkillOptimizerError } from '../errors.js';
import { createGitHubClient, type GitHubClientOptions } from '../github/client.js';
import { redactSecrets, registerSecret } from '../text/redact.js';
import { actionsArtifacts, redactingArtifacts } from './artifacts.js';
import { ensureClaudeCode, type RunProgram } from './claude-code-install.js';
import { readActionContext } from './context.js';
import { actionGitHub } from './github-port.js';
import { hostCommands } from './host-commands.js';
import { readInputs } from './inputs.js';
import type { ActionDeps, ActionOutcome, ArtifactPort } from './ports.js';
import { githubPublisher, type PublisherOptions } from './publish.js';
import { createGitRemote } from './remote.js';
import { main } from './runner.js';
import { ensureBubblewrap, type HostCommands } from './sandbox-preflight.js';
import { actionUpstreamReader } from './upstream-source.js';

/** Seams for the Action's own tests; a workflow cannot set these. */
export interface RunOptions {
  artifacts?: ArtifactPort;
  github?: Pick<GitHubClientOptions, 'retry' | 'throttle'>;
  /** Waits while a new fork is being created. */
  publish?: PublisherOptions;
  now?: () => Date;
  /** Whether the strong sandbox is verified on this runner; fork runs need it (default: no). */
  strongSandboxVerified?: () => Promise<boolean>;
  /** The sandbox preflight's host commands and bubblewrap probe. */
  sandbox?: { host?: HostCommands; probe?: BubblewrapProbe };
  /** Where the Claude Code agent is installed and how programs (npm, the agent) are run. */
  claudeCode?: { cacheDir?: string; run?: RunProgram };
}

/** The folder the example workflows cache with actions/cache (keep the two the same). */
export const CLAUDE_CODE_CACHE = join(homedir(), '.cache', 'skill-optimizer', 'claude-code');

const MISSING_KEY =
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a workflow expression, shown to the user
  'no Anthropic API key: pass `anthropic-api-key: ${{ secrets.ANTHROPIC_API_KEY }}` to the Action';

/**
 * The Action's adapter: reads inputs (`INPUT_*`) and the runner's `GITHUB_*` environment, builds
 * the ports, runs `main`, and writes the outputs, the job summary and the exit status. Every log
 * line, the job summary and uploaded artifacts are redacted (text/redact.ts) on the way out.
 */
export async function run(options: RunOptions = {}): Promise<ActionOutcome> {
  let outcome: ActionOutcome;
  try {
    outcome = await main(await buildDeps(options));
  } catch (error) {
    const message =
      error instanceof SkillOptimizerError
        ? error.retry
          ? `${error.message}\n\nRetry: ${error.retry}`
          : error.message
        : `unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`;
    outcome = {
      status: 'failed',
      gate: null,
      chainPr: null,
      costUsd: null,
      summary: `## Skill Optimizer failed\n\n${message}\n`,
      message,
    };
  }
  core.setOutput('status', outcome.status);
  core.setOutput('gate', outcome.gate ?? '');
  core.setOutput('chain-pr', outcome.chainPr === null ? '' : String(outcome.chainPr));
  core.setOutput('cost', outcome.costUsd === null ? '' : outcome.costUsd.toFixed(4));
  core.setOutput('bench-matrix', outcome.benchMatrix ? JSON.stringify(outcome.benchMatrix) : '');
  if (outcome.status === 'failed') core.setFailed(redactSecrets(outcome.message));
  else core.info(redactSecrets(`Skill Optimizer: ${outcome.message}`));
  // Appended directly: core.summary caches the first job's file path for the whole process.
  const summaryFile = process.env.GITHUB_STEP_SUMMARY;
  if (summaryFile) await appendFile(summaryFile, `${redactSecrets(outcome.summary).trimEnd()}\n`);
  return outcome;
}

/** Masks a value in the runner's log (`::add-mask::`) and redacts it from everything we send. */
function maskSecret(value: string): void {
  core.setSecret(value);
  registerSecret(value);
}

async function buildDeps(options: RunOptions): Promise<ActionDeps> {
  const inputs = readInputs((name) => core.getInput(name));
  for (const secret of [inputs['anthropic-api-key'], inputs['github-token']]) {
    if (secret !== '') maskSecret(secret);
  }
  const context = await readActionContext(process.env, tmpdir());
  const log = {
    info: (m: string) => core.info(redactSecrets(m)),
    notice: (m: string) => core.notice(redactSecrets(m)),
    warning: (m: string) => core.warning(redactSecrets(m)),
  };
  const client = createGitHubClient({
    token: inputs['github-token'],
    baseUrl: context.apiUrl,
    retryCommand: 'comment `/optimize` on the skill pull request, or re-run the workflow',
    log: { info: log.info, warn: log.warning },
    ...options.github,
  });
  // Model retries and waits (what failed, which attempt, how long the wait) and unpriced models.
  const modelLog = { info: log.info, warn: log.warning };
  // Only the model's key and base URL (and PATH for tools) reach the model layer.
  const modelEnv: NodeJS.ProcessEnv = {
    ANTHROPIC_API_KEY: inputs['anthropic-api-key'],
    ...(process.env.ANTHROPIC_BASE_URL
      ? { ANTHROPIC_BASE_URL: process.env.ANTHROPIC_BASE_URL }
      : {}),
    ...(process.env.PATH ? { PATH: process.env.PATH } : {}),
  };
  // Before the first trial: make bubblewrap start here (once per job), unless the config asks for
  // the weaker `process` mode.
  const probe = options.sandbox?.probe ?? probeBubblewrap;
  const injectedProbe = options.sandbox?.probe ? { probeBubblewrap: options.sandbox.probe } : {};
  let preflight: Promise<void> | undefined;
  const sandboxReady = (mode: SandboxMode): Promise<void> => {
    if (mode === 'process') return Promise.resolve();
    preflight ??= ensureBubblewrap({
      host: options.sandbox?.host ?? hostCommands(process.env),
      probe: async () => {
        const probed = await probe();
        return typeof probed === 'string' ? probed : null;
      },
      runnerEnvironment: process.env.RUNNER_ENVIRONMENT,
      log: (line) => log.info(line),
    });
    return preflight;
  };
  // The `claude-code` runner: its agent is installed (or found in the cache) once per job, when a
  // config or suite first asks for it.
  let agent: Promise<string> | undefined;
  const claudeCodeFor = async (
    runner: RunnerName,
  ): Promise<{ claudeCode?: ClaudeCodeRunnerFactory }> => {
    if (runner !== 'claude-code') return {};
    agent ??= ensureClaudeCode({
      cacheDir: options.claudeCode?.cacheDir ?? CLAUDE_CODE_CACHE,
      log: (line) => log.info(line),
      ...(options.claudeCode?.run ? { run: options.claudeCode.run } : {}),
    });
    const executable = await agent;
    return {
      claudeCode: ({ gateway, isolation }) =>
        createClaudeCodeRunner({ gateway, isolation, executable, log: (line) => log.info(line) }),
    };
  };
  return {
    inputs,
    context,
    github: actionGitHub(client, context, inputs['bot-login']),
    remote: createGitRemote({
      repoDir: context.workspace,
      token: inputs['github-token'],
      serverUrl: context.serverUrl,
    }),
    artifacts: redactingArtifacts(options.artifacts ?? actionsArtifacts()),
    async openAccess(opts) {
      await sandboxReady(opts.config.sandbox);
      const claudeCode = await claudeCodeFor(opts.config.runner);
      const access = await openChainAccess({
        env: modelEnv,
        ...opts,
        ...claudeCode,
        scriptedPath: undefined,
        sandboxMode: opts.config.sandbox,
        ...injectedProbe,
        missingKeyHint: MISSING_KEY,
        modelLog,
        ...(options.now ? { now: options.now } : {}),
      });
      // On GitHub, step 2 reads the upstream repository through the API, not the checkout.
      const upstream = actionUpstreamReader(client, opts.store, context);
      return { ...access, deps: { ...access.deps, upstream } };
    },
    async preflight(config) {
      try {
        await sandboxReady(config.sandbox);
      } catch (error) {
        if (!(error instanceof SkillOptimizerError)) throw error;
        return [{ name: 'sandbox', ok: false, detail: error.message }];
      }
      return runPreflight({
        env: modelEnv,
        cwd: context.workspace,
        config,
        sandboxMode: config.sandbox,
        scriptedPath: undefined,
        ...injectedProbe,
        missingKeyHint: MISSING_KEY,
      });
    },
    publisher: githubPublisher(client, options.publish ?? {}),
    async openModel(runner, sandboxMode) {
      await sandboxReady(sandboxMode);
      const claudeCode = await claudeCodeFor(runner);
      return openModelAccess({
        env: modelEnv,
        scriptedPath: undefined,
        runner,
        ...claudeCode,
        sandboxMode,
        ...injectedProbe,
        missingKeyHint: MISSING_KEY,
        log: modelLog,
      });
    },
    log,
    now: options.now ?? (() => new Date()),
    // Fails closed: a fork's code runs only once the sandbox preflight has proven bubblewrap.
    strongSandboxVerified:
      options.strongSandboxVerified ??
      (async () => {
        try {
          await sandboxReady('bubblewrap');
          return true;
        } catch (error) {
          if (!(error instanceof SkillOptimizerError)) throw error;
          log.warning(`fork run refused: ${error.message}`);
          return false;
        }
      }),
  };
}
