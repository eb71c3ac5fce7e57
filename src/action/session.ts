import { weakIsolationNotice } from '../bench/sandbox/index.js';
import { hasAnswered } from '../chain/answered.js';
import { benchProgressLine } from '../chain/bench-progress.js';
import { RUN_FILES } from '../chain/catalog.js';
import { advance, type DriverResult, loadState } from '../chain/driver.js';
import { benchFromMergedShards, type MergedShards } from '../chain/merged-bench.js';
import type { DriverDeps } from '../chain/ports.js';
import { SkillOptimizerError } from '../errors.js';
import { GitHubNotFoundError } from '../github/errors.js';
import type { TrackerCheckRun } from '../routing/tracker.js';
import { StaleBranchError } from '../store/errors.js';
import { matrixEntries } from './bench-matrix.js';
import { renderGateReview } from './gate-review.js';
import { type GitHubRun, readRunFileOnGitHub } from './open-run.js';
import type { ActionDeps, ActionOutcome, CheckConclusion, SkillPr } from './ports.js';
import { publishFinishedRun } from './publish-run.js';
import type { Session } from './session-state.js';
import { type RunReport, renderJobSummary } from './summary.js';
import type { TrackerSync } from './tracker-sync.js';

/**
 * What every chain job shares: driving one run to its next gate (tracker, gate review, review
 * request), the skill PR's check run around the work, and the job's outcome.
 */

export const CHECK_NAME = 'Skill Optimizer';
export const RESUME = 'comment `/optimize` on the skill pull request';
export const NOTE_MARKER = '<!-- skill-optimizer:note -->';

export type Steer = (deps: DriverDeps, run: GitHubRun) => Promise<void>;

/** What a job that finds its comment or review answered already ends with: nothing done. */
export function alreadyAnsweredOutcome(s: Session): ActionOutcome {
  const event = s.place.answering;
  const what = event === null ? 'this event' : `${event.kind} ${event.id}`;
  return quiet('ignored', `${what} was acted on already (a redelivery or a re-dispatch)`);
}

/**
 * Whether the run on `branch` acted on this job's comment or review already (its record on the
 * work branch says so): then this job is a redelivery or a re-dispatch and leaves the run alone.
 */
export async function answeredAlready(
  s: Session,
  run: { slug: string; branch: string },
): Promise<boolean> {
  const event = s.place.answering;
  if (event === null) return false;
  const text = await readRunFileOnGitHub(s.place, { ...run, path: RUN_FILES.answered });
  return hasAnswered(text, event);
}

export function quiet(status: 'ignored' | 'neutral', message: string): ActionOutcome {
  return {
    status,
    gate: null,
    chainPr: null,
    costUsd: null,
    summary: `Skill Optimizer: ${message}\n`,
    message,
  };
}

/** A run needs the model; without a key (a fork's pull_request gets no secrets) nothing runs. */
export function missingKey(deps: ActionDeps): ActionOutcome | null {
  if (deps.inputs['anthropic-api-key'] !== '') return null;
  const message =
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a workflow expression, shown to the user
    'Skill Optimizer did not run: no Anthropic API key is available to this workflow run. Pull requests from forks get no secrets; a maintainer can start the run with a `/optimize` comment, or pass `anthropic-api-key: ${{ secrets.ANTHROPIC_API_KEY }}`.';
  deps.log.notice(message);
  return quiet('neutral', message);
}

export function defaultBranch(payload: unknown): string {
  const name = (payload as { repository?: { default_branch?: unknown } } | null)?.repository
    ?.default_branch;
  if (typeof name !== 'string' || name === '') {
    throw new SkillOptimizerError(
      'the event payload names no default branch for the chain PR of a fork',
    );
  }
  return name;
}

/**
 * Steers (optionally) and advances one run; at a gate, pins the head and posts the gate review;
 * once the run has finished, publishes its improvement (every time: publishing is idempotent, so
 * `/optimize` on a finished run retries a publication that failed).
 */
