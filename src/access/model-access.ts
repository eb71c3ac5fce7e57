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
import { createModelClient, type ModelClient } from '../model/client.js';
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

const DEFAULT_BASE_URL = 'https://api.anthropic.com';

/**
 * Builds the `claude-code` runner. Injected by the edges that ship the Claude Code agent (the CLI);
 * the bundled Action has no agent binary and leaves it out.
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
  /** `--record`: every model exchange is appended to this scripted-server script on close. */
  recordPath?: string;
  /** Where the recording says what it wrote. */
  log?: (line: string) => void;
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
      const recorder = await startRecorder(resolve(opts.recordPath), baseURL, opts.log);
      closers.push(recorder.close);
      baseURL = recorder.url;
    }

    // A real key in this process (used, or merely set), or anything on a GitHub runner (tokens in
    // the environment): a plain process could read them from /proc/<pid>/environ.
    const secretInReach =
      opts.scriptedPath === undefined ||
      Boolean(opts.env.ANTHROPIC_API_KEY) ||
      opts.env.GITHUB_ACTIONS === 'true';
    const sandbox = await createSandbox(opts.sandboxMode, {
      secretInReach,
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
      const client = createModelClient({ apiKey, baseURL, ledger });
      runner = createMessagesRunner({ model: client, sandbox });
    }
    const newClient = (chainLedger: CostLedger) =>
      createModelClient({ apiKey, baseURL, ledger: chainLedger });
    return { runner, newClient, sandbox, ledger, costOf: price, close };
  } catch (error) {
    await close();
    throw error;
  }
}
