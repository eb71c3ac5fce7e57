import { describe, expect, it, vi } from 'vitest';
import { initialState } from '../../src/chain/state.js';
import type { Permission } from '../../src/config/access.js';
import { defaultConfig } from '../../src/config/schema.js';
import { type RouteInput, routeEvent } from '../../src/routing/route.js';
import { renderTracker } from '../../src/routing/tracker.js';
import {
  comment,
  dispatched,
  example,
  HEAD_SHA,
  labeled,
  type Payload,
  review,
  SELF,
  user,
} from './webhook-examples.js';

const config = { ...defaultConfig(), allowed_bots: ['renovate'] };
const repository = { owner: 'Codertocat', repo: 'Hello-World', defaultBranch: 'master' };

function input(
  name: string,
  payload: Payload,
  permission: Permission | null = 'write',
): RouteInput & {
  permissionOf: ReturnType<typeof vi.fn>;
} {
  return {
    name,
    payload,
    deliveryId: 'd-1',
    config,
    selfLogin: SELF,
    permissionOf: vi.fn(async () => permission),
  };
}

describe('routeEvent: triggers', () => {
  it('the run label on an open skill PR starts a run with gates', async () => {
    const decision = await routeEvent(input('pull_request', labeled('skill-optimizer')));
    expect(decision).toEqual({
      kind: 'start',
      repository,
      pr: 2,
      autopilot: false,
      intent: null,
      actor: 'octocat',
      commentId: null,
      headSha: HEAD_SHA,
    });
  });

  it('the autopilot label starts on autopilot; labels come from the config', async () => {
    const custom = { ...config, labels: { run: 'optimize-me', autopilot: 'optimize-auto' } };
    const auto = await routeEvent({
      ...input('pull_request', labeled('optimize-auto')),
      config: custom,
    });
    expect(auto).toMatchObject({ kind: 'start', autopilot: true, pr: 2 });
    const old = await routeEvent({
      ...input('pull_request', labeled('skill-optimizer')),
      config: custom,
    });
    expect(old).toMatchObject({
      kind: 'ignore',
      reason: expect.stringMatching(/not a Skill Optimizer label/),
    });
  });

  it('other labels, closed PRs and labelled chain PRs start nothing and ask no permission', async () => {
    const other = input('pull_request', labeled('bug'));
    expect((await routeEvent(other)).kind).toBe('ignore');
    expect(other.permissionOf).not.toHaveBeenCalled();
    const closed = labeled('skill-optimizer');
    closed.pull_request.state = 'closed';
    expect(await routeEvent(input('pull_request', closed))).toMatchObject({
      kind: 'ignore',
      reason: /not open/,
    });
    const chain = labeled('skill-optimizer');
    chain.pull_request.head.ref = 'skill-optimizer/2-pdf';
    expect(await routeEvent(input('pull_request', chain))).toMatchObject({
      kind: 'ignore',
      reason: /chain PR/,
    });
  });

  it('/optimize with free text starts with that intent, sanitised', async () => {
    const payload = comment(
      'Looks good.\n\n/optimize focus on <!-- hidden --> tables\u200b\nand charts',
      { id: 77 },
    );
    expect(await routeEvent(input('issue_comment', payload))).toEqual({
      kind: 'start',
      repository,
      pr: 1,
      autopilot: false,
      intent: 'focus on  tables\nand charts',
      actor: 'octocat',
      commentId: 77,
      headSha: null,
    });
  });

  it('/optimize alone starts without intent; /optimize autopilot starts on autopilot', async () => {
    expect(await routeEvent(input('issue_comment', comment('/optimize')))).toMatchObject({
      kind: 'start',
      intent: null,
      autopilot: false,
    });
    expect(await routeEvent(input('issue_comment', comment('/optimize autopilot')))).toMatchObject({
      kind: 'start',
      intent: null,
      autopilot: true,
    });
  });

  it.each([
    ['/optimize stop', { kind: 'stop' }],
    ['/optimize status', { kind: 'status' }],
    ['/optimize approve', { kind: 'approve' }],
    ['/optimize answer keep', { kind: 'answer', option: 'keep' }],
    ['/optimize pick a,b', { kind: 'pick', selection: { ids: ['a', 'b'] } }],
    [
      '/optimize rerun 3 harder probes',
      { kind: 'rerun', step: 'design-tests', directive: 'harder probes' },
    ],
  ])('%s → command', async (body, command) => {
    expect(await routeEvent(input('issue_comment', comment(body, { id: 5 })))).toEqual({
      kind: 'command',
      repository,
      pr: 1,
      command,
      actor: 'octocat',
      commentId: 5,
    });
  });

  it('a malformed command from a writer gets a reply saying what is wrong, and nothing runs', async () => {
    const decision = await routeEvent(
      input('issue_comment', comment('/optimize rerun 12 @everyone')),
    );
    expect(decision).toMatchObject({
      kind: 'refuse',
      target: { owner: 'Codertocat', repo: 'Hello-World', issueNumber: 1 },
      reply: expect.stringMatching(/could not read that command: '12' is not a step/),
    });
  });

  it('comments without a command, on issues, edited or deleted are ignored without a permission look-up', async () => {
    const cases: Array<[Payload, RegExp]> = [
      [comment('nice work, please /optimize later'), /no \/optimize command/],
      [comment('/optimize', { action: 'edited' }), /edited or deleted after the trigger/],
      [comment('/optimize', { action: 'deleted' }), /edited or deleted after the trigger/],
    ];
    const issue = comment('/optimize');
    delete issue.issue.pull_request;
    cases.push([issue, /not a pull request/]);
    for (const [payload, reason] of cases) {
      const routed = input('issue_comment', payload);
      expect(await routeEvent(routed)).toMatchObject({ kind: 'ignore', reason });
      expect(routed.permissionOf).not.toHaveBeenCalled();
    }
  });

  it('events it does not handle are ignored', async () => {
    expect((await routeEvent(input('push', example('push')))).kind).toBe('ignore');
    expect((await routeEvent(input('pull_request', example('pull_request', 'opened')))).kind).toBe(
      'ignore',
    );
    expect((await routeEvent(input('issue_comment', { action: 'created' }))).kind).toBe('ignore');
  });
});

