import type { ActionOutcome } from './ports.js';
import type { Session } from './session-state.js';

/**
 * The checks a run passes before this job writes anything (a branch, a commit, a chain PR): the
 * model answers with the key given and the sandbox trials need starts. Null when all pass;
 * otherwise the failed job's outcome, naming every failed check.
 */
export async function preflightRefusal(s: Session): Promise<ActionOutcome | null> {
  const failed = (await s.deps.preflight(s.config)).filter((c) => !c.ok);
  if (failed.length === 0) return null;
  const lines = failed.map((c) => `${c.name}: ${c.detail}`);
  const message = `Skill Optimizer did not start: ${lines.join('; ')}`;
  return {
    status: 'failed',
    gate: null,
    chainPr: null,
    costUsd: null,
    summary: `## Skill Optimizer did not start\n\n${lines.map((l) => `- ${l}`).join('\n')}\n\nNothing was written; fix the above and re-run the workflow or comment \`/optimize\`.\n`,
    message,
  };
}
