import { z } from 'zod';
import { CONFIG_PATH, MAX_CONFIG_BYTES, parseConfig } from '../config/load.js';
import { type Config, defaultConfig } from '../config/schema.js';
import { InvalidFileError } from '../errors.js';
import { parseWorkBranch, WORK_BRANCH_PREFIX } from '../routing/branch.js';
import {
  COMMAND_PREFIX,
  formatCommand,
  type ParsedCommand,
  parseOptimizeCommand,
} from '../routing/commands.js';
import { commandKey, deliveryKey, type RecentEvents, reviewKey } from '../routing/dedupe.js';
import { escapeInline } from '../routing/markdown.js';
import { type RouteDecision, routeEvent } from '../routing/route.js';
import { type ChainPullState, renderStatusReply } from '../routing/status-reply.js';
import { parseTrackerState } from '../routing/tracker.js';
import type { AppPort, PullSummary, Repo } from './github-port.js';

/**
 * The App's part of the work (docs/chain.md, docs/security.md): deduplicate (before the delivery
 * is answered: `acceptEvent`), then, after the answer (`handleAccepted`), read the config from
 * the default branch, route (which authorises), then either reply on the PR (refusals,
 * `/optimize status`, stale approvals) or start the chain in GitHub Actions with one
 * `workflow_dispatch`. Nothing here runs a step.
 */

export const WORKFLOW_FILE = 'skill-optimizer.yml';

export const MARKERS = {
  refusal: '<!-- skill-optimizer:refusal -->',
  status: '<!-- skill-optimizer:status -->',
  config: '<!-- skill-optimizer:config-error -->',
  review: '<!-- skill-optimizer:review-answer -->',
  failure: '<!-- skill-optimizer:start-failure -->',
} as const;

export interface HandlerSettings {
  selfLogin: string;
  recent: RecentEvents;
  workflowFile: string;
}

export interface WebhookEvent {
  id: string;
  name: string;
  payload: unknown;
}

export type HandleOutcome =
  | { kind: 'duplicate'; key: string }
  | { kind: 'ignored'; reason: string }
  | { kind: 'replied'; issueNumber: number; marker: string; reason: string }
  | { kind: 'dispatched'; inputs: DispatchInputs };

/**
 * The inputs of the chain workflow (examples/workflows/skill-optimizer.yml declares each one).
 * `actor` is the person whose label, comment or review this is: the run is dispatched by the App,
 * but decisions are recorded under that person's name.
 */
export interface DispatchInputs extends Record<string, string> {
  pr: string;
  command: string;
  actor: string;
}

/**
 * `headSha` (input `head_sha`) pins a start to the PR head the person acted on: the job vendors
 * exactly that commit, and does nothing but say so when the PR has moved on since.
 */
export function dispatchInputs(args: {
  pr: number;
  command: ParsedCommand;
  actor: string;
  skill?: string | null;
  commentId?: number | null;
  reviewId?: number | null;
  headSha?: string | null;
}): DispatchInputs {
  return {
    pr: String(args.pr),
    command: formatCommand(args.command),
    actor: args.actor,
    ...(args.skill ? { skill: args.skill } : {}),
    ...(args.commentId ? { comment_id: String(args.commentId) } : {}),
    ...(args.reviewId ? { review_id: String(args.reviewId) } : {}),
    ...(args.headSha ? { head_sha: args.headSha } : {}),
  };
}

const repositorySchema = z.looseObject({
  name: z.string().min(1),
  default_branch: z.string().min(1),
  owner: z.looseObject({ login: z.string().min(1) }),
});

const prefilter = z.looseObject({
  action: z.string().optional(),
  comment: z.looseObject({ id: z.number(), body: z.string().nullable() }).optional(),
  review: z.looseObject({ id: z.number() }).optional(),
  pull_request: z
    .looseObject({ number: z.number(), head: z.looseObject({ ref: z.string() }) })
    .optional(),
  issue: z.looseObject({ number: z.number() }).optional(),
  repository: repositorySchema,
});
type Prefiltered = z.infer<typeof prefilter>;