describe('routeEvent: reviews on chain PRs', () => {
  const chain = {
    ...initialState({
      slug: 'pdf',
      skillPath: 'skills/pdf',
      sourceCommit: HEAD_SHA,
      autopilot: false,
    }),
  };
  const gated = {
    ...chain,
    status: 'gate' as const,
    open_gate: {
      id: 'picks' as const,
      step: 'design-tests' as const,
      question: 'Which?',
      options: [{ name: 'approve', description: 'top 5' }],
      default: 'approve',
      files: [],
      asked_at: '2025-01-01T00:00:00.000Z',
    },
  };
  const body = renderTracker(gated, {
    skillPr: 7,
    triggeredBy: 'octocat',
    pinnedSha: HEAD_SHA,
    results: {},
    running: null,
  });

  it('an approval carries the reviewed commit and the tracker state', async () => {
    const decision = await routeEvent(
      input('pull_request_review', review('approved', { prBody: body })),
    );
    expect(decision).toMatchObject({
      kind: 'review',
      repository,
      chainPr: 2,
      skillPr: 7,
      slug: 'pdf',
      state: 'approved',
      commitId: HEAD_SHA,
      reviewId: 237895671,
      actor: 'octocat',
      tracker: { open_gate: 'picks', pinned_sha: HEAD_SHA, skill_pr: 7, gate_step: 'design-tests' },
    });
  });

  it('request changes carries the sanitised review text; a tampered tracker reads as null', async () => {
    const decision = await routeEvent(
      input(
        'pull_request_review',
        review('CHANGES_REQUESTED', {
          body: 'more <!-- x -->edge cases',
          prBody: `${body}\n<!-- skill-optimizer:state {"v":1} -->`,
        }),
      ),
    );
    expect(decision).toMatchObject({
      kind: 'review',
      state: 'changes_requested',
      body: 'more edge cases',
      tracker: null,
    });
  });

  it('comment-only reviews, non-chain branches and chain branches from forks decide nothing', async () => {
    expect(await routeEvent(input('pull_request_review', review('commented')))).toMatchObject({
      kind: 'ignore',
    });
    const plain = review('approved');
    plain.pull_request.head.ref = 'feature/x';
    expect(await routeEvent(input('pull_request_review', plain))).toMatchObject({
      kind: 'ignore',
      reason: /not a chain PR/,
    });
    const fork = review('approved');
    fork.pull_request.head.repo.full_name = 'mallory/Hello-World';
    expect(await routeEvent(input('pull_request_review', fork))).toMatchObject({
      kind: 'ignore',
      reason: /another repository/,
    });
    const dismissed = example('pull_request_review', 'dismissed');
    expect((await routeEvent(input('pull_request_review', dismissed))).kind).toBe('ignore');
  });

  it('an approval from a reader is refused politely', async () => {
    const decision = await routeEvent(input('pull_request_review', review('approved'), 'read'));
    expect(decision).toMatchObject({
      kind: 'refuse',
      target: { issueNumber: 2 },
      reply: /did not act on this review/,
    });
  });
});

