import { join } from 'node:path';
import { parseStepRef, STEP_IDS } from '../chain/catalog.js';
import { answerGate, loadState, stopRun } from '../chain/driver.js';
import { parsePickSelection } from '../chain/picks.js';
import { openRun } from '../chain/start.js';
import { pickFunctionalities, queueRerun } from '../chain/steer.js';
import { loadConfig } from '../config/load.js';
import { SkillOptimizerError } from '../errors.js';
import { repoRoot } from '../store/repo.js';
import {
  type ChainCliOptions,
  continueIfPossible,
  drive,
  openAccessIfPossible,
  sandboxModeOf,
} from './chain-drive.js';
import { whoAmI, withPreset, withRun } from './chain-run-lookup.js';
import { preflightPasses } from './doctor-command.js';
import type { CliIO } from './io.js';

export { type ChainCliOptions, STOPPED_EXIT_CODE } from './chain-drive.js';

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