export async function drive(
  s: Session,
  run: GitHubRun,
  tracker: TrackerSync,
  opts: {
    actor: string;
    autopilot: boolean;
    skillPr: SkillPr;
    steer?: Steer;
    /** The merge job: step 06 resumes from the matrix's merged shards (and never fans out). */
    merged?: MergedShards;
  },
): Promise<RunReport> {
  const chainPr = tracker.chainPr;
  const access = await s.deps.openAccess({
    store: run.store,
    repoRoot: run.local.worktreeDir,
    config: s.config,
    log: (line) => s.deps.log.info(line),
  });
  const deps = opts.merged
    ? {
        ...access.deps,
        bench: benchFromMergedShards(access.deps.bench, opts.merged, run.store),
      }
    : access.deps;
  let result: DriverResult;
  try {
    if (opts.steer) await opts.steer(deps, run);
    result = await advance(deps, {
      autopilot: opts.autopilot,
      actor: opts.actor,
      resumeCommand: RESUME,
      benchMatrix: opts.merged === undefined,
      onProgress: (line) => {
        s.deps.log.info(`${run.slug}: ${line}`);
        tracker.progress(line);
      },
      onBenchProgress: (progress) => {
        if (tracker.benchProgress(progress)) {
          s.deps.log.info(`${run.slug}: ${benchProgressLine(progress)}`);
        }
      },
    });
  } catch (error) {
    // The chain PR still shows the last step that was pushed.
    await tracker.flush();
    throw error;
  } finally {
    await access.close();
  }
  // The last pushed step goes out with the final body below: one edit, after any publication.
  await tracker.settle();
  let status: RunReport['status'] = result.status;
  let message = result.message;
  if (chainPr !== null) {
    if (result.status === 'done' || result.status === 'stopped') {
      const published = await publishFinishedRun(s, run, tracker, {
        chainPr,
        skillPr: opts.skillPr,
        actor: opts.actor,
        resume: RESUME,
      });
      message = `${message}; ${published.line}`;
      if (published.failure !== null) {
        status = 'failed';
        message = published.failure;
      }
    }
    await tracker.send(result.state);
    if (result.gate !== null) await askGate(s, run, chainPr, opts.actor);
  }
  const plan = opts.merged === undefined ? result.state.bench_plan : null;
  return {
    slug: run.slug,
    branch: run.branch,
    chainPr,
    status,
    message,
    state: result.state,
    ...(plan !== null && chainPr !== null && result.status === 'running'
      ? {
          benchMatrix: matrixEntries(
            {
              branch: run.branch,
              chainPr,
              actor: opts.actor,
              autopilot: opts.autopilot || result.state.autopilot,
            },
            plan,
          ),
        }
      : {}),
  };
}

/** Posts the gate review pinned to the branch head and asks the triggering user to answer. */
export async function askGate(
  s: Session,
  run: GitHubRun,
  chainPr: number,
  requester: string,
): Promise<void> {
  const state = await loadState({ store: run.store });
  if (state.open_gate === null) return;
  const { context } = s.deps;
  const pinned = await run.store.head();
  await s.deps.github.postGateReview(
    chainPr,
    pinned,
    renderGateReview({
      gate: state.open_gate,
      slug: run.slug,
      runDir: run.store.runDir,
      pinnedSha: pinned,
      blobBase: `${context.serverUrl}/${context.owner}/${context.repo}/blob`,
      requester,
    }),
  );
  if (!requester.endsWith('[bot]')) await s.deps.github.requestReviewers(chainPr, [requester]);
}

/**
 * Puts the job on the skill PR's check run, runs the work, completes the check run with the outcome
 * (failures included). The run's previous job left its check run in the tracker state: while the
 * skill PR's head is still the commit it is on, this job updates that one when it ends instead of
 * creating another (one request, not two; it shows the previous job's result meanwhile, and the
 * chain PR shows the running step), and creates a new one when GitHub no longer has it. A job
 * whose push was refused because the work branch moved writes nothing more: the branch, and what
 * is said about it, belong to whoever moved it; the job only logs why it stopped.
 */
