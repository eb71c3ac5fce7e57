import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MARKERS } from '../../src/app/handlers.js';
import { initialState } from '../../src/chain/state.js';
import { renderTracker } from '../../src/routing/tracker.js';
import {
  comment,
  example,
  HEAD_SHA,
  labeled,
  type Payload,
  review,
  SELF,
  user,
} from '../routing/webhook-examples.js';
import { type AppUnderTest, appUnderTest, github, REPO } from './probot-app.js';

const CONFIG = `${REPO}/contents/.github%2Fskill-optimizer.yml`;
const DISPATCH = `${REPO}/actions/workflows/skill-optimizer.yml/dispatches`;

function noConfig(scope: nock.Scope): nock.Scope {
  return scope.get(CONFIG).query({ ref: 'master' }).reply(404, { message: 'Not Found' });
}

function permission(scope: nock.Scope, login: string, role: string | null): nock.Scope {
  const path = `${REPO}/collaborators/${encodeURIComponent(login)}/permission`;
  return role === null
    ? scope.get(path).reply(404, { message: 'Not Found' })
    : scope.get(path).reply(200, {
        permission: role === 'maintain' ? 'write' : role,
        role_name: role,
        user: { login },
      });
}

/** The bot's marked comment on `issue`: none yet, so one is created with exactly `body`. */
function newComment(scope: nock.Scope, issue: number, body: string): nock.Scope {
  return scope
    .get(`${REPO}/issues/${issue}/comments`)
    .query({ per_page: 100 })
    .reply(200, [{ id: 1, body: 'unrelated', user: { login: 'octocat' } }])
    .post(`${REPO}/issues/${issue}/comments`, { body })
    .reply(201, { id: 99 });
}

/** The review id of the webhook example: the App names it so the job can tell a redelivery. */
const REVIEW_ID = String(example('pull_request_review', 'submitted').review.id);

/** A later head than the label example's: what the App reads when a comment starts a run. */
const LATER_SHA = 'b'.repeat(40);

/** Skill PR #1 as GitHub returns it, its head at `sha`. */
function skillPull(sha = LATER_SHA) {
  return {
    number: 1,
    state: 'open',
    draft: false,
    body: null,
    user: { login: 'octocat' },
    head: { ref: 'changes', sha, repo: { full_name: 'Codertocat/Hello-World' } },
    base: { ref: 'master', repo: { full_name: 'Codertocat/Hello-World' } },
  };
}

/** Delivers one event and waits for the GitHub work the App does after answering it. */
async function receive(app: AppUnderTest, id: string, name: string, payload: Payload) {
  await app.probot.receive({ id, name, payload } as Parameters<typeof app.probot.receive>[0]);
  await app.queue.idle();
}

beforeEach(() => {
  nock.cleanAll();
});

afterEach(() => {
  expect(nock.pendingMocks()).toEqual([]);
});

