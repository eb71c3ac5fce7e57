import { workBranchName } from '../routing/branch.js';
import { parseTrackerState, type TrackerCheckRun } from '../routing/tracker.js';
import type { GitHubRun } from './open-run.js';
import { slugAt, startGitHubRun } from './open-run.js';
import type { ActionOutcome, PullRequestInfo } from './ports.js';
import { detectPullRequestSkills, fetchPullHead } from './pr-skills.js';
import { preflightRefusal } from './preflight.js';
import {
  alreadyAnsweredOutcome,
  answeredAlready,
  defaultBranch,
  drive,
  missingKey,
  NOTE_MARKER,
  quiet,
  withCheckRun,
} from './session.js';
import type { Session } from './session-state.js';
import { knownSkillPr } from './skill-pr.js';
import type { RunReport } from './summary.js';
import { TrackerSync } from './tracker-sync.js';

type ChainPr = { number: number; body: string | null };

/**
 * Starting (or resuming) the runs of a skill PR: one work branch and chain PR per changed skill.
 *
 * A start is pinned to one commit of the PR: `headSha`, the head the person acted on (the label
 * event's, or the App's `head_sha` input), else the head GitHub reports as the job starts. The job
 * vendors exactly that commit; when the PR head has moved past it, nothing runs and the PR is
 * asked to re-trigger on the new commit, so no one's code is run unseen. A fork's PR starts only
 * when a person acted on a named commit and the strong sandbox is verified on this runner.
 */
export async function startRuns(
  s: Session,
  prNumber: number,
  opts: {
    autopilot: boolean;
    intent: string | null;
    actor: string;
    skillPath: string | null;
    headSha: string | null;
  },
): Promise<ActionOutcome> {
  const absent = missingKey(s.deps);
  if (absent) return absent;
  const found = await s.deps.github.getPullRequest(prNumber);
  if (found.isFork) {
    const refused = await forkRefusal(s, found.number, opts.headSha);
    if (refused !== null) return refused;
  }
  const pinned = opts.headSha ?? found.headSha;
  const head = await fetchPullHead(s.deps, found.number);
  if (head !== pinned) return headMoved(s, found.number, pinned, head, opts.actor);
  const pr = { ...found, headSha: pinned };
  const detected = await detectPullRequestSkills(s.deps, s.config, pr, pinned);
  if (detected.kind === 'none') {
    await s.deps.github.upsertComment(pr.number, NOTE_MARKER, detected.message);
    return quiet('neutral', detected.message);
  }
  const skills =
    opts.skillPath === null ? detected.skills : detected.skills.filter((p) => p === opts.skillPath);
  if (skills.length === 0) {
    return quiet('neutral', `${opts.skillPath} is not a skill this pull request changes`);
  }
  const unanswered: Array<{ skillPath: string; branch: string }> = [];
  for (const skillPath of skills) {
    const slug = await slugAt(s.place.repoDir, pinned, skillPath);
    const branch = workBranchName(pr.number, slug);
    if (!(await answeredAlready(s, { slug, branch }))) unanswered.push({ skillPath, branch });
  }
  if (unanswered.length === 0) return alreadyAnsweredOutcome(s);
  // Before anything is written: no check run, branch, commit or chain PR for a run that cannot go.
  const unready = await preflightRefusal(s);
  if (unready) return unready;
  // A run started before has its chain PR, whose tracker names the check run to report on again.
  const base = pr.isFork ? defaultBranch(s.deps.context.payload) : pr.headRef;
  const chains = new Map<string, ChainPr | null>();
  for (const { branch } of unanswered) {
    chains.set(branch, await s.deps.github.findPullRequestByHead(branch, base));
  }
  const previous = sharedCheckRun([...chains.values()]);
  return withCheckRun(
    s,
    pr,
    async (check) => {
      const reports: RunReport[] = [];
      for (const { skillPath } of unanswered) {
        const run = await startGitHubRun(s.place, {
          pr: pr.number,
          skillPath,
          sourceSha: detected.headSha,
          intent: opts.intent,
          autopilot: opts.autopilot,
          actor: opts.actor,
          now: s.deps.now,
        });
        try {
          const tracker = new TrackerSync(s.deps.github, run, {
            skillPr: pr.number,
            triggeredBy: opts.actor,
          });
          s.trackers.set(run.branch, tracker);
          tracker.checkRun = check;
          tracker.chainPr = await ensureChainPr(s, run, pr, tracker, {
            base,
            found: chains.get(run.branch) ?? null,
          });
          reports.push(
            await drive(s, run, tracker, {
              actor: opts.actor,
              autopilot: opts.autopilot,
              skillPr: knownSkillPr(pr),
            }),
          );
        } finally {
          await run.close();
        }
      }
      return reports;
    },
    previous,
  );
}

async function notice(s: Session, pr: number, message: string): Promise<ActionOutcome> {
  s.deps.log.notice(message);
  await s.deps.github.upsertComment(pr, NOTE_MARKER, message);
  return quiet('neutral', message);
}

/** Why a fork's PR does not start here, or null when it may. */
async function forkRefusal(
  s: Session,
  pr: number,
  headSha: string | null,
): Promise<ActionOutcome | null> {
  if (headSha === null) {
    return notice(
      s,
      pr,
      `Skill Optimizer did not run: #${pr} comes from a fork, and a fork's code runs only for a commit a maintainer chose. Start it through the Skill Optimizer App (label or \`/optimize\`), or dispatch the workflow with the \`head_sha\` input set to the commit you reviewed.`,
    );
  }
  if (await s.deps.strongSandboxVerified()) return null;
  return notice(
    s,
    pr,
    `Skill Optimizer did not run: #${pr} comes from a fork, and a fork's code runs only inside the strong sandbox, which could not be verified on this runner. Nothing from the fork was run.`,
  );
}

/** The PR head moved after the person acted: nothing runs; they are asked to look again. */
async function headMoved(
  s: Session,
  pr: number,
  pinned: string,
  head: string,
  actor: string,
): Promise<ActionOutcome> {
  const message = `@${actor} Skill Optimizer did not run: the head of #${pr} moved to ${head.slice(0, 12)} after the run was asked for on ${pinned.slice(0, 12)}, and only the commit you acted on is ever run. Nothing was vendored. Review the new commit, then comment \`/optimize\` (or label the pull request again) to run on it.`;
  await s.deps.github.upsertComment(pr, NOTE_MARKER, message);
  return quiet('neutral', message);
}

/** The check run the tracker state of every found chain PR names, when it is one and the same. */
function sharedCheckRun(chains: Array<ChainPr | null>): TrackerCheckRun | null {
  const runs = chains.map((chain) =>
    chain === null ? null : (parseTrackerState(chain.body)?.check_run ?? null),
  );
  const first = runs[0] ?? null;
  if (first === null) return null;
  const same = runs.every((r) => r?.id === first.id && r.head_sha === first.head_sha);
  return same ? first : null;
}

/**
 * The draft chain PR from the work branch into `base`, the skill PR's head (the default branch
 * for forks): the one `found` there before the job started, else a new one.
 */
async function ensureChainPr(
  s: Session,
  run: GitHubRun,
  pr: PullRequestInfo,
  tracker: TrackerSync,
  where: { base: string; found: ChainPr | null },
): Promise<number> {
  const { base, found } = where;
  if (found !== null) {
    tracker.known(found.body);
    return found.number;
  }
  const body = await tracker.body();
  const created = await s.deps.github.createDraftPullRequest({
    head: run.branch,
    base,
    title: `Skill Optimizer: ${run.slug} (#${pr.number})`,
    body,
  });
  tracker.known(body);
  return created.number;
}