export async function withCheckRun(
  s: Session,
  pr: { number: number; headSha: string },
  work: (check: TrackerCheckRun) => Promise<RunReport[]>,
  previous: TrackerCheckRun | null = null,
): Promise<ActionOutcome> {
  const { github } = s.deps;
  // On Actions `auto` never falls back, so only the config's explicit `process` is weak.
  const notice =
    s.config.sandbox === 'process'
      ? weakIsolationNotice({ level: 'process', fallbackReason: null })
      : null;
  const lead = notice === null ? '' : `> ${notice}\n\n`;
  if (notice !== null) s.deps.log.warning(notice);
  const reused = previous !== null && previous.head_sha === pr.headSha ? previous : null;
  const check: TrackerCheckRun = reused ?? {
    id: await github.createCheckRun({
      headSha: pr.headSha,
      name: CHECK_NAME,
      title: 'Running',
      summary: `${lead}Skill Optimizer is working on #${pr.number}.`,
    }),
    head_sha: pr.headSha,
  };
  const complete = async (result: {
    conclusion: CheckConclusion;
    title: string;
    summary: string;
  }): Promise<void> => {
    if (reused === null) {
      await github.completeCheckRun(check.id, result);
      return;
    }
    try {
      await github.completeCheckRun(check.id, { ...result, name: CHECK_NAME });
    } catch (error) {
      if (!(error instanceof GitHubNotFoundError)) throw error;
      s.deps.log.info(`check run ${check.id} is gone; the result goes on a new one`);
      await github.createCheckRun({ headSha: pr.headSha, name: CHECK_NAME, ...result });
    }
  };
  let reports: RunReport[];
  try {
    reports = await work(check);
  } catch (error) {
    if (error instanceof StaleBranchError) {
      s.deps.log.warning(`Skill Optimizer stopped without writing anything more: ${error.message}`);
      return quiet('neutral', `superseded: ${error.message}`);
    }
    if (!(error instanceof SkillOptimizerError)) throw error;
    const message = error.retry ? `${error.message}\n\nRetry: ${error.retry}` : error.message;
    await complete({ conclusion: 'failure', title: 'Failed', summary: `${lead}${message}` });
    return {
      status: 'failed',
      gate: null,
      chainPr: null,
      costUsd: null,
      summary: `${lead}## Skill Optimizer failed\n\n${message}\n`,
      message,
    };
  }
  const summarised = summarise(reports);
  const outcome = { ...summarised, summary: `${lead}${summarised.summary}` };
  await complete({
    conclusion:
      outcome.status === 'done' ? 'success' : outcome.status === 'failed' ? 'failure' : 'neutral',
    title: outcome.message.slice(0, 200),
    summary: outcome.summary,
  });
  return outcome;
}

function summarise(reports: RunReport[]): ActionOutcome {
  const rank = { failed: 4, gate: 3, stopped: 2, running: 1, done: 0 } as const;
  const worst = reports.reduce<RunReport | null>(
    (acc, r) => (acc === null || rank[r.status] > rank[acc.status] ? r : acc),
    null,
  );
  const status = worst === null || worst.status === 'running' ? 'neutral' : worst.status;
  const gate = reports.find((r) => r.state.open_gate !== null)?.state.open_gate?.id ?? null;
  const cost = reports.reduce((sum, r) => sum + r.state.cost_usd, 0);
  const include = reports.flatMap((r) => r.benchMatrix ?? []);
  return {
    status,
    gate,
    chainPr: worst?.chainPr ?? null,
    costUsd: cost,
    summary: renderJobSummary(reports),
    message: worst === null ? 'nothing ran' : `${worst.slug}: ${worst.status} — ${worst.message}`,
    benchMatrix: include.length > 0 ? { include } : null,
  };
}
