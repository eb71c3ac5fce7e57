import { cp, mkdir, mkdtemp, readdir, realpath, rm, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  type Options,
  query,
  type SDKMessage,
  type SDKResultMessage,
  type SpawnedProcess,
  type SpawnOptions,
} from '@anthropic-ai/claude-agent-sdk';
import type { ModelGateway } from '../gateway.js';
import {
  AGENT_GATEWAY_PORT,
  type AgentIsolation,
  type AgentLimits,
  spawnAgent,
} from '../sandbox/agent.js';
import {
  bridgeUnixToLoopback,
  type LoopbackBridge,
  loopbackTarget,
} from '../sandbox/loopback-bridge.js';
import type { Runner, RunnerInput, RunnerOutput, StopReason, TranscriptMessage } from '../types.js';

/**
 * The `claude-code` runner (docs/suite-format.md): the real Claude Code agent through its SDK, the skill
 * installed under `.claude/skills/`, talking to the model only through the loopback gateway with a
 * per-trial dummy key, so the agent process never holds the real API key (docs/security.md). The agent runs
 * sealed like every sandboxed command (docs/security.md).
 */

export interface ClaudeCodeRunnerDeps {
  gateway: ModelGateway;
  log?: (line: string) => void;
  /** The Claude Code binary; the SDK's bundled one when omitted. */
  executable?: string;
  /** PATH the agent's commands see. Defaults to the parent's PATH (nothing else of it is passed). */
  searchPath?: string;
  /** Where private per-trial HOME folders are made; the OS temp dir when omitted. */
  tempRoot?: string;
  /**
   * How the agent is isolated. `bubblewrap`: it sees only the system dirs, node, its own program
   * dir, the workspace and its private HOME; no other process (its PID namespace is private); no
   * network but the model gateway, reached through a Unix socket bound into the sandbox.
   * `process`: a plain process group with the limits. Both get the limits and die whole.
   */
  isolation: AgentIsolation;
  /** Overrides of the default limits (memory, workspace size, process count). */
  limits?: Partial<Omit<AgentLimits, 'timeoutMs'>>;
}

/** Characters an install folder name may hold; any other run of characters becomes one `-`. */
const UNSAFE_FOLDER_CHARS = /[^A-Za-z0-9._-]+/g;
/** Longest install folder name: well under every file system's 255-byte limit. */
const MAX_FOLDER_NAME = 64;
/** The agent's default limits: Claude Code is one large multi-threaded program. */
const AGENT_LIMITS = { memoryMb: 4096, maxDiskMb: 100, maxProcesses: 256 };
const STDERR_LINES_KEPT = 20;

