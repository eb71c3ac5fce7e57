import { type ActorType, canSteer, type Permission } from '../config/access.js';
import type { Config } from '../config/schema.js';
import { sanitizeUntrusted } from '../text/sanitize.js';
import { parseWorkBranch } from './branch.js';
import { type ParsedCommand, parseOptimizeCommand } from './commands.js';
import { escapeInline } from './markdown.js';
import {
  commentPayload,
  dispatchPayload,
  eventAction,
  labeledPayload,
  type Repository,
  reviewPayload,
  type Sender,
} from './payloads.js';
import { ROOT_FOLDER } from './skills.js';
import { loginSchema, parseTrackerState, type TrackerState } from './tracker.js';

/**
 * Webhook event → what to do (docs/chain.md, docs/security.md), shared by the App and the
 * Action. Pure apart from `permissionOf`, which is asked only once an event would act and its
 * sender is a person. Payloads are untrusted: only the fields read here are validated (their
 * schemas are in payloads.ts), and any payload that does not have them is ignored.
 */

export interface RepoRef {
  owner: string;
  repo: string;
  defaultBranch: string;
}

export interface IssueTarget {
  owner: string;
  repo: string;
  issueNumber: number;
}

export type RouteDecision =
  | { kind: 'ignore'; reason: string }
  | { kind: 'refuse'; reason: string; reply: string; target: IssueTarget }
  | {
      kind: 'start';
      repository: RepoRef;
      pr: number;
      autopilot: boolean;
      intent: string | null;
      actor: string;
      /** The triggering comment, when a comment (not a label) started the run. */
      commentId: number | null;
      /**
       * The PR head commit the person acted on (a label event names it; a comment does not, so
       * it is null and the job pins the head it reads first).
       */
      headSha: string | null;
    }
  | {
      kind: 'command';
      repository: RepoRef;
      pr: number;
      command: Exclude<ParsedCommand, { kind: 'start' | 'autopilot' }>;
      actor: string;
      commentId: number;
    }
  | {
      kind: 'review';
      repository: RepoRef;
      chainPr: number;
      /** The skill PR and run slug, from the chain PR's work branch name. */
      skillPr: number;
      slug: string;
      state: 'approved' | 'changes_requested';
      /** The commit reviewed; the caller compares it with the gate's pinned SHA. */
      commitId: string;
      reviewId: number;
      /** The review's own text, sanitised. */
      body: string;
      /** The chain PR's tracker state; null when its body has none (or a tampered one). */
      tracker: TrackerState | null;
      actor: string;
    }
  | {
      kind: 'dispatch';
      repository: RepoRef;
      pr: number;
      skillPath: string | null;
      command: ParsedCommand;
      commentId: number | null;
      /** The review the App acted on (approve or request changes on a chain PR), if one. */
      reviewId: number | null;
      /**
       * Who decided, as recorded in chain.yml: the `actor` input when a bot dispatched (the App
       * names the person whose label, comment or review it acted on), else whoever dispatched.
       */
      actor: string;
      /** The `head_sha` input: the PR head commit the person acted on, which a start vendors. */
      headSha: string | null;
    };

export interface RouteInput {
  name: string;
  payload: unknown;
  /** The webhook delivery id; deduplication is the caller's (see dedupe.ts). */
  deliveryId: string;
  config: Pick<Config, 'labels' | 'allowed_bots'>;
  /** This app's login (`<slug>[bot]`); its own events never trigger it. */
  selfLogin: string;
  permissionOf(login: string): Promise<Permission | null>;
}

function repoRef(repo: Repository): RepoRef {
  return { owner: repo.owner.login, repo: repo.name, defaultBranch: repo.default_branch };
}

function ignore(reason: string): RouteDecision {
  return { kind: 'ignore', reason };
}

function actorType(type: string): ActorType {
  return type === 'Bot' || type === 'Organization' ? type : 'User';
}

type Authorised = { ok: true } | { ok: false; decision: RouteDecision };

/**
 * The app itself and bots not in `allowed_bots` are ignored without a word (answering a bot can
 * loop); a person without write, maintain or admin permission is refused politely.
 */