describe('routeEvent: who may steer', () => {
  it.each<[Permission | null, string]>([
    ['admin', 'start'],
    ['maintain', 'start'],
    ['write', 'start'],
    ['triage', 'refuse'],
    ['read', 'refuse'],
    ['none', 'refuse'],
    [null, 'refuse'],
  ])('a user with %s permission → %s', async (permission, kind) => {
    const routed = input(
      'issue_comment',
      comment('/optimize', { sender: user('alice') }),
      permission,
    );
    const decision = await routeEvent(routed);
    expect(decision.kind).toBe(kind);
    expect(routed.permissionOf).toHaveBeenCalledWith('alice');
    if (decision.kind === 'refuse') {
      expect(decision.reply).toMatch(
        /^Thanks, @alice! Only people with write, maintain or admin access/,
      );
      expect(decision.target).toEqual({ owner: 'Codertocat', repo: 'Hello-World', issueNumber: 1 });
    }
  });

  it('a gate answer from a reader is refused like an approval', async () => {
    for (const body of ['/optimize answer no', '/optimize approve']) {
      const routed = input('issue_comment', comment(body, { sender: user('rita') }), 'read');
      expect(await routeEvent(routed)).toMatchObject({
        kind: 'refuse',
        reply: /did not act on this command/,
      });
    }
  });

  it('a triager who adds the run label is refused, not started', async () => {
    const decision = await routeEvent(input('pull_request', labeled('skill-optimizer'), 'triage'));
    expect(decision).toMatchObject({ kind: 'refuse', reply: /did not act on this label/ });
  });

  it('bots are ignored silently unless allow-listed; no permission is asked for bots', async () => {
    const dependabot = input(
      'issue_comment',
      comment('/optimize', { sender: user('dependabot[bot]', 'Bot') }),
      'admin',
    );
    expect(await routeEvent(dependabot)).toMatchObject({
      kind: 'ignore',
      reason: /not listed in allowed_bots/,
    });
    const renovate = input(
      'issue_comment',
      comment('/optimize', { sender: user('renovate[bot]', 'Bot') }),
      null,
    );
    expect(await routeEvent(renovate)).toMatchObject({ kind: 'start', actor: 'renovate[bot]' });
    expect(dependabot.permissionOf).not.toHaveBeenCalled();
    expect(renovate.permissionOf).not.toHaveBeenCalled();
  });

  it("the app's own comments, labels and reviews never trigger it, even when allow-listed", async () => {
    const listed = { ...config, allowed_bots: ['skill-optimizer'] };
    const self = user(SELF, 'Bot');
    const events: Array<[string, Payload]> = [
      ['issue_comment', comment('/optimize approve', { sender: self })],
      ['pull_request', labeled('skill-optimizer', self)],
      ['pull_request_review', review('approved', { sender: self })],
      ['issue_comment', comment('/optimize', { sender: user('Skill-Optimizer[bot]', 'User') })],
    ];
    for (const [name, payload] of events) {
      const routed = { ...input(name, payload, 'admin'), config: listed };
      expect(await routeEvent(routed)).toMatchObject({ kind: 'ignore', reason: /this app/ });
      expect(routed.permissionOf).not.toHaveBeenCalled();
    }
  });
});

