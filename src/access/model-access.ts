import { resolve } from 'node:path';
import type { ModelGateway } from '../bench/gateway.js';
import { startModelGateway } from '../bench/gateway.js';
import { createMessagesRunner } from '../bench/runners/messages.js';
import type { AgentIsolation } from '../bench/sandbox/agent.js';
import {
  agentIsolationOf,
  type BubblewrapProbe,
  createSandbox,
  type Sandbox,
  type SandboxMode,
} from '../bench/sandbox/index.js';
import type { Runner, RunnerName } from '../bench/types.js';
import { SkillOptimizerError } from '../errors.js';
import { createModelClient, type ModelClient, type ModelLog } from '../model/client.js';
import { CostLedger } from '../model/ledger.js';
import { costOf } from '../model/pricing.js';
import { loadScript } from '../model/scripted/script.js';
import { startScriptedServer } from '../model/scripted/server.js';
import type { Usage } from '../model/usage.js';
import { startRecorder } from './recorder.js';

export interface ModelAccess {
  runner: Runner;
  /** A client on the same API (key and base URL) for the chain's own subagent calls. */
  newClient(ledger: CostLedger): ModelClient;
  sandbox: Sandbox;
  ledger: CostLedger;
  costOf: (model: string, usage: Usage) => number;
  close(): Promise<void>;
}

export const DEFAULT_BASE_URL = 'https://api.anthropic.com';

/**
 * A real key in this process (used, or merely set), or anything on a GitHub runner (tokens in
 * the environment): a plain process could read them from /proc/<pid>/environ.
 */
export function secretInReach(env: NodeJS.ProcessEnv, scriptedPath: string | undefined): boolean {
  return (
    scriptedPath === undefined || Boolean(env.ANTHROPIC_API_KEY) || env.GITHUB_ACTIONS === 'true'
  );
}

const logOf = (opts: { log?: ModelLog }) => (opts.log ? { log: opts.log } : {});

/**
 * Builds the `claude-code` runner. Injected by the edges that have the Claude Code agent: the CLI
 * (its dependency) and the Action (installed at run time, action/claude-code-install.ts).
 */
export type ClaudeCodeRunnerFactory = (opts: {
  gateway: ModelGateway;
  isolation: AgentIsolation;
}) => Runner;

/**
 * Where an edge (CLI or Action) turns its environment into ports: the API key and base URL come
 * from `ANTHROPIC_API_KEY` / `ANTHROPIC_BASE_URL`, or a scripted path starts the local scripted
 * server. Nothing below this reads the environment.
 */
export async function openModelAccess(opts: {
  env: NodeJS.ProcessEnv;
  scriptedPath: string | undefined;
  runner: RunnerName;
  sandboxMode: SandboxMode;
  /** How bubblewrap is probed; the real probe when omitted (tests simulate a host without it). */
  probeBubblewrap?: BubblewrapProbe;
  /** Absent: a suite or config asking for the `claude-code` runner is refused. */
  claudeCode?: ClaudeCodeRunnerFactory;
  /** How to tell the user to get a key; default names ANTHROPIC_API_KEY and --scripted. */
  missingKeyHint?: string;
  /**
   * Where every model call's retries and waits are reported (the CLI's stderr, the Action's log),
   * and where the recording says what it wrote.
   */
  log?: ModelLog;
  /** `--record`: every model exchange is appended to this scripted-server script on close. */
  recordPath?: string;
}): Promise<ModelAccess> {
  const closers: Array<() => Promise<void>> = [];
  const close = async () => {
    for (const c of closers.reverse()) await c();
  };
  try {
    let apiKey: string;
    let baseURL: string;
    if (opts.scriptedPath !== undefined) {
      const server = await startScriptedServer({
        script: await loadScript(resolve(opts.scriptedPath)),
      });
      closers.push(() => server.close());
      apiKey = 'scripted-model-key';
      baseURL = server.url;
    } else {
      const key = opts.env.ANTHROPIC_API_KEY;
      if (!key) {
        throw new SkillOptimizerError(
          opts.missingKeyHint ??
            'ANTHROPIC_API_KEY is not set. Export it, or pass --scripted <script> to use the local scripted model.',
        );
      }
      apiKey = key;
      baseURL = opts.env.ANTHROPIC_BASE_URL || DEFAULT_BASE_URL;
    }
    if (opts.recordPath !== undefined) {
      // Pushed before the gateway's closer, so it closes after every trial's traffic is done.
      const log = opts.log;
      const recorder = await startRecorder(
        resolve(opts.recordPath),
        baseURL,
        log ? (line) => log.info(line) : undefined,
      );
      closers.push(recorder.close);
      baseURL = recorder.url;
    }

    const sandbox = await createSandbox(opts.sandboxMode, {
      secretInReach: secretInReach(opts.env, opts.scriptedPath),
      ...(opts.probeBubblewrap ? { probe: opts.probeBubblewrap } : {}),
    });
    const ledger = new CostLedger();
    const price = (model: string, usage: Usage) => costOf(model, usage);
    let runner: Runner;
    if (opts.runner === 'claude-code') {
      if (opts.claudeCode === undefined) {
        throw new SkillOptimizerError(
          "the 'claude-code' runner is not available here (the Claude Code agent is not bundled); set `runner: messages` in the config, or run the bench with the CLI",
        );
      }
      const gateway = await startModelGateway({ upstreamBaseURL: baseURL, upstreamApiKey: apiKey });
      closers.push(() => gateway.close());
      runner = opts.claudeCode({ gateway, isolation: agentIsolationOf(sandbox) });
    } else {
      const client = createModelClient({ apiKey, baseURL, ledger, ...logOf(opts) });
      runner = createMessagesRunner({ model: client, sandbox });
    }
    const newClient = (chainLedger: CostLedger) =>
      createModelClient({ apiKey, baseURL, ledger: chainLedger, ...logOf(opts) });
    return { runner, newClient, sandbox, ledger, costOf: price, close };
  } catch (error) {
    await close();
    throw error;
  }
}