describe('the App: starting runs', () => {
  it('the run label dispatches the chain workflow on the default branch', async () => {
    const scope = permission(noConfig(github()), 'octocat', 'write')
      .post(DISPATCH, {
        ref: 'master',
        inputs: { pr: '2', command: '/optimize', actor: 'octocat', head_sha: HEAD_SHA },
      })
      .reply(204);
    await receive(await appUnderTest(), 'd-label', 'pull_request', labeled('skill-optimizer'));
    expect(scope.isDone()).toBe(true);
  });

  it('the autopilot label dispatches an autopilot start', async () => {
    const scope = permission(noConfig(github()), 'octocat', 'admin')
      .post(DISPATCH, {
        ref: 'master',
        inputs: { pr: '2', command: '/optimize autopilot', actor: 'octocat', head_sha: HEAD_SHA },
      })
      .reply(204);
    await receive(
      await appUnderTest(),
      'd-auto',
      'pull_request',
      labeled('skill-optimizer:autopilot'),
    );
    expect(scope.isDone()).toBe(true);
  });

  it('labels come from the config on the default branch', async () => {
    const config = Buffer.from('labels:\n  run: please-optimize\n').toString('base64');
    const scope = github()
      .get(CONFIG)
      .query({ ref: 'master' })
      .reply(200, {
        type: 'file',
        encoding: 'base64',
        content: config,
        sha: 'abc',
        path: '.github/skill-optimizer.yml',
      })
      .get(CONFIG)
      .query({ ref: 'master' })
      .reply(200, {
        type: 'file',
        encoding: 'base64',
        content: config,
        sha: 'abc',
        path: '.github/skill-optimizer.yml',
      });
    permission(scope, 'octocat', 'write')
      .post(DISPATCH, {
        ref: 'master',
        inputs: { pr: '2', command: '/optimize', actor: 'octocat', head_sha: HEAD_SHA },
      })
      .reply(204);
    const app = await appUnderTest();
    await receive(app, 'd-1', 'pull_request', labeled('skill-optimizer')); // no longer the run label
    await receive(app, 'd-2', 'pull_request', labeled('please-optimize'));
    expect(scope.isDone()).toBe(true);
  });

  it('a comment dispatches its command once: redeliveries and duplicate comments start nothing more', async () => {
    const scope = permission(noConfig(github()), 'octocat', 'maintain')
      .get(`${REPO}/pulls/1`)
      .reply(200, skillPull())
      .post(DISPATCH, {
        ref: 'master',
        inputs: {
          pr: '1',
          command: '/optimize\n\nfocus on tables',
          actor: 'octocat',
          comment_id: '4242',
          head_sha: LATER_SHA,
        },
      })
      .once()
      .reply(204);
    const app = await appUnderTest();
    const payload = comment('/optimize focus on tables', { id: 4242 });
    await receive(app, 'd-c', 'issue_comment', payload);
    await receive(app, 'd-c', 'issue_comment', payload); // redelivery, same delivery id
    await receive(app, 'd-c2', 'issue_comment', payload); // same comment, new delivery id
    expect(scope.isDone()).toBe(true);
  });

  it.each([
    ['/optimize pick top 3', '/optimize pick top 3'],
    ['/optimize rerun 8   be concrete', '/optimize rerun improve\n\nbe concrete'],
    ['/optimize stop', '/optimize stop'],
  ])('%j is dispatched as %j', async (body, command) => {
    const scope = permission(noConfig(github()), 'octocat', 'write')
      .post(DISPATCH, {
        ref: 'master',
        inputs: { pr: '1', command, actor: 'octocat', comment_id: '7' },
      })
      .reply(204);
    await receive(await appUnderTest(), 'd', 'issue_comment', comment(body, { id: 7 }));
    expect(scope.isDone()).toBe(true);
  });

  it.each([
    ['an indented code block', 'Do not run this:\n\n    /optimize autopilot'],
    ['a zero-width space in front', '\u200b/optimize autopilot'],
    ['a right-to-left override in front', '\u202e/optimize autopilot'],
  ])('a maintainer’s /optimize in %s starts nothing', async (_where, body) => {
    // The config is read first; then nothing: no permission look-up, no dispatch.
    const scope = noConfig(github());
    await receive(await appUnderTest(), 'd-hidden', 'issue_comment', comment(body, { id: 31 }));
    expect(scope.isDone()).toBe(true);
  });

  it('a failed dispatch is reported on the PR and can be retried by redelivery', async () => {
    const scope = permission(noConfig(github()), 'octocat', 'write')
      .get(`${REPO}/pulls/1`)
      .reply(200, skillPull())
      .post(DISPATCH)
      .reply(500, { message: 'boom' });
    newComment(
      scope,
      1,
      `${MARKERS.failure}\nSkill Optimizer could not act on this comment: could not start the workflow skill-optimizer.yml on master in Codertocat/Hello-World: GitHub is unavailable (500) even after retrying; try again: comment \`/optimize\` on the pull request\n\nNothing was started. Redelivering delivery \`d-r\` from the GitHub App's settings (Advanced → Recent Deliveries) tries again; the App's log has the details.`,
    );
    permission(noConfig(scope), 'octocat', 'write')
      .get(`${REPO}/pulls/1`)
      .reply(200, skillPull())
      .post(DISPATCH)
      .reply(204);
    const app = await appUnderTest();
    const payload = comment('/optimize', { id: 8 });
    await receive(app, 'd-r', 'issue_comment', payload); // answered; the dispatch fails after
    await receive(app, 'd-r', 'issue_comment', payload);
    expect(scope.isDone()).toBe(true);
  });
});

