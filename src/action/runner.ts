import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CONFIG_PATH, loadConfig, parseConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { type RouteDecision, routeEvent } from '../routing/route.js';
import { benchMerge, benchShard } from './bench-jobs.js';
import { parseBenchMatrix } from './bench-matrix.js';
import { runChainJob } from './chain-job.js';
import { commandStep } from './inputs.js';
import { chainBenchShard, resumeFromMatrix } from './matrix-jobs.js';
import type { ActionDeps, ActionOutcome } from './ports.js';

/**
 * The Action's work over its ports: `bench-shard` / `bench-merge` (of a suite, or of a chain
 * run's step 06 on the job matrix), or route the event and drive
 * the chain (`auto`, or a step name to re-run that step on the event's pull request).
 */
export async function main(deps: ActionDeps): Promise<ActionOutcome> {
  switch (deps.inputs.command) {
    case 'bench-shard': {
      const config = await loadActionConfig(deps.context.workspace, deps.inputs['config-path']);
      const { shard } = deps.inputs;
      if (deps.inputs['work-branch'] !== '' && shard !== null) {
        return chainBenchShard(deps, config, deps.inputs['work-branch'], shard);
      }
      return benchShard(deps, config);
    }
    case 'bench-merge': {
      if (deps.inputs['bench-matrix'] === '') return benchMerge(deps);
      const matrix = parseBenchMatrix(deps.inputs['bench-matrix']);
      const config = await loadActionConfig(deps.context.workspace, deps.inputs['config-path']);
      return resumeFromMatrix(deps, config, matrix);
    }
    default: {
      const config = await loadActionConfig(deps.context.workspace, deps.inputs['config-path']);
      const decision = await routeEvent({
        name: deps.context.eventName,
        payload: deps.context.payload,
        deliveryId: `${deps.context.runId}.${deps.context.runAttempt}`,
        config,
        selfLogin: deps.inputs['bot-login'],
        permissionOf: (login) => deps.github.permissionOf(login),
      });
      return runChainJob(deps, config, forStepCommand(deps, decision));
    }
  }
}

/** `command: <step>` turns a start (label, comment, dispatch) into a re-run of that step. */
function forStepCommand(deps: ActionDeps, decision: RouteDecision): RouteDecision {
  const step = commandStep(deps.inputs.command);
  if (step === null) return decision;
  const command = { kind: 'rerun' as const, step, directive: null };
  if (decision.kind === 'start') {
    return {
      kind: 'command',
      repository: decision.repository,
      pr: decision.pr,
      command,
      actor: decision.actor,
      commentId: decision.commentId ?? 0,
    };
  }
  if (decision.kind === 'dispatch') return { ...decision, command };
  return decision;
}

export async function loadActionConfig(workspace: string, configPath: string): Promise<Config> {
  if (configPath === CONFIG_PATH) return loadConfig(workspace);
  let text: string;
  try {
    text = await readFile(join(workspace, configPath), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    text = '';
  }
  return parseConfig(text, configPath);
}
