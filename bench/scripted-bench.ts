import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { type BenchResult, runBench } from '../src/bench/run-bench.js';
import { createMessagesRunner } from '../src/bench/runners/messages.js';
import type { Sandbox, SandboxRunOptions } from '../src/bench/sandbox/index.js';
import type { Runner, RunnerInput, Suite } from '../src/bench/types.js';
import { createModelClient } from '../src/model/client.js';
import { costOf } from '../src/model/pricing.js';
import type { Script } from '../src/model/scripted/script.js';
import type { Usage } from '../src/model/usage.js';
import { type ServerPlacement, startBenchServer } from './model-server.js';

/** One `runTrial` call as the bench saw it, in start order; times from `performance.now()`. */
export interface TrialSpan {
  /** The trial's id as runners send it to the model (`<probe>#<workspace>`). */
  trial: string;
  probe: string;
  model: string;
  start: number;
  end: number;
  usage: Usage;
}

export interface ScriptedBenchRun {
  result: BenchResult;
  /** Runner calls in the order they started. */
  spans: TrialSpan[];
  /** Sandbox commands that started after the first trial did (tools the agent ran). */
  trialCommands: SandboxSpan[];
  /** Grades that started after the first trial did (the trials' grading, not smoke checks). */
  trialGrades: SandboxSpan[];
  /** runBench from call to return (smoke checks, trials, summary). */
  totalMs: number;
  /** From the first trial's start to the last trial's record (grading included). */
  trialPhaseMs: number;
}

/** One command the bench ran in the sandbox, or one grade; times from `performance.now()`. */
export interface SandboxSpan {
  start: number;
  end: number;
}

/** Wraps a sandbox so every command's start and end are recorded. */
function recordSandbox(sandbox: Sandbox, spans: SandboxSpan[]): Sandbox {
  const timed =
    <A extends unknown[]>(run: (...args: A) => ReturnType<Sandbox['run']>) =>
    async (...args: A) => {
      const span = { start: performance.now(), end: Number.NaN };
      spans.push(span);
      const result = await run(...args);
      span.end = performance.now();
      return result;
    };
  return {
    level: sandbox.level,
    fallbackReason: sandbox.fallbackReason,
    nodePath: sandbox.nodePath,
    run: timed((argv: string[], opts: SandboxRunOptions) => sandbox.run(argv, opts)),
    runShell: timed((command: string, opts: SandboxRunOptions) => sandbox.runShell(command, opts)),
    start: (argv, opts) => sandbox.start(argv, opts),
  };
}

/** Wraps a runner so every trial's start, end and usage are recorded. */
export function recordSpans(runner: Runner, spans: TrialSpan[]): Runner {
  return {
    name: runner.name,
    async runTrial(input: RunnerInput) {
      const span: TrialSpan = {
        trial: `${input.probe.id}#${basename(input.workspaceDir)}`,
        probe: input.probe.id,
        model: input.model,
        start: performance.now(),
        end: Number.NaN,
        usage: {
          input_tokens: 0,
          output_tokens: 0,
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: 0,
        },
      };
      spans.push(span);
      const out = await runner.runTrial(input);
      span.end = performance.now();
      span.usage = out.usage;
      return out;
    },
  };
}

/**
 * Runs a whole bench (messages runner) against a scripted server on loopback, with
 * results and trial copies in a temporary folder removed afterwards.
 */
export async function runScriptedBench(opts: {
  suite: Suite;
  script: Script;
  sandbox: Sandbox;
  latencyMs: number;
  placement: ServerPlacement;
  /** False sends concurrent trials' calls at once, without warming the prompt cache first. */
  warmCache?: boolean;
}): Promise<ScriptedBenchRun> {
  const server = await startBenchServer(opts);
  const outRoot = await mkdtemp(join(tmpdir(), 'skill-optimizer-bench-'));
  try {
    const client = createModelClient({ apiKey: 'scripted-bench-key', baseURL: server.url });
    const spans: TrialSpan[] = [];
    const commands: SandboxSpan[] = [];
    const sandbox = recordSandbox(opts.sandbox, commands);
    const runner = recordSpans(
      createMessagesRunner({
        model: client,
        sandbox,
        ...(opts.warmCache === false ? { cacheWarmer: null } : {}),
      }),
      spans,
    );
    const grades: SandboxSpan[] = [];
    let lastRecordAt = Number.NaN;
    const started = performance.now();
    const result = await runBench(
      { suite: opts.suite, baseline: false, outRoot, keepWorkspaces: false },
      {
        runner,
        sandbox,
        costOf: (model, usage) => costOf(model, usage),
        onProgress: () => {
          lastRecordAt = performance.now();
        },
        onGraded: (ms) => {
          const end = performance.now();
          grades.push({ start: end - ms, end });
        },
      },
    );
    const totalMs = performance.now() - started;
    const firstStart = spans[0]?.start ?? Number.NaN;
    return {
      result,
      spans,
      trialCommands: commands.filter((c) => c.start >= firstStart),
      trialGrades: grades.filter((g) => g.start >= firstStart),
      totalMs,
      trialPhaseMs: lastRecordAt - firstStart,
    };
  } finally {
    await server.close();
    await rm(outRoot, { recursive: true, force: true });
  }
}