describe('routeEvent: workflow_dispatch', () => {
  it('reads the PR, skill path, command and comment id from the inputs', async () => {
    const payload = dispatched({
      pr: '7',
      command: '/optimize pick top 3',
      skill: 'skills/pdf',
      comment_id: '9',
    });
    expect(await routeEvent(input('workflow_dispatch', payload))).toEqual({
      kind: 'dispatch',
      repository: { owner: 'octo-org', repo: 'octo-repo', defaultBranch: 'main' },
      pr: 7,
      skillPath: 'skills/pdf',
      command: { kind: 'pick', selection: { top: 3 } },
      commentId: 9,
      reviewId: null,
      actor: 'octocat',
      headSha: null,
    });
  });

  it('reads the pinned head commit (anything but a commit id is ignored) and the review id', async () => {
    const sha = 'a'.repeat(40);
    expect(
      await routeEvent(input('workflow_dispatch', dispatched({ pr: '7', head_sha: sha }))),
    ).toMatchObject({ kind: 'dispatch', headSha: sha });
    expect(
      await routeEvent(
        input('workflow_dispatch', dispatched({ pr: '7', head_sha: 'refs/pull/7/head' })),
      ),
    ).toMatchObject({ kind: 'ignore' });
    expect(
      await routeEvent(input('workflow_dispatch', dispatched({ pr: '7', review_id: '12' }))),
    ).toMatchObject({ kind: 'dispatch', reviewId: 12, commentId: null });
  });

  it('records the person the App names when the App dispatched, else the dispatcher', async () => {
    const byApp = dispatched({ pr: '7', command: '/optimize answer keep', actor: 'alice' });
    byApp.sender = user(SELF, 'Bot');
    expect(await routeEvent(input('workflow_dispatch', byApp))).toMatchObject({
      kind: 'dispatch',
      command: { kind: 'answer', option: 'keep' },
      actor: 'alice',
    });
    const appUnnamed = dispatched({ pr: '7', actor: '' });
    appUnnamed.sender = user(SELF, 'Bot');
    expect(await routeEvent(input('workflow_dispatch', appUnnamed))).toMatchObject({
      actor: SELF,
    });
    // A person dispatching by hand is recorded as themselves, whatever `actor` says.
    const byHand = dispatched({ pr: '7', actor: 'alice' });
    expect(await routeEvent(input('workflow_dispatch', byHand))).toMatchObject({
      actor: 'octocat',
    });
    const noSender = dispatched({ pr: '7' });
    delete noSender.sender;
    expect(await routeEvent(input('workflow_dispatch', noSender))).toMatchObject({
      actor: 'workflow_dispatch',
    });
  });

  it('an empty command starts; a missing skill is null', async () => {
    expect(await routeEvent(input('workflow_dispatch', dispatched({ pr: '7' })))).toMatchObject({
      kind: 'dispatch',
      skillPath: null,
      command: { kind: 'start', text: '' },
      commentId: null,
    });
  });

  it.each([
    [{ pr: 'abc' }, 'ignore'],
    [{ pr: '0' }, 'ignore'],
    [{ pr: '7', skill: '../etc' }, 'ignore'],
    [{ pr: '7', skill: '/abs' }, 'ignore'],
    [{ pr: '7', command: 'rm -rf /' }, 'refuse'],
    [{ pr: '7', command: '/optimize pick' }, 'refuse'],
    [{ pr: '7', command: '/optimize answer two words' }, 'refuse'],
    [{ pr: '7', actor: 'not a login' }, 'ignore'],
    [{ pr: '7', actor: '-dash' }, 'ignore'],
  ])('bad inputs %j → %s', async (inputs, kind) => {
    expect((await routeEvent(input('workflow_dispatch', dispatched(inputs)))).kind).toBe(kind);
  });
});