describe('the App: who may steer', () => {
  const refusal = (login: string) =>
    `${MARKERS.refusal}\nThanks, @${login}! Only people with write, maintain or admin access to this repository can start or steer Skill Optimizer, so I did not act on this command. A maintainer can run it for you.`;

  it.each([['read'], ['triage'], ['none'], [null]])(
    'a user with %s permission gets one polite refusal and no run',
    async (role) => {
      const scope = newComment(
        permission(noConfig(github()), 'mallory', role),
        1,
        refusal('mallory'),
      );
      await receive(
        await appUnderTest(),
        'd-x',
        'issue_comment',
        comment('/optimize stop', { sender: user('mallory') }),
      );
      expect(scope.isDone()).toBe(true);
    },
  );

  it('edits its earlier refusal instead of adding another', async () => {
    const scope = permission(noConfig(github()), 'mallory', 'read')
      .get(`${REPO}/issues/1/comments`)
      .query({ per_page: 100 })
      .reply(200, [
        { id: 5, body: `${MARKERS.refusal}\nold`, user: { login: 'mallory' } }, // not the bot's: never edited
        { id: 6, body: `${MARKERS.refusal}\nold`, user: { login: SELF } },
      ])
      .patch(`${REPO}/issues/comments/6`, { body: refusal('mallory') })
      .reply(200, { id: 6 });
    await receive(
      await appUnderTest(),
      'd-y',
      'issue_comment',
      comment('/optimize', { sender: user('mallory') }),
    );
    expect(scope.isDone()).toBe(true);
  });

  it('bots that are not allow-listed and the app itself are ignored without a word', async () => {
    const scope = noConfig(noConfig(github()));
    const app = await appUnderTest();
    await receive(
      app,
      'd-b1',
      'issue_comment',
      comment('/optimize', { sender: user('dependabot[bot]', 'Bot'), id: 1 }),
    );
    await receive(
      app,
      'd-b2',
      'issue_comment',
      comment('/optimize', { sender: user(SELF, 'Bot'), id: 2 }),
    );
    expect(scope.isDone()).toBe(true);
  });

  it('edited comments and comments without a command make no GitHub call at all', async () => {
    const app = await appUnderTest();
    await receive(app, 'd-e', 'issue_comment', comment('/optimize stop', { action: 'edited' }));
    await receive(app, 'd-n', 'issue_comment', comment('thanks!'));
    await receive(app, 'd-l', 'pull_request', { ...labeled('bug'), action: 'opened' });
  });

  it('an invalid config is reported on the PR and nothing runs', async () => {
    const bad = Buffer.from('trials: many\n').toString('base64');
    const scope = github()
      .get(CONFIG)
      .query({ ref: 'master' })
      .reply(200, {
        type: 'file',
        encoding: 'base64',
        content: bad,
        sha: 'abc',
        path: '.github/skill-optimizer.yml',
      })
      .get(`${REPO}/issues/1/comments`)
      .query({ per_page: 100 })
      .reply(200, [])
      .post(
        `${REPO}/issues/1/comments`,
        (body: { body: string }) =>
          body.body.startsWith(
            `${MARKERS.config}\nSkill Optimizer cannot act: \`.github/skill-optimizer.yml\` on master is invalid.`,
          ) && body.body.includes('trials'),
      )
      .reply(201, { id: 1 });
    await receive(await appUnderTest(), 'd-cfg', 'issue_comment', comment('/optimize'));
    expect(scope.isDone()).toBe(true);
  });
});

