import { type PublishPlan, planPublication } from '../chain/publish.js';
import { SkillOptimizerError } from '../errors.js';
import { escapeInline } from '../routing/markdown.js';
import { ACTION_AUTHOR, type GitHubRun } from './open-run.js';
import type { SkillPr } from './ports.js';
import type { Published } from './publish.js';
import type { Session } from './session-state.js';
import type { TrackerSync } from './tracker-sync.js';

/**
 * Publishing a finished run from the Action: plan it from the run store, carry it out through the
 * publisher, and tell the human on the chain PR — a section in the tracker body, and (when there
 * is something to read or do) a marked comment that mentions them, with the CLA called out and,
 * after a failure, the command that tries again.
 */

export const PUBLISH_MARKER = '<!-- skill-optimizer:publish -->';

export interface PublishReport {
  /** Set when publishing failed: the job fails with this message. */
  failure: string | null;
  /** One line for the job's message, e.g. "draft PR: <url>". */
  line: string;
}

export async function publishFinishedRun(
  s: Session,
  run: GitHubRun,
  tracker: TrackerSync,
  opts: { chainPr: number; skillPr: SkillPr; actor: string; resume: string },
): Promise<PublishReport> {
  const { context } = s.deps;
  const chainPrUrl = `${context.serverUrl}/${context.owner}/${context.repo}/pull/${opts.chainPr}`;
  const decision = await planPublication(run.store, {
    skillPr: opts.skillPr.number,
    chainPr: opts.chainPr,
    chainPrUrl,
  });
  if (decision.kind === 'skip') {
    tracker.publication = `### Publishing\n\nNothing to publish: ${escapeInline(decision.reason, 400)}.\n`;
    return { failure: null, line: `not published: ${decision.reason}` };
  }
  if (decision.kind === 'refuse') {
    const note = `### Publishing\n\nNot published: ${escapeInline(decision.reason, 600)}.\n`;
    await tell(s, tracker, opts, note);
    return { failure: null, line: `not published: ${decision.reason}` };
  }
  const plan = decision.plan;
  let published: Published;
  try {
    published = await s.deps.publisher.publish(plan, {
      owner: context.owner,
      repo: context.repo,
      skillPr: () => opts.skillPr.read(),
      serverUrl: context.serverUrl,
      author: ACTION_AUTHOR,
    });
  } catch (error) {
    if (!(error instanceof SkillOptimizerError)) throw error;
    const failure = `publishing the improved skill failed: ${error.message}`;
    const note = [
      '### Publishing failed',
      '',
      escapeInline(error.message, 600),
      '',
      `The branch \`${plan.branch}\` holds either no commit of the improved skill or one whole commit of it; nothing was marked ready or merged.`,
      '',
      `**Retry:** ${opts.resume} — publishing picks up the branch and the pull request where they are.`,
      '',
    ].join('\n');
    await tell(s, tracker, opts, note);
    return { failure: `${failure}\n\nRetry: ${opts.resume}`, line: failure };
  }
  await tell(s, tracker, opts, renderPublished(plan, published));
  return { failure: null, line: `draft PR: ${published.url}` };
}

/** Sets the tracker section and upserts the comment that mentions the human. */
async function tell(
  s: Session,
  tracker: TrackerSync,
  opts: { chainPr: number; actor: string },
  note: string,
): Promise<void> {
  tracker.publication = note;
  const mention = opts.actor.endsWith('[bot]') ? '' : `@${escapeInline(opts.actor, 60)} `;
  await s.deps.github.upsertComment(
    opts.chainPr,
    PUBLISH_MARKER,
    `${PUBLISH_MARKER}\n${note.replace(/^### .*\n\n/, (title) => `${title}${mention}`)}`,
  );
}

export function renderPublished(plan: PublishPlan, p: Published): string {
  const pct = (v: number | null) => (v === null ? '—' : `${v}%`);
  const state = p.created ? 'opened' : p.committed ? 'updated' : 'unchanged';
  const lines = [
    '### Published',
    '',
    `Draft pull request ${state}: ${p.url} — \`${p.head}\` → \`${p.base}\` in \`${p.repo}\`${p.forked ? ' (from a fork)' : ''}. Bench pass rate ${pct(plan.gain.first.pass_rate)} → ${pct(plan.gain.last.pass_rate)}. It changes only \`${plan.skillPath}\`; Skill Optimizer never marks it ready or merges it.`,
    '',
  ];
  const target = plan.target;
  if (target.kind === 'upstream') {
    if (target.requiresCla) {
      lines.push(
        `> [!IMPORTANT]`,
        `> **CLA required:** step 2 found that \`${target.owner}/${target.repo}\` requires a Contributor License Agreement. A human must sign it before the pull request can be merged.`,
        '',
      );
    }
    const c = target.conventions;
    lines.push(
      '**Before you mark it ready**, check it against the conventions step 2 read:',
      '',
      `- License: ${escapeInline(target.license, 80)}`,
      ...(c.title ? [`- Title: ${escapeInline(c.title, 300)}`] : []),
      ...(c.description ? [`- Description: ${escapeInline(c.description, 300)}`] : []),
      ...(c.commits ? [`- Commits: ${escapeInline(c.commits, 300)}`] : []),
      ...(c.frontmatter ? [`- SKILL.md frontmatter: ${escapeInline(c.frontmatter, 300)}`] : []),
      '',
    );
  }
  return lines.join('\n');
}