export function createClaudeCodeRunner(deps: ClaudeCodeRunnerDeps): Runner {
  const log = deps.log ?? (() => undefined);
  const searchPath = deps.searchPath ?? process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin';
  const tempRoot = deps.tempRoot ?? tmpdir();

  return {
    name: 'claude-code',
    async runTrial(input: RunnerInput): Promise<RunnerOutput> {
      const { probe, skill, workspaceDir } = input;
      const meter = deps.gateway.openTrial(`${probe.id}#${path.basename(workspaceDir)}`, {
        maxTotalTokens: probe.limits.max_total_tokens,
      });
      const folder = skill === null ? null : skillFolderName(skill.name);
      const collector = new TrialCollector(probe.prompt, skill?.name ?? null, folder);
      const stderr: string[] = [];
      const keepStderr = (data: string): void => {
        for (const line of data.split('\n')) if (line.trim() !== '') stderr.push(line.trim());
        stderr.splice(0, Math.max(0, stderr.length - STDERR_LINES_KEPT));
      };
      const abort = new AbortController();
      let timedOut = false;
      const onCancel = (): void => abort.abort();
      input.signal.addEventListener('abort', onCancel, { once: true });
      const timer = setTimeout(() => {
        timedOut = true;
        abort.abort();
      }, probe.limits.timeout_s * 1000);
      // The agent would retry an unreachable API until the time limit: end the trial now.
      meter.onUnreachable(() => abort.abort());
      let home: string | undefined;
      let gatewayDir: string | undefined;
      let bridge: LoopbackBridge | undefined;
      let uninstall: (() => Promise<void>) | undefined;
      let thrown: unknown;
      let limitHit: string | null = null;
      const cleanups: Promise<void>[] = [];
      const sealed = deps.isolation.level === 'bubblewrap';

      try {
        if (input.signal.aborted) abort.abort();
        home = await realpath(await mkdtemp(path.join(tempRoot, 'skill-optimizer-cc-')));
        const agentHome = home;
        const scratch = path.join(home, 'tmp');
        await mkdir(scratch, { mode: 0o700 });
        const cwd = await realpath(workspaceDir);
        if (sealed) {
          // The socket lives outside HOME so the agent cannot replace it.
          gatewayDir = await realpath(await mkdtemp(path.join(tempRoot, 'skill-optimizer-gw-')));
          bridge = await bridgeUnixToLoopback(
            path.join(gatewayDir, 'gateway.sock'),
            loopbackTarget(deps.gateway.url),
          );
        }
        const gatewaySocket = bridge?.socketPath;
        if (skill !== null && folder !== null)
          uninstall = await installSkill(skill.dir, folder, workspaceDir);
        const options: Options = {
          cwd: workspaceDir,
          settingSources: ['project'],
          systemPrompt: { type: 'preset', preset: 'claude_code' },
          permissionMode: 'bypassPermissions',
          allowDangerouslySkipPermissions: true,
          persistSession: false,
          model: input.model,
          maxTurns: probe.limits.max_turns,
          abortController: abort,
          env: agentEnv({
            searchPath,
            home,
            scratch,
            gatewayURL: sealed ? `http://127.0.0.1:${AGENT_GATEWAY_PORT}` : deps.gateway.url,
            apiKey: meter.apiKey,
            model: input.model,
            maxOutputTokens: probe.limits.max_output_tokens,
          }),
          stderr: keepStderr,
          ...(deps.executable === undefined ? {} : { pathToClaudeCodeExecutable: deps.executable }),
          spawnClaudeCodeProcess: (o: SpawnOptions): SpawnedProcess => {
            const { child, cleanedUp } = spawnAgent(deps.isolation, {
              command: o.command,
              args: o.args,
              cwd,
              env: definedOnly(o.env),
              home: agentHome,
              ...(gatewaySocket === undefined ? {} : { gatewaySocket }),
              limits: {
                ...AGENT_LIMITS,
                ...deps.limits,
                timeoutMs: probe.limits.timeout_s * 1000,
              },
              signal: o.signal,
              onLimit: (reason) => {
                limitHit = reason;
              },
              onCleanupError: (error) =>
                log(
                  `claude-code trial ${probe.id}: killing what was left failed: ${describe(error)}`,
                ),
            });
            cleanups.push(cleanedUp);
            child.stderr?.setEncoding('utf8');
            child.stderr?.on('data', keepStderr);
            return child as SpawnedProcess;
          },
        };
        for await (const message of query({ prompt: probe.prompt, options }))
          collector.add(message);
      } catch (error) {
        thrown = error;
      } finally {
        clearTimeout(timer);
        input.signal.removeEventListener('abort', onCancel);
        meter.close();
      }
      // Every child dies with the trial: wait until what the agent left behind is killed.
      await Promise.all(cleanups);

      // A failed cleanup is logged; it says nothing about the trial itself.
      const privateHome = home;
      const socketDir = gatewayDir;
      const steps = [
        uninstall,
        bridge === undefined ? undefined : () => (bridge as LoopbackBridge).close(),
        ...[privateHome, socketDir].map((dir) =>
          dir === undefined ? undefined : () => rm(dir, { recursive: true, force: true }),
        ),
      ];
      for (const step of steps) {
        try {
          await step?.();
        } catch (error) {
          log(`claude-code trial ${probe.id}: cleanup failed: ${describe(error)}`);
        }
      }

      const outcome = classify({
        result: collector.result,
        thrown,
        timedOut,
        limit: limitHit,
        cancelled: input.signal.aborted,
        budgetHit: meter.budgetExhausted(),
        unreachable: meter.unreachable(),
        gatewayRequests: meter.requests(),
        timeoutS: probe.limits.timeout_s,
        stderrTail: stderr.at(-1),
      });
      if (outcome.error !== undefined) {
        log(`claude-code trial ${probe.id}: ${outcome.stopReason}: ${outcome.error}`);
      }
      return {
        transcript: collector.transcript,
        finalMessage: collector.finalMessage(),
        usage: meter.usage(),
        stopReason: outcome.stopReason,
        skillTriggered: skill === null ? false : collector.skillTriggered,
        ...(outcome.error === undefined ? {} : { error: outcome.error }),
      };
    },
  };
}

/** The SDK's environment without unset entries. */
function definedOnly(env: SpawnOptions['env']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined) out[name] = value;
  return out;
}

interface AgentEnvInput {
  searchPath: string;
  home: string;
  scratch: string;
  gatewayURL: string;
  apiKey: string;
  model: string;
  maxOutputTokens: number;
}

