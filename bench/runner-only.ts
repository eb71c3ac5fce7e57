import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mapBounded } from '../src/bench/pool.js';
import { createMessagesRunner } from '../src/bench/runners/messages.js';
import type { Sandbox } from '../src/bench/sandbox/index.js';
import { copyWorkspace } from '../src/bench/sandbox/paths.js';
import { loadSkill } from '../src/bench/skill.js';
import type { Suite } from '../src/bench/types.js';
import { createModelClient } from '../src/model/client.js';
import type { Script } from '../src/model/scripted/script.js';
import { type ServerPlacement, startBenchServer } from './model-server.js';

/**
 * The trials of a suite through the same bounded pool as `runBench`, but with only the runner
 * (model calls and tools): no smoke checks, no grading, workspaces copied beforehand. What is
 * left is the cost of concurrency itself. Returns the wall time in ms.
 */
export async function timeRunnerOnly(opts: {
  suite: Suite;
  script: Script;
  sandbox: Sandbox;
  latencyMs: number;
  placement: ServerPlacement;
}): Promise<number> {
  const { suite } = opts;
  const server = await startBenchServer(opts);
  const scratch = await mkdtemp(join(tmpdir(), 'skill-optimizer-bench-runner-'));
  try {
    const client = createModelClient({ apiKey: 'scripted-bench-key', baseURL: server.url });
    const runner = createMessagesRunner({ model: client, sandbox: opts.sandbox });
    const trials = suite.probes.flatMap((probe) =>
      Array.from({ length: suite.trials }, (_, i) => ({
        probe,
        workspaceDir: join(scratch, `${probe.id.replaceAll('/', '_')}-${i + 1}`),
      })),
    );
    for (const t of trials) await copyWorkspace(t.probe.workspaceDir, t.workspaceDir);
    const skill = await loadSkill(suite.skillDir);
    const signal = new AbortController().signal;
    const model = suite.models[0] ?? 'claude-sonnet-4-6';
    const started = performance.now();
    const outs = await mapBounded(trials, suite.concurrency, (t) =>
      runner.runTrial({ probe: t.probe, skill, model, workspaceDir: t.workspaceDir, signal }),
    );
    const wall = performance.now() - started;
    const broken = outs.find((o) => o.error !== undefined || o.stopReason !== 'end_turn');
    if (broken) throw new Error(`runner-only trial did not finish as scripted: ${broken.error}`);
    return wall;
  } finally {
    await server.close();
    await rm(scratch, { recursive: true, force: true });
  }
}
