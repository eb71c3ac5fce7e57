import { recordOnlyDeps } from '../access/record-only.js';
import { answerGate, loadState, stopRun } from '../chain/driver.js';
import { pickFunctionalities, queueRerun } from '../chain/steer.js';
import { workBranchName } from '../routing/branch.js';
import type { ParsedCommand } from '../routing/commands.js';
import type { RouteDecision } from '../routing/route.js';
import { parseTrackerState, type TrackerCheckRun, type TrackerState } from '../routing/tracker.js';
import { type GitHubRun, resumeGitHubRun, slugAt } from './open-run.js';
import type { ActionOutcome, PullRequestInfo, SkillPr } from './ports.js';
import { detectPullRequestSkills } from './pr-skills.js';
import {
  alreadyAnsweredOutcome,
  answeredAlready,
  askGate,
  defaultBranch,
  drive,
  missingKey,
  NOTE_MARKER,
  quiet,
  RESUME,
  type Steer,
  withCheckRun,
} from './session.js';
import type { Session } from './session-state.js';
import { knownSkillPr, skillPrAtHead } from './skill-pr.js';
import { type RunReport, renderJobSummary } from './summary.js';
import { TrackerSync } from './tracker-sync.js';

/**
 * Steering an existing run: `/optimize` commands on the skill PR or the chain PR, and reviews on
 * the chain PR (approve = the gate's default, pinned to its commit; request changes = directives).
 */

/** `/optimize …` on the skill PR (every run of it) or on a chain PR (its run). */
export async function commandOnPr(
  s: Session,
  prNumber: number,
  command: Exclude<ParsedCommand, { kind: 'start' | 'autopilot' }>,
  actor: string,
): Promise<ActionOutcome> {
  const pr = await s.deps.github.getPullRequest(prNumber);
  const tracker = chainTracker(pr);
  const targets = tracker
    ? [
        {
          skillPr: tracker.skill_pr,
          slug: tracker.slug,
          branch: pr.headRef,
          chainPr: pr.number,
          triggeredBy: tracker.triggered_by,
          pinned: tracker.pinned_sha,
          checkRun: tracker.check_run ?? null,
        },
      ]
    : null;
  if (targets === null) {
    // On the skill PR: find its runs through the chain PRs of the detected skills.
    return commandOnSkillPr(s, pr, command, actor);
  }
  const skillPr = await skillPrAtHead(s.deps, targets[0]?.skillPr ?? prNumber);
  return steerRuns(s, skillPr, targets, command, actor);
}

function chainTracker(pr: PullRequestInfo): TrackerState | null {
  if (!pr.headRef.startsWith('skill-optimizer/')) return null;
  return parseTrackerState(pr.body);
}

async function commandOnSkillPr(
  s: Session,
  pr: PullRequestInfo,
  command: Exclude<ParsedCommand, { kind: 'start' | 'autopilot' }>,
  actor: string,
): Promise<ActionOutcome> {
  const detected = await detectPullRequestSkills(s.deps, s.config, pr);
  if (detected.kind === 'none') return quiet('neutral', detected.message);
  const targets = [];
  for (const skillPath of detected.skills) {
    const slug = await slugAt(s.deps.context.workspace, detected.headSha, skillPath);
    const branch = workBranchName(pr.number, slug);
    const base = pr.isFork ? defaultBranch(s.deps.context.payload) : pr.headRef;
    const chain = await s.deps.github.findPullRequestByHead(branch, base);
    const state = chain === null ? null : parseTrackerState(chain.body);
    if (chain !== null && state !== null) {
      targets.push({
        skillPr: pr.number,
        slug,
        branch,
        chainPr: chain.number,
        triggeredBy: state.triggered_by,
        pinned: state.pinned_sha,
        checkRun: state.check_run ?? null,
      });
    }
  }
  if (targets.length === 0) {
    const message =
      'There is no Skill Optimizer run on this pull request yet; start one with `/optimize`.';
    await s.deps.github.upsertComment(pr.number, NOTE_MARKER, message);
    return quiet('neutral', message);
  }
  return steerRuns(s, knownSkillPr(pr), targets, command, actor);
}

interface Target {
  skillPr: number;
  slug: string;
  branch: string;
  chainPr: number;
  triggeredBy: string;
  pinned: string | null;
  /** The check run the run's last job reported on (from the tracker state). */
  checkRun: TrackerCheckRun | null;
}

/** A tracker for `run` reporting under `check`, registered with the session. */
function trackRun(s: Session, run: GitHubRun, target: Target, check: TrackerCheckRun): TrackerSync {
  const tracker = new TrackerSync(s.deps.github, run, {
    skillPr: target.skillPr,
    triggeredBy: target.triggeredBy,
  });
  tracker.chainPr = target.chainPr;
  tracker.checkRun = check;
  s.trackers.set(run.branch, tracker);
  return tracker;
}