async function authorise(
  input: RouteInput,
  who: Sender,
  target: IssueTarget,
  what: string,
): Promise<Authorised> {
  const type = actorType(who.type);
  const isSelf = who.login.toLowerCase() === input.selfLogin.toLowerCase();
  const base = {
    actorType: type,
    login: who.login,
    allowedBots: input.config.allowed_bots,
    selfLogin: input.selfLogin,
  };
  if (type === 'Bot' || isSelf) {
    const verdict = canSteer({ ...base, permission: null });
    return verdict.allowed ? { ok: true } : { ok: false, decision: ignore(verdict.reason) };
  }
  const verdict = canSteer({ ...base, permission: await input.permissionOf(who.login) });
  if (verdict.allowed) return { ok: true };
  return {
    ok: false,
    decision: {
      kind: 'refuse',
      reason: verdict.reason,
      reply: refusalReply(who.login, what),
      target,
    },
  };
}

export function refusalReply(login: string, what: string): string {
  return [
    `Thanks, @${escapeInline(login, 60)}! Only people with write, maintain or admin access to this`,
    `repository can start or steer Skill Optimizer, so I did not act on this ${what}.`,
    'A maintainer can run it for you.',
  ].join(' ');
}

function invalidReply(login: string, reason: string): string {
  return `@${escapeInline(login, 60)} I could not read that command: ${escapeInline(reason, 600)}`;
}

export async function routeEvent(input: RouteInput): Promise<RouteDecision> {
  const action = eventAction.safeParse(input.payload);
  const name = action.success ? `${input.name}.${action.data.action}` : input.name;
  switch (name) {
    case 'pull_request.labeled':
      return routeLabel(input);
    case 'issue_comment.created':
      return routeComment(input);
    case 'issue_comment.edited':
    case 'issue_comment.deleted':
      return ignore('comments edited or deleted after the trigger are ignored');
    case 'pull_request_review.submitted':
      return routeReview(input);
    default:
      return input.name === 'workflow_dispatch'
        ? routeDispatch(input)
        : ignore(`${name} is not handled`);
  }
}

async function routeLabel(input: RouteInput): Promise<RouteDecision> {
  const parsed = labeledPayload.safeParse(input.payload);
  if (!parsed.success) return ignore('pull_request.labeled payload without the expected fields');
  const { label, pull_request: pr, repository: repo } = parsed.data;
  const { labels } = input.config;
  if (label.name !== labels.run && label.name !== labels.autopilot) {
    return ignore(`label '${label.name}' is not a Skill Optimizer label`);
  }
  if (pr.state !== 'open') return ignore(`pull request #${pr.number} is not open`);
  if (parseWorkBranch(pr.head.ref) !== null) {
    return ignore(`#${pr.number} is a chain PR; label the skill PR instead`);
  }
  const target = { owner: repo.owner.login, repo: repo.name, issueNumber: pr.number };
  const auth = await authorise(input, parsed.data.sender, target, 'label');
  if (!auth.ok) return auth.decision;
  return {
    kind: 'start',
    repository: repoRef(repo),
    pr: pr.number,
    autopilot: label.name === labels.autopilot,
    intent: null,
    actor: parsed.data.sender.login,
    commentId: null,
    headSha: pr.head.sha,
  };
}

async function routeComment(input: RouteInput): Promise<RouteDecision> {
  const parsed = commentPayload.safeParse(input.payload);
  if (!parsed.success) return ignore('issue_comment payload without the expected fields');
  const { issue, comment, repository: repo, sender: who } = parsed.data;
  if (issue.pull_request === undefined || issue.pull_request === null) {
    return ignore(`#${issue.number} is an issue, not a pull request`);
  }
  const command = parseOptimizeCommand(comment.body ?? '');
  if (command === null) return ignore('no /optimize command in the comment');
  const target = { owner: repo.owner.login, repo: repo.name, issueNumber: issue.number };
  const auth = await authorise(input, who, target, 'command');
  if (!auth.ok) return auth.decision;
  const common = {
    repository: repoRef(repo),
    pr: issue.number,
    actor: who.login,
    commentId: comment.id,
  };
  switch (command.kind) {
    case 'invalid':
      return {
        kind: 'refuse',
        reason: command.reason,
        reply: invalidReply(who.login, command.reason),
        target,
      };
    case 'start':
      return {
        kind: 'start',
        ...common,
        autopilot: false,
        intent: command.text === '' ? null : command.text,
        headSha: null,
      };
    case 'autopilot':
      return { kind: 'start', ...common, autopilot: true, intent: null, headSha: null };
    default:
      return { kind: 'command', ...common, command };
  }
}

