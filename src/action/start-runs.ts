import type { GitHubRun } from './open-run.js';
import { startGitHubRun } from './open-run.js';
import type { ActionOutcome, PullRequestInfo } from './ports.js';
import { detectPullRequestSkills } from './pr-skills.js';
import {
  defaultBranch,
  drive,
  missingKey,
  NOTE_MARKER,
  quiet,
  type Session,
  withCheckRun,
} from './session.js';
import type { RunReport } from './summary.js';
import { TrackerSync } from './tracker-sync.js';

/** Starting (or resuming) the runs of a skill PR: one work branch and chain PR per changed skill. */

export async function startRuns(
  s: Session,
  prNumber: number,
  opts: { autopilot: boolean; intent: string | null; actor: string; skillPath: string | null },
): Promise<ActionOutcome> {
  const absent = missingKey(s.deps);
  if (absent) return absent;
  const pr = await s.deps.github.getPullRequest(prNumber);
  const detected = await detectPullRequestSkills(s.deps, s.config, pr);
  if (detected.kind === 'none') {
    await s.deps.github.upsertComment(pr.number, NOTE_MARKER, detected.message);
    return quiet('neutral', detected.message);
  }
  const skills =
    opts.skillPath === null ? detected.skills : detected.skills.filter((p) => p === opts.skillPath);
  if (skills.length === 0) {
    return quiet('neutral', `${opts.skillPath} is not a skill this pull request changes`);
  }
  return withCheckRun(s, pr, async () => {
    const reports: RunReport[] = [];
    for (const skillPath of skills) {
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
        tracker.chainPr = await ensureChainPr(s, run, pr, tracker);
        reports.push(
          await drive(s, run, tracker, {
            actor: opts.actor,
            autopilot: opts.autopilot,
            skillPr: pr,
          }),
        );
      } finally {
        await run.close();
      }
    }
    return reports;
  });
}

/** The draft chain PR from the work branch into the skill PR's head (the default branch for forks). */
async function ensureChainPr(
  s: Session,
  run: GitHubRun,
  pr: PullRequestInfo,
  tracker: TrackerSync,
): Promise<number> {
  const base = pr.isFork ? defaultBranch(s.deps.context.payload) : pr.headRef;
  const found = await s.deps.github.findPullRequestByHead(run.branch, base);
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