/** The check run every target's last job reported on, when they name the same one. */
function sharedCheckRun(targets: Target[]): TrackerCheckRun | null {
  const first = targets[0]?.checkRun ?? null;
  if (first === null) return null;
  const same = targets.every(
    (t) => t.checkRun?.id === first.id && t.checkRun.head_sha === first.head_sha,
  );
  return same ? first : null;
}

async function steerRuns(
  s: Session,
  skillPr: SkillPr,
  targets: Target[],
  command: Exclude<ParsedCommand, { kind: 'start' | 'autopilot' }>,
  actor: string,
): Promise<ActionOutcome> {
  const unanswered: Target[] = [];
  for (const target of targets) {
    if (!(await answeredAlready(s, target))) unanswered.push(target);
  }
  if (unanswered.length === 0) return alreadyAnsweredOutcome(s);
  const needsModel = command.kind !== 'stop' && command.kind !== 'status';
  if (needsModel) {
    const absent = missingKey(s.deps);
    if (absent) return absent;
  }
  return withCheckRun(
    s,
    skillPr,
    async (check) => {
      const reports: RunReport[] = [];
      for (const target of unanswered) {
        const run = await resumeGitHubRun(s.place, { slug: target.slug, branch: target.branch });
        try {
          const tracker = trackRun(s, run, target, check);
          reports.push(await applyCommand(s, run, tracker, target, command, actor, skillPr));
        } finally {
          await run.close();
        }
      }
      return reports;
    },
    sharedCheckRun(unanswered),
  );
}

async function applyCommand(
  s: Session,
  run: GitHubRun,
  tracker: TrackerSync,
  target: Target,
  command: Exclude<ParsedCommand, { kind: 'start' | 'autopilot' }>,
  actor: string,
  skillPr: SkillPr,
): Promise<RunReport> {
  const now = s.deps.now();
  const drive_ = (steer?: Steer) =>
    drive(s, run, tracker, { actor, autopilot: false, skillPr, ...(steer ? { steer } : {}) });
  switch (command.kind) {
    case 'stop':
      await stopWithReport(s, run, tracker, actor);
      return idle(run, target, tracker);
    case 'status': {
      const report = await idle(run, target, tracker);
      await s.deps.github.upsertComment(target.chainPr, NOTE_MARKER, renderJobSummary([report]));
      return report;
    }
    case 'pick':
      return drive_(async () => {
        await pickFunctionalities(
          run.store,
          command.selection,
          describeSelection(command.selection),
          actor,
          now,
        );
      });
    case 'rerun':
      return drive_(async () => {
        await queueRerun(
          run.store,
          command.step,
          command.directive === null ? [] : [command.directive],
          actor,
          now,
        );
      });
    case 'approve':
      return approveGate(s, run, tracker, target, actor, skillPr);
    case 'answer':
      return approveGate(s, run, tracker, target, actor, skillPr, undefined, command.option);
  }
}

/**
 * `/optimize stop`: ends the run with its report, as the CLI's `stop` does. A run that benched
 * gets the non-convergence review, written by the model when this job has a key; without one the
 * report goes without it. A run that has ended already is left as it is.
 */
async function stopWithReport(
  s: Session,
  run: GitHubRun,
  tracker: TrackerSync,
  actor: string,
): Promise<void> {
  const state = await loadState({ store: run.store });
  if (state.status === 'done' || state.status === 'stopped') return;
  const log = (line: string) => s.deps.log.info(`${run.slug}: ${line}`);
  const onProgress = (line: string) => {
    log(line);
    tracker.progress(line);
  };
  const reason = `stopped by ${actor}`;
  if (state.benches.length === 0 || s.deps.inputs['anthropic-api-key'] === '') {
    const deps = recordOnlyDeps({
      store: run.store,
      repoRoot: run.local.worktreeDir,
      config: s.config,
      why: 'no Anthropic API key is available to this job, so the non-convergence review was not written',
      log,
      now: s.deps.now,
    });
    await stopRun(deps, reason, { onProgress, actor });
    return;
  }
  const access = await s.deps.openAccess({
    store: run.store,
    repoRoot: run.local.worktreeDir,
    config: s.config,
    log,
  });
  try {
    await stopRun(access.deps, reason, { onProgress, actor });
  } finally {
    await access.close();
  }
}

function describeSelection(selection: { all: true } | { top: number } | { ids: string[] }): string {
  if ('all' in selection) return 'all';
  if ('top' in selection) return `top ${selection.top}`;
  return selection.ids.join(',');
}

/** The run as it stands, with the tracker refreshed; nothing is driven. */
async function idle(run: GitHubRun, target: Target, tracker: TrackerSync): Promise<RunReport> {
  const state = await loadState({ store: run.store });
  await tracker.flush();
  return {
    slug: run.slug,
    branch: run.branch,
    chainPr: target.chainPr,
    status: state.status,
    message: state.stop_reason ?? state.open_gate?.question ?? state.status,
    state,
  };
}