async function routeReview(input: RouteInput): Promise<RouteDecision> {
  const parsed = reviewPayload.safeParse(input.payload);
  if (!parsed.success) return ignore('pull_request_review payload without the expected fields');
  const { review, pull_request: pr, repository: repo, sender: who } = parsed.data;
  const branch = parseWorkBranch(pr.head.ref);
  if (branch === null) return ignore(`#${pr.number} is not a chain PR`);
  if (pr.head.repo?.full_name !== repo.full_name) {
    return ignore(`#${pr.number} comes from another repository; chain PRs never do`);
  }
  const state = review.state.toLowerCase();
  if (state !== 'approved' && state !== 'changes_requested') {
    return ignore(`a ${state} review decides no gate`);
  }
  const target = { owner: repo.owner.login, repo: repo.name, issueNumber: pr.number };
  const auth = await authorise(input, who, target, 'review');
  if (!auth.ok) return auth.decision;
  return {
    kind: 'review',
    repository: repoRef(repo),
    chainPr: pr.number,
    skillPr: branch.pr,
    slug: branch.slug,
    state,
    commitId: review.commit_id,
    reviewId: review.id,
    body: sanitizeUntrusted(review.body ?? '').trim(),
    tracker: parseTrackerState(pr.body),
    actor: who.login,
  };
}

/**
 * Dispatches need write access to create, so the inputs are checked, not the sender. The `actor`
 * input is believed only from a bot (the App dispatching on someone's behalf); a person who
 * dispatches by hand is recorded as themselves, whatever the input says.
 */
function routeDispatch(input: RouteInput): RouteDecision {
  const parsed = dispatchPayload.safeParse(input.payload);
  if (!parsed.success) {
    return ignore('workflow_dispatch without a valid `pr` input (a pull request number)');
  }
  const { inputs, repository: repo, sender: who } = parsed.data;
  const pr = Number(inputs.pr);
  const skill = inputs.skill?.trim() ?? '';
  if (skill !== '' && !validSkillPath(skill)) {
    return ignore(
      `workflow_dispatch input skill '${escapeInline(skill)}' is not a repository path`,
    );
  }
  const named = inputs.actor?.trim() ?? '';
  if (named !== '' && !loginSchema.safeParse(named).success) {
    return ignore(`workflow_dispatch input actor '${escapeInline(named)}' is not a GitHub login`);
  }
  const text = inputs.command?.trim() ?? '';
  const command = text === '' ? { kind: 'start' as const, text: '' } : parseOptimizeCommand(text);
  const target = { owner: repo.owner.login, repo: repo.name, issueNumber: pr };
  if (command === null || command.kind === 'invalid') {
    const reason =
      command === null ? 'the command input does not start with /optimize' : command.reason;
    return {
      kind: 'refuse',
      reason,
      reply: `Skill Optimizer could not read the dispatched command: ${escapeInline(reason, 600)}`,
      target,
    };
  }
  return {
    kind: 'dispatch',
    repository: repoRef(repo),
    pr,
    skillPath: skill === '' ? null : skill,
    command,
    commentId: optionalId(inputs.comment_id),
    reviewId: optionalId(inputs.review_id),
    actor: dispatchActor(who, named),
    headSha: inputs.head_sha === undefined || inputs.head_sha === '' ? null : inputs.head_sha,
  };
}

function optionalId(input: string | undefined): number | null {
  return input === undefined || input === '' ? null : Number(input);
}

function dispatchActor(who: Sender | undefined, named: string): string {
  if (who === undefined) return named === '' ? 'workflow_dispatch' : named;
  return actorType(who.type) === 'Bot' && named !== '' ? named : who.login;
}

function validSkillPath(path: string): boolean {
  if (path === ROOT_FOLDER) return true;
  return (
    !path.startsWith('/') &&
    !path.includes('\\') &&
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are refused.
    !/[\0-\x1F\x7F]/.test(path) &&
    path.split('/').every((part) => part !== '' && part !== '.' && part !== '..')
  );
}