/** Events that cannot lead anywhere are dropped before any GitHub call (config, permission). */
function mightAct(name: string, event: Prefiltered): boolean {
  if (name === 'pull_request') return event.action === 'labeled';
  if (name === 'issue_comment') {
    return (
      event.action === 'created' &&
      (event.comment?.body ?? '').toLowerCase().includes(COMMAND_PREFIX)
    );
  }
  if (name === 'pull_request_review') {
    return (
      event.action === 'submitted' &&
      (event.pull_request?.head.ref ?? '').startsWith(WORK_BRANCH_PREFIX)
    );
  }
  return false;
}

/** The config on the default branch: a PR cannot change who may steer it or which labels count. */
async function loadRepoConfig(port: AppPort, repo: Repo, ref: string): Promise<Config> {
  const text = await port.readFile(repo, ref, CONFIG_PATH);
  if (text === null) return defaultConfig();
  if (text.length > MAX_CONFIG_BYTES) {
    throw new InvalidFileError(CONFIG_PATH, `is larger than ${MAX_CONFIG_BYTES} bytes`);
  }
  return parseConfig(text, CONFIG_PATH);
}

/**
 * The delivery id, plus the comment or review id for commands and reviews, are claimed together
 * before any GitHub call: a redelivery, or the same comment arriving under a new delivery id,
 * starts nothing twice. A failure releases them so GitHub's redelivery can try again.
 */
function dedupeKeys(event: WebhookEvent, shape: Prefiltered): string[] {
  const keys = [deliveryKey(event.id)];
  if (event.name === 'issue_comment' && shape.comment !== undefined)
    keys.push(commandKey(shape.comment.id));
  if (event.name === 'pull_request_review' && shape.review !== undefined)
    keys.push(reviewKey(shape.review.id));
  return keys;
}

/** A delivery that may act, its dedupe keys claimed: the GitHub work is still to do. */
export interface AcceptedEvent {
  kind: 'accepted';
  event: WebhookEvent;
  keys: string[];
  /** The PR or issue the event is about, where failures are reported; null when none. */
  issueNumber: number | null;
  repo: Repo;
  shape: Prefiltered;
}

/**
 * The part of handling done before the delivery is answered: no GitHub call, no I/O. Drops
 * events that cannot act and claims the dedupe keys of the others, so a redelivery that arrives
 * while the first is still being worked on is already a duplicate.
 */
export function acceptEvent(
  event: WebhookEvent,
  recent: RecentEvents,
): AcceptedEvent | Extract<HandleOutcome, { kind: 'ignored' | 'duplicate' }> {
  const shape = prefilter.safeParse(event.payload);
  if (!shape.success || !mightAct(event.name, shape.data)) {
    return { kind: 'ignored', reason: `${event.name} cannot start or steer a run` };
  }
  const keys = dedupeKeys(event, shape.data);
  if (!recent.claim(keys)) {
    return { kind: 'duplicate', key: keys.find((key) => recent.has(key)) ?? keys[0] ?? '' };
  }
  const repository = shape.data.repository;
  return {
    kind: 'accepted',
    event,
    keys,
    issueNumber: shape.data.issue?.number ?? shape.data.pull_request?.number ?? null,
    repo: { owner: repository.owner.login, repo: repository.name },
    shape: shape.data,
  };
}

/**
 * The GitHub work of an accepted delivery: config, routing (which asks for the sender's
 * permission), then a reply or a dispatch. On a failure the caller releases `accepted.keys`, so
 * GitHub's redelivery can try again.
 */
export function handleAccepted(
  accepted: AcceptedEvent,
  port: AppPort,
  settings: HandlerSettings,
): Promise<HandleOutcome> {
  return handleOnce(accepted.event, accepted.shape, port, settings);
}

async function handleOnce(
  event: WebhookEvent,
  shape: Prefiltered,
  port: AppPort,
  settings: HandlerSettings,
): Promise<HandleOutcome> {
  const repository = shape.repository;
  const repo = { owner: repository.owner.login, repo: repository.name };
  let config: Config;
  try {
    config = await loadRepoConfig(port, repo, repository.default_branch);
  } catch (error) {
    if (!(error instanceof InvalidFileError)) throw error;
    const issueNumber = shape.issue?.number ?? shape.pull_request?.number;
    if (issueNumber === undefined) return { kind: 'ignored', reason: error.message };
    const body = `Skill Optimizer cannot act: \`${CONFIG_PATH}\` on ${escapeInline(repository.default_branch)} is invalid.\n\n\`\`\`\n${error.message.replace(/`/g, "'")}\n\`\`\``;
    return reply(port, repo, issueNumber, MARKERS.config, body, 'invalid config');
  }
  const decision = await routeEvent({
    name: event.name,
    payload: event.payload,
    deliveryId: event.id,
    config,
    selfLogin: settings.selfLogin,
    permissionOf: (login) => port.permissionOf(repo, login),
  });
  return act(decision, port, settings, config);
}