describe('the App: status and reviews', () => {
  const gated = {
    ...initialState({
      slug: 'pdf',
      skillPath: 'skills/pdf',
      sourceCommit: HEAD_SHA,
      autopilot: false,
    }),
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
  const tracker = (skillPr: number) =>
    renderTracker(gated, {
      skillPr,
      triggeredBy: 'octocat',
      pinnedSha: HEAD_SHA,
      results: {},
      running: null,
    });
  const pull = (
    number: number,
    head: string,
    body: string | null,
    repo = 'Codertocat/Hello-World',
  ) => ({
    number,
    state: 'open',
    draft: true,
    body,
    user: { login: 'octocat' },
    head: { ref: head, sha: HEAD_SHA, repo: { full_name: repo } },
    base: { ref: 'changes', repo: { full_name: 'Codertocat/Hello-World' } },
  });

  it('/optimize status on the skill PR answers from the chain PR trackers, with no dispatch', async () => {
    const scope = permission(noConfig(github()), 'octocat', 'write')
      .get(`${REPO}/pulls/1`)
      .reply(200, {
        ...pull(1, 'changes', 'skill PR'),
        base: { ref: 'master', repo: { full_name: 'Codertocat/Hello-World' } },
      })
      .get(`${REPO}/pulls`)
      .query({ base: 'changes', state: 'open', per_page: 100 })
      .reply(200, [
        pull(9, 'skill-optimizer/1-pdf', tracker(1)),
        pull(10, 'skill-optimizer/1-pdf', tracker(1), 'mallory/Hello-World'), // from a fork: not a chain PR
        pull(11, 'feature/other', tracker(1)),
        pull(12, 'skill-optimizer/1-docx', tracker(1)), // state does not match its branch
      ]);
    const expected = [
      MARKERS.status,
      '**Skill Optimizer status for #1**',
      '',
      '- `skills/pdf` (run `pdf`, started by octocat) in #9: waiting at gate `picks` (step design-tests) about commit ec26c3e: approve the gate review, request changes, or comment a command',
      '- #12: its progress tracker could not be read',
    ].join('\n');
    newComment(scope, 1, expected);
    await receive(await appUnderTest(), 'd-s', 'issue_comment', comment('/optimize status'));
    expect(scope.isDone()).toBe(true);
  });

  it.each([
    ['/optimize approve', '/optimize approve'],
    ['/optimize answer KEEP', '/optimize answer keep'],
  ])(
    '%j on a chain PR with an open gate is dispatched for it, in the commenter’s name',
    async (body, command) => {
      const scope = permission(noConfig(github()), 'alice', 'write')
        .get(`${REPO}/pulls/1`)
        .reply(200, pull(1, 'skill-optimizer/7-pdf', tracker(7)))
        .post(DISPATCH, {
          ref: 'master',
          inputs: { pr: '1', command, actor: 'alice', comment_id: '21' },
        })
        .reply(204);
      const payload = comment(body, { id: 21, sender: user('alice') });
      await receive(await appUnderTest(), 'd-ans', 'issue_comment', payload);
      expect(scope.isDone()).toBe(true);
    },
  );

  it('a gate answer on a skill PR is dispatched: the Action checks each run’s gate and pin', async () => {
    const scope = permission(noConfig(github()), 'octocat', 'write')
      .get(`${REPO}/pulls/1`)
      .reply(200, pull(1, 'changes', 'skill PR'))
      .post(DISPATCH, {
        ref: 'master',
        inputs: { pr: '1', command: '/optimize answer no', actor: 'octocat', comment_id: '22' },
      })
      .reply(204);
    await receive(
      await appUnderTest(),
      'd-ans2',
      'issue_comment',
      comment('/optimize answer no', { id: 22 }),
    );
    expect(scope.isDone()).toBe(true);
  });

  it('a gate answer on a chain PR with no gate open is answered, and nothing runs', async () => {
    const finished = renderTracker(
      { ...gated, status: 'done', open_gate: null },
      { skillPr: 7, triggeredBy: 'octocat', pinnedSha: null, results: {}, running: null },
    );
    const scope = permission(noConfig(github()), 'octocat', 'write')
      .get(`${REPO}/pulls/1`)
      .reply(200, pull(1, 'skill-optimizer/7-pdf', finished));
    newComment(
      scope,
      1,
      `${MARKERS.review}\n@octocat no gate is open on #1 (the run is done), so \`/optimize answer keep\` has nothing to answer. Comment \`/optimize status\` to see where the run is.`,
    );
    await receive(
      await appUnderTest(),
      'd-ans3',
      'issue_comment',
      comment('/optimize answer keep', { id: 23 }),
    );
    expect(scope.isDone()).toBe(true);
  });

  it('an unreadable answer gets a reply saying what is wrong', async () => {
    const scope = permission(noConfig(github()), 'octocat', 'write');
    newComment(
      scope,
      1,
      `${MARKERS.refusal}\n@octocat I could not read that command: expected \`/optimize answer <option>\` with one option of the open gate, a lowercase word such as \`keep\` or \`no\` (got 'keep everything')`,
    );
    await receive(
      await appUnderTest(),
      'd-ans4',
      'issue_comment',
      comment('/optimize answer keep everything', { id: 24 }),
    );
    expect(scope.isDone()).toBe(true);
  });

  it('a review is recorded in the reviewer’s name', async () => {
    const scope = permission(noConfig(github()), 'alice', 'admin')
      .post(DISPATCH, {
        ref: 'master',
        inputs: {
          pr: '7',
          command: '/optimize approve',
          actor: 'alice',
          skill: 'skills/pdf',
          review_id: REVIEW_ID,
        },
      })
      .reply(204);
    const payload = review('approved', { prBody: tracker(7), sender: user('alice') });
    await receive(await appUnderTest(), 'd-ra', 'pull_request_review', payload);
    expect(scope.isDone()).toBe(true);
  });

  it('an approval of the pinned commit passes the gate through the workflow', async () => {
    const scope = permission(noConfig(github()), 'octocat', 'write')
      .post(DISPATCH, {
        ref: 'master',
        inputs: {
          pr: '7',
          command: '/optimize approve',
          actor: 'octocat',
          skill: 'skills/pdf',
          review_id: REVIEW_ID,
        },
      })
      .once()
      .reply(204);
    const app = await appUnderTest();
    const payload = review('approved', { prBody: tracker(7) });
    await receive(app, 'd-a', 'pull_request_review', payload);
    await receive(app, 'd-a2', 'pull_request_review', payload); // same review again
    expect(scope.isDone()).toBe(true);
  });

  it('an approval of another commit is answered, not acted on', async () => {
    const scope = permission(noConfig(github()), 'octocat', 'write');
    const payload = review('approved', { prBody: tracker(7) });
    payload.review.commit_id = 'b'.repeat(40);
    newComment(
      scope,
      2,
      `${MARKERS.review}\nThis approval is for commit bbbbbbb, but the \`picks\` gate asked about commit ec26c3e. The work branch changed since the gate was asked; review the current state and approve again (or comment \`/optimize approve\`).`,
    );
    await receive(await appUnderTest(), 'd-st', 'pull_request_review', payload);
    expect(scope.isDone()).toBe(true);
  });

  it('request changes re-runs the gated step with the review as directives', async () => {
    const scope = permission(noConfig(github()), 'octocat', 'write')
      .get(`${REPO}/pulls/2/reviews/237895671/comments`)
      .query({ per_page: 100 })
      .reply(200, [
        { path: '.skill-optimizer/pdf/tests/forms/spec.yaml', line: 3, body: 'pick forms too' },
        { path: '03-test-proposals.md', line: null, body: 'drop <!-- hidden -->tables' },
      ])
      .post(DISPATCH, {
        ref: 'master',
        inputs: {
          pr: '7',
          command:
            '/optimize rerun design-tests\n\ncover scanned PDFs\n.skill-optimizer/pdf/tests/forms/spec.yaml:3: pick forms too\n03-test-proposals.md: drop tables',
          actor: 'octocat',
          skill: 'skills/pdf',
          review_id: REVIEW_ID,
        },
      })
      .reply(204);
    const payload = review('changes_requested', { prBody: tracker(7), body: 'cover scanned PDFs' });
    await receive(await appUnderTest(), 'd-rc', 'pull_request_review', payload);
    expect(scope.isDone()).toBe(true);
  });

  it('a review on a chain PR whose tracker was tampered with starts nothing', async () => {
    const scope = permission(noConfig(github()), 'octocat', 'write');
    const payload = review('approved', { prBody: tracker(8) }); // branch says PR 7
    await receive(await appUnderTest(), 'd-t', 'pull_request_review', payload);
    expect(scope.isDone()).toBe(true);
  });
});