/**
 * An approval (review or `/optimize approve`, which take the gate's default) or an answer
 * (`/optimize answer <option>`) counts only for the commit the gate was pinned to; when the
 * branch moved since, the gate is asked again at the new head.
 */
async function approveGate(
  s: Session,
  run: GitHubRun,
  tracker: TrackerSync,
  target: Target,
  actor: string,
  skillPr: SkillPr,
  reviewed?: string,
  option?: string,
): Promise<RunReport> {
  const state = await loadState({ store: run.store });
  const head = await run.store.head();
  const gate = state.open_gate;
  const approvedSha = reviewed ?? head;
  if (gate === null) {
    await s.deps.github.upsertComment(
      target.chainPr,
      NOTE_MARKER,
      `@${actor} there is no open gate to approve (status: ${state.status}).`,
    );
    return idle(run, target, tracker);
  }
  if (target.pinned === null || approvedSha !== target.pinned || head !== target.pinned) {
    await s.deps.github.upsertComment(
      target.chainPr,
      NOTE_MARKER,
      `@${actor} that approval is for ${approvedSha.slice(0, 12)}, but the \`${gate.id}\` gate was asked about ${target.pinned?.slice(0, 12) ?? 'no commit'}. It was not counted; please review the current head and approve again.`,
    );
    if (head !== target.pinned) {
      await s.deps.github.updatePullRequestBody(target.chainPr, await tracker.body(state));
      await askGate(s, run, target.chainPr, target.triggeredBy);
    }
    return { ...(await idle(run, target, tracker)), status: 'gate' };
  }
  return drive(s, run, tracker, {
    actor,
    autopilot: false,
    skillPr,
    steer: async (deps) => {
      await answerGate(deps, option ?? gate.default, { actor, resumeCommand: RESUME });
    },
  });
}

export async function reviewOnChainPr(
  s: Session,
  decision: Extract<RouteDecision, { kind: 'review' }>,
): Promise<ActionOutcome> {
  const tracker = decision.tracker;
  if (tracker === null || tracker.slug !== decision.slug || tracker.skill_pr !== decision.skillPr) {
    const message =
      'I could not read the run state from this pull request body, so the review was not counted. Comment `/optimize status` to restore it.';
    await s.deps.github.upsertComment(decision.chainPr, NOTE_MARKER, message);
    return quiet('ignored', message);
  }
  if (decision.state === 'approved' && decision.commitId !== tracker.pinned_sha) {
    const message = `@${decision.actor} that approval is for ${decision.commitId.slice(0, 12)}, but the gate was asked about ${tracker.pinned_sha?.slice(0, 12) ?? 'no commit'}. It was not counted; please approve the commit the gate review names.`;
    await s.deps.github.upsertComment(decision.chainPr, NOTE_MARKER, message);
    return quiet('ignored', message);
  }
  const absent = missingKey(s.deps);
  if (absent) return absent;
  const target: Target = {
    skillPr: decision.skillPr,
    slug: decision.slug,
    branch: workBranchName(decision.skillPr, decision.slug),
    chainPr: decision.chainPr,
    triggeredBy: tracker.triggered_by,
    pinned: tracker.pinned_sha,
    checkRun: tracker.check_run ?? null,
  };
  if (await answeredAlready(s, target)) return alreadyAnsweredOutcome(s);
  // The chain PR's tracker names the skill PR; its head comes from git, not the REST API.
  const skillPr = await skillPrAtHead(s.deps, decision.skillPr);
  return withCheckRun(
    s,
    skillPr,
    async (check) => {
      const run = await resumeGitHubRun(s.place, { slug: target.slug, branch: target.branch });
      try {
        const sync = trackRun(s, run, target, check);
        if (decision.state === 'approved') {
          return [
            await approveGate(s, run, sync, target, decision.actor, skillPr, decision.commitId),
          ];
        }
        const comments = await s.deps.github.listReviewComments(
          decision.chainPr,
          decision.reviewId,
        );
        const directives = [
          ...(decision.body === '' ? [] : [decision.body]),
          ...comments.map((c) =>
            c.path === null ? c.body : `${c.path}${c.line === null ? '' : `:${c.line}`}: ${c.body}`,
          ),
        ];
        const state = await loadState({ store: run.store });
        const step = state.open_gate?.step ?? state.last_error?.step;
        if (step === undefined || state.open_gate === null) {
          await s.deps.github.upsertComment(
            decision.chainPr,
            NOTE_MARKER,
            `@${decision.actor} no gate is open, so there is no step to re-run; use \`/optimize rerun <step> <directive>\`.`,
          );
          return [await idle(run, target, sync)];
        }
        const gatedStep = state.open_gate.step;
        return [
          await drive(s, run, sync, {
            actor: decision.actor,
            autopilot: false,
            skillPr,
            steer: async () => {
              await queueRerun(run.store, gatedStep, directives, decision.actor, s.deps.now());
            },
          }),
        ];
      } finally {
        await run.close();
      }
    },
    target.checkRun,
  );
}