/** The whole environment of the agent process: built from scratch, never from `process.env`. */
export function agentEnv(e: AgentEnvInput): Record<string, string> {
  return {
    PATH: e.searchPath,
    HOME: e.home,
    TMPDIR: e.scratch,
    CLAUDE_CODE_TMPDIR: e.scratch,
    CLAUDE_CONFIG_DIR: path.join(e.home, '.claude'),
    LANG: 'C.UTF-8',
    // Claude Code refuses bypassPermissions as root unless told it runs in a sandbox.
    IS_SANDBOX: '1',
    ANTHROPIC_BASE_URL: e.gatewayURL,
    ANTHROPIC_API_KEY: e.apiKey,
    // Every call (side calls and subagents included) uses the trial's model, so one price applies.
    ANTHROPIC_DEFAULT_HAIKU_MODEL: e.model,
    ANTHROPIC_DEFAULT_SONNET_MODEL: e.model,
    ANTHROPIC_DEFAULT_OPUS_MODEL: e.model,
    ANTHROPIC_SMALL_FAST_MODEL: e.model,
    CLAUDE_CODE_SUBAGENT_MODEL: e.model,
    CLAUDE_CODE_MAX_OUTPUT_TOKENS: String(e.maxOutputTokens),
    DISABLE_TELEMETRY: '1',
    DISABLE_AUTOUPDATER: '1',
    DISABLE_ERROR_REPORTING: '1',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    CLAUDE_CODE_DISABLE_FEEDBACK_SURVEY: '1',
    // The system prompt must be the same in every trial of a model, or no trial reads what another
    // cached: the attribution block carries a fingerprint of the trial's prompt, and the memory
    // section names the trial's private HOME and workspace (a trial keeps no memory anyway).
    CLAUDE_CODE_ATTRIBUTION_HEADER: '0',
    CLAUDE_CODE_DISABLE_AUTO_MEMORY: '1',
  };
}

/**
 * The folder under `.claude/skills/` a skill is installed in: its name, accents dropped, with every run of
 * characters other than letters, digits, `.`, `_` and `-` made one `-`, leading and trailing
 * punctuation dropped (no `-x` an argument parser could take for an option, no `.` or `..`),
 * cut to 64 characters; `skill` when nothing is left. The skill's own `name` is not changed.
 */
export function skillFolderName(name: string): string {
  const slug = name
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .replace(UNSAFE_FOLDER_CHARS, '-')
    .replace(/^[._-]+/, '')
    .slice(0, MAX_FOLDER_NAME)
    .replace(/[._-]+$/, '');
  return slug === '' ? 'skill' : slug;
}

/**
 * Copies the skill folder to `<workspace>/.claude/skills/<folder>/`; the returned function removes
 * that copy and any of its parent folders this call created, leaving the agent's own files.
 */
async function installSkill(
  skillDir: string,
  folder: string,
  workspaceDir: string,
): Promise<() => Promise<void>> {
  const claudeDir = path.join(workspaceDir, '.claude');
  const skillsDir = path.join(claudeDir, 'skills');
  const target = path.join(skillsDir, folder);
  const created = await mkdir(skillsDir, { recursive: true });
  await cp(skillDir, target, { recursive: true, errorOnExist: true, force: false });
  return async () => {
    await rm(target, { recursive: true, force: true });
    // `created` is the top-most folder mkdir made: .claude/skills or .claude.
    const ours =
      created === undefined ? [] : [skillsDir, claudeDir].filter((d) => d.length >= created.length);
    for (const dir of ours) {
      if ((await readdir(dir)).length > 0) return;
      await rmdir(dir);
    }
  };
}

interface Outcome {
  stopReason: StopReason;
  error?: string;
}