async function reply(
  port: AppPort,
  repo: Repo,
  issueNumber: number,
  marker: string,
  body: string,
  reason: string,
): Promise<HandleOutcome> {
  await port.upsertComment(repo, issueNumber, marker, body);
  return { kind: 'replied', issueNumber, marker, reason };
}

async function dispatch(
  port: AppPort,
  settings: HandlerSettings,
  repo: Repo,
  ref: string,
  inputs: DispatchInputs,
): Promise<HandleOutcome> {
  await port.dispatch(repo, settings.workflowFile, ref, inputs);
  return { kind: 'dispatched', inputs };
}

async function act(
  decision: RouteDecision,
  port: AppPort,
  settings: HandlerSettings,
  config: Config,
): Promise<HandleOutcome> {
  switch (decision.kind) {
    case 'ignore':
      return { kind: 'ignored', reason: decision.reason };
    case 'refuse': {
      const { owner, repo, issueNumber } = decision.target;
      return reply(
        port,
        { owner, repo },
        issueNumber,
        MARKERS.refusal,
        decision.reply,
        decision.reason,
      );
    }
    case 'dispatch':
      return { kind: 'ignored', reason: 'workflow_dispatch runs in the Action, not the App' };
    case 'start': {
      const repo = { owner: decision.repository.owner, repo: decision.repository.repo };
      const command: ParsedCommand = decision.autopilot
        ? { kind: 'autopilot' }
        : { kind: 'start', text: decision.intent ?? '' };
      // A label names the head it was put on; for a comment, the head as the App reads it now.
      const headSha = decision.headSha ?? (await port.getPull(repo, decision.pr)).headSha;
      const inputs = dispatchInputs({
        pr: decision.pr,
        command,
        actor: decision.actor,
        commentId: decision.commentId,
        headSha,
      });
      return dispatch(port, settings, repo, decision.repository.defaultBranch, inputs);
    }
    case 'command': {
      const repo = { owner: decision.repository.owner, repo: decision.repository.repo };
      if (decision.command.kind === 'status') {
        const runs = await chainPulls(port, repo, decision.pr);
        const body = renderStatusReply(decision.pr, runs, config.labels.run);
        return reply(port, repo, decision.pr, MARKERS.status, body, 'status');
      }
      if (decision.command.kind === 'approve' || decision.command.kind === 'answer') {
        const closed = await closedGate(port, repo, decision.pr);
        if (closed !== null) {
          const body = `@${escapeInline(decision.actor, 60)} ${closed} so \`${formatCommand(decision.command)}\` has nothing to answer. Comment \`/optimize status\` to see where the run is.`;
          return reply(port, repo, decision.pr, MARKERS.review, body, 'no open gate');
        }
      }
      const inputs = dispatchInputs({
        pr: decision.pr,
        command: decision.command,
        actor: decision.actor,
        commentId: decision.commentId,
      });
      return dispatch(port, settings, repo, decision.repository.defaultBranch, inputs);
    }
    case 'review':
      return actOnReview(decision, port, settings);
  }
}

type ReviewDecision = Extract<RouteDecision, { kind: 'review' }>;

/**
 * Approve passes the open gate, but only for the commit the gate asked about; request changes
 * re-runs the gated step with the review's text and inline comments as directives.
 */
