import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startModelGateway } from '../src/bench/gateway.js';
import { type BenchResult, runBench } from '../src/bench/run-bench.js';
import { createClaudeCodeRunner } from '../src/bench/runners/claude-code.js';
import { agentIsolationOf, type Sandbox } from '../src/bench/sandbox/index.js';
import type { Suite } from '../src/bench/types.js';
import { costOf } from '../src/model/pricing.js';
import type { Script } from '../src/model/scripted/script.js';
import { type RecordedRequest, startScriptedServer } from '../src/model/scripted/server.js';
import { TRIAL_HEADER } from '../src/model/trial-header.js';
import { recordSpans, type TrialSpan } from './scripted-bench.js';

/** The agent binary the SDK ships for this platform (installed with the repository's packages). */
const EXECUTABLE = resolve(
  import.meta.dirname,
  '..',
  'node_modules',
  '@anthropic-ai',
  `claude-agent-sdk-${process.platform}-${process.arch}`,
  'claude',
);

export interface ClaudeCodeBenchRun {
  result: BenchResult;
  /**
   * Runner calls in the order their first model request reached the model (agents take varying
   * time to start, so the trial started first is not always first there); usage is every
   * metered request of the trial.
   */
  spans: TrialSpan[];
  /** Every request the scripted server got, with the rule that answered it. */
  requests: RecordedRequest[];
}

/** What the agents of a bench sent the model API, by kind. */
export interface RequestKinds {
  /** Messages requests offering the agent's tools: its turns (subagents' included). */
  turns: number;
  /** Messages requests without tools: side calls such as a session title. */
  side: number;
  /** `count_tokens` requests (free on the API, no usage) and the connectivity check. */
  other: number;
}

/** `spans` in the order their trial's first request is in `requests` (arrival order). */
export function byFirstRequest(
  spans: readonly TrialSpan[],
  requests: readonly RecordedRequest[],
): TrialSpan[] {
  const first = new Map<string, number>();
  for (const [i, r] of requests.entries()) {
    const trial = r.headers[TRIAL_HEADER];
    if (trial !== undefined && !first.has(trial)) first.set(trial, i);
  }
  const at = (s: TrialSpan) => first.get(s.trial) ?? Number.POSITIVE_INFINITY;
  return [...spans].sort((a, b) => at(a) - at(b));
}

export function requestKinds(requests: readonly RecordedRequest[]): RequestKinds {
  const kinds = { turns: 0, side: 0, other: 0 };
  for (const r of requests) {
    if (r.path !== '/v1/messages') kinds.other += 1;
    else if (((r.body as { tools?: unknown[] } | null)?.tools ?? []).length > 0) kinds.turns += 1;
    else kinds.side += 1;
  }
  return kinds;
}

/**
 * Runs a whole bench with the `claude-code` runner (the real agent, sealed like a product run)
 * through the model gateway against a scripted server on loopback.
 */
export async function runClaudeCodeBench(opts: {
  suite: Suite;
  script: Script;
  sandbox: Sandbox;
  latencyMs: number;
  /** False forwards concurrent trials' requests at once, without the gateway's cache warm-up. */
  warmCache?: boolean;
}): Promise<ClaudeCodeBenchRun> {
  const server = await startScriptedServer({ script: opts.script, latencyMs: opts.latencyMs });
  const gateway = await startModelGateway({
    upstreamBaseURL: server.url,
    upstreamApiKey: 'scripted-bench-key',
    ...(opts.warmCache === false ? { cacheWarmer: null } : {}),
  });
  const outRoot = await mkdtemp(join(tmpdir(), 'skill-optimizer-cc-bench-'));
  try {
    const spans: TrialSpan[] = [];
    const runner = recordSpans(
      createClaudeCodeRunner({
        gateway,
        executable: EXECUTABLE,
        isolation: agentIsolationOf(opts.sandbox),
      }),
      spans,
    );
    const result = await runBench(
      { suite: opts.suite, baseline: false, outRoot, keepWorkspaces: false },
      { runner, sandbox: opts.sandbox, costOf: (model, usage) => costOf(model, usage) },
    );
    return { result, spans: byFirstRequest(spans, server.requests), requests: server.requests };
  } finally {
    await gateway.close();
    await server.close();
    await rm(outRoot, { recursive: true, force: true });
  }
}