/** The trial's stop reason from how the agent ended (docs/suite-format.md). */
export function classify(c: {
  result: SDKResultMessage | undefined;
  thrown: unknown;
  timedOut: boolean;
  /** A sandbox limit (process count, workspace size) that killed the agent. */
  limit?: string | null;
  cancelled: boolean;
  budgetHit: boolean;
  /** The gateway could not reach the model API (and nothing of this trial reached it). */
  unreachable?: string | null;
  /** Requests the gateway got from this trial's agent; 0 means it never reached the gateway. */
  gatewayRequests?: number;
  timeoutS: number;
  stderrTail: string | undefined;
}): Outcome {
  if (c.unreachable) return { stopReason: 'error', error: oneLine(c.unreachable) };
  if (c.timedOut && c.gatewayRequests === 0) {
    const tail = c.stderrTail === undefined ? '' : ` (stderr: ${c.stderrTail})`;
    return {
      stopReason: 'error',
      error: oneLine(
        `the agent never reached the model gateway in ${c.timeoutS} s: no model request arrived${tail}`,
      ),
    };
  }
  if (c.timedOut) return { stopReason: 'timeout', error: `trial timed out after ${c.timeoutS} s` };
  if (c.limit) return { stopReason: 'error', error: `the sandbox killed the agent: ${c.limit}` };
  if (c.cancelled) return { stopReason: 'error', error: 'trial cancelled' };
  if (c.budgetHit) return { stopReason: 'budget' };
  const r = c.result;
  if (r === undefined) {
    const why = c.thrown === undefined ? 'the agent ended without a result' : describe(c.thrown);
    const tail = c.stderrTail === undefined ? '' : ` (stderr: ${c.stderrTail})`;
    return { stopReason: 'error', error: oneLine(`claude-code failed: ${why}${tail}`) };
  }
  switch (r.subtype) {
    case 'success':
      if (r.is_error)
        return {
          stopReason: 'error',
          error: oneLine(`claude-code reported an error: ${r.result}`),
        };
      if (r.stop_reason === 'max_tokens') return { stopReason: 'max_tokens' };
      if (r.stop_reason === 'refusal') return { stopReason: 'refusal' };
      return { stopReason: 'end_turn' };
    case 'error_max_turns':
      return { stopReason: 'max_turns' };
    case 'error_max_budget_usd':
      return { stopReason: 'budget' };
    default: {
      const detail = r.errors.length > 0 ? r.errors.join('; ') : r.subtype;
      return { stopReason: 'error', error: oneLine(`claude-code stopped: ${detail}`) };
    }
  }
}

/**
 * Folds the SDK's message stream into a Messages-API-shaped transcript (the main thread only;
 * the blocks of one streamed assistant message and consecutive user messages are merged), keeps
 * the result, and notes whether the agent invoked the Skill tool for the skill under test.
 */
export class TrialCollector {
  readonly transcript: TranscriptMessage[];
  result: SDKResultMessage | undefined;
  skillTriggered = false;
  private lastAssistantId: string | undefined;

  /** `folder`: the install folder name, which the agent may call the skill by instead. */
  constructor(
    prompt: string,
    private readonly skillName: string | null,
    private readonly folder: string | null = skillName,
  ) {
    this.transcript = [{ role: 'user', content: prompt }];
  }

  add(message: SDKMessage): void {
    if (message.type === 'result') {
      this.result = message;
      return;
    }
    if (message.type === 'assistant') {
      const blocks = message.message.content as unknown as Array<Record<string, unknown>>;
      if (blocks.some((b) => this.isSkillCall(b))) this.skillTriggered = true;
      if (message.parent_tool_use_id !== null) return;
      const id = message.message.id;
      this.append('assistant', blocks, id !== undefined && id === this.lastAssistantId);
      this.lastAssistantId = id;
      return;
    }
    if (
      message.type === 'user' &&
      message.parent_tool_use_id === null &&
      !('isReplay' in message && message.isReplay)
    ) {
      const content = message.message.content;
      const blocks =
        typeof content === 'string'
          ? [{ type: 'text', text: content }]
          : (content as unknown as Array<Record<string, unknown>>);
      this.append('user', blocks, true);
      this.lastAssistantId = undefined;
    }
  }

  /** The result text, else the text of the last assistant message. */
  finalMessage(): string {
    if (this.result?.subtype === 'success' && !this.result.is_error) return this.result.result;
    for (let i = this.transcript.length - 1; i >= 0; i--) {
      const entry = this.transcript[i];
      if (entry?.role !== 'assistant' || typeof entry.content === 'string') continue;
      return entry.content
        .filter((b) => b.type === 'text' && typeof b.text === 'string')
        .map((b) => b.text as string)
        .join('\n');
    }
    return '';
  }

  private append(
    role: TranscriptMessage['role'],
    blocks: Array<Record<string, unknown>>,
    mergeWithSameRole: boolean,
  ): void {
    const last = this.transcript.at(-1);
    if (mergeWithSameRole && last?.role === role) {
      const prior =
        typeof last.content === 'string' ? [{ type: 'text', text: last.content }] : last.content;
      last.content = [...prior, ...blocks];
      return;
    }
    this.transcript.push({ role, content: [...blocks] });
  }

  private isSkillCall(block: Record<string, unknown>): boolean {
    if (this.skillName === null || block.type !== 'tool_use' || block.name !== 'Skill')
      return false;
    const input = block.input;
    if (typeof input !== 'object' || input === null) return false;
    const named =
      (input as Record<string, unknown>).skill ?? (input as Record<string, unknown>).command;
    if (typeof named !== 'string') return false;
    const called = named.replace(/^\//, '').trim();
    return called === this.skillName.trim() || called === this.folder;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 500 ? `${flat.slice(0, 497)}...` : flat;
}