async function actOnReview(
  decision: ReviewDecision,
  port: AppPort,
  settings: HandlerSettings,
): Promise<HandleOutcome> {
  const repo = { owner: decision.repository.owner, repo: decision.repository.repo };
  const tracker = decision.tracker;
  if (tracker === null || tracker.skill_pr !== decision.skillPr || tracker.slug !== decision.slug) {
    return {
      kind: 'ignored',
      reason: `#${decision.chainPr} has no readable tracker state for its branch`,
    };
  }
  if (tracker.open_gate === null || tracker.gate_step === null) {
    return { kind: 'ignored', reason: `no gate is open on #${decision.chainPr}` };
  }
  const ref = decision.repository.defaultBranch;
  if (decision.state === 'approved') {
    if (decision.commitId !== tracker.pinned_sha) {
      const asked =
        tracker.pinned_sha === null
          ? 'an unknown commit'
          : `commit ${tracker.pinned_sha.slice(0, 7)}`;
      const body = `This approval is for commit ${decision.commitId.slice(0, 7)}, but the \`${tracker.open_gate}\` gate asked about ${asked}. The work branch changed since the gate was asked; review the current state and approve again (or comment \`/optimize approve\`).`;
      return reply(port, repo, decision.chainPr, MARKERS.review, body, 'stale approval');
    }
    const inputs = dispatchInputs({
      pr: decision.skillPr,
      command: { kind: 'approve' },
      actor: decision.actor,
      skill: tracker.skill_path,
      reviewId: decision.reviewId,
    });
    return dispatch(port, settings, repo, ref, inputs);
  }
  const notes = await port.reviewNotes(repo, decision.chainPr, decision.reviewId);
  const directives = [
    decision.body,
    ...notes.map(
      (note) => `${note.path}${note.line === null ? '' : `:${note.line}`}: ${note.body}`,
    ),
  ].filter((text) => text.trim() !== '');
  // The directives in a paragraph of their own: no line of a review can turn the command into
  // a heading or code.
  const parsed = parseOptimizeCommand(
    `${COMMAND_PREFIX} rerun ${tracker.gate_step}\n\n${directives.join('\n')}`,
  );
  if (parsed === null || parsed.kind === 'invalid') {
    return { kind: 'ignored', reason: `cannot re-run ${tracker.gate_step} from this review` };
  }
  const inputs = dispatchInputs({
    pr: decision.skillPr,
    command: parsed,
    actor: decision.actor,
    skill: tracker.skill_path,
    reviewId: decision.reviewId,
  });
  return dispatch(port, settings, repo, ref, inputs);
}

/**
 * Why `/optimize approve` or `/optimize answer <option>` on chain PR `pr` has nothing to answer
 * (its tracker shows no open gate), or null when it may: on a skill PR, or with a gate open. The
 * commit pin is the Action's to check, against the work branch head when the job runs: it counts
 * the answer only while that head is the commit the gate asked about (and asks the gate again
 * when the branch moved), so the answer never applies to a commit the person did not see.
 */
async function closedGate(port: AppPort, repo: Repo, pr: number): Promise<string | null> {
  const chain = asChainPull(repo, await port.getPull(repo, pr));
  // On a skill PR the Action checks each of its runs; an unreadable tracker it reports itself.
  if (chain?.state == null || chain.state.open_gate !== null) return null;
  return `no gate is open on #${pr} (the run is ${chain.state.status}),`;
}

/** A chain PR of this repository with its tracker state (null when unreadable); null if not one. */
function asChainPull(repo: Repo, pull: PullSummary): ChainPullState | null {
  const fullName = `${repo.owner}/${repo.repo}`.toLowerCase();
  const branch = parseWorkBranch(pull.headRef);
  if (branch === null || pull.headRepoFullName?.toLowerCase() !== fullName) return null;
  const state = parseTrackerState(pull.body);
  const matches = state !== null && state.skill_pr === branch.pr && state.slug === branch.slug;
  return { number: pull.number, state: matches ? state : null };
}

/** The chain PRs of a PR: itself when it is one, else the open chain PRs into its head branch. */
async function chainPulls(port: AppPort, repo: Repo, pr: number): Promise<ChainPullState[]> {
  const pull = await port.getPull(repo, pr);
  const own = asChainPull(repo, pull);
  if (own !== null) return [own];
  const into = await port.listPullsInto(repo, pull.headRef);
  return into
    .filter((p) => parseWorkBranch(p.headRef)?.pr === pr)
    .sort((a, b) => a.number - b.number)
    .map((p) => asChainPull(repo, p))
    .filter((p) => p !== null);
}
