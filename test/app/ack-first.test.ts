import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import nock from 'nock';
import { createNodeMiddleware } from 'probot';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MARKERS } from '../../src/app/handlers.js';
import { skillOptimizerApp } from '../../src/app/register.js';
import { WorkQueue } from '../../src/app/work-queue.js';
import { comment, SELF } from '../routing/webhook-examples.js';
import { github, type LogLine, REPO, recordingLog, testProbot } from './probot-app.js';

/**
 * The App behind probot's HTTP middleware, as deployed: a delivery is answered once its signature
 * is verified and its ids are claimed, and the GitHub work (config, permission, PR head, dispatch)
 * runs after the answer in the App's work queue.
 */

const SECRET = "It's a Secret to Everybody";
const CONFIG = `${REPO}/contents/.github%2Fskill-optimizer.yml`;
const PERMISSION = `${REPO}/collaborators/octocat/permission`;
const DISPATCH = `${REPO}/actions/workflows/skill-optimizer.yml/dispatches`;
const HEAD = 'b'.repeat(40);
const COMMENT_ID = 4242;

function sign(body: string, secret = SECRET): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

let server: Server | null = null;

beforeEach(() => {
  nock.cleanAll();
});

afterEach(async () => {
  const running = server;
  server = null;
  if (running) await new Promise((done) => running.close(done));
  nock.cleanAll();
});

async function serve(queue: WorkQueue): Promise<{ url: string; log: LogLine[] }> {
  const log: LogLine[] = [];
  const probot = testProbot(SECRET, recordingLog(log));
  const middleware = await createNodeMiddleware(
    skillOptimizerApp({ env: { WEBHOOK_SECRET: SECRET }, selfLogin: SELF, queue }),
    { probot },
  );
  const started = createServer((req, res) => {
    void middleware(req, res, () => {
      res.writeHead(404).end();
    });
  });
  server = started;
  await new Promise<void>((done) => started.listen(0, '127.0.0.1', done));
  const { port } = started.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/api/github/webhooks`, log };
}

/** Posts a delivery; `signature` defaults to a correct one. Fails fast if no answer comes. */
async function deliver(
  url: string,
  delivery: string,
  body: string,
  signature: string | null = sign(body),
): Promise<number> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': 'issue_comment',
      'x-github-delivery': delivery,
      ...(signature === null ? {} : { 'x-hub-signature-256': signature }),
    },
    body,
    signal: AbortSignal.timeout(5_000),
  });
  await response.arrayBuffer();
  return response.status;
}

/** GitHub's answers held back until `release()`: what was asked so far is in `asked`. */
function heldGitHub() {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const asked: unknown[] = [];
  const answered: unknown[] = [];
  const held = (body: unknown) => async (): Promise<nock.Body> => {
    asked.push(body);
    await gate;
    answered.push(body);
    return body as nock.Body;
  };
  return { release, asked, answered, held };
}

const pull = {
  number: 1,
  state: 'open',
  draft: false,
  body: null,
  user: { login: 'octocat' },
  head: { ref: 'changes', sha: HEAD, repo: { full_name: 'Codertocat/Hello-World' } },
  base: { ref: 'master', repo: { full_name: 'Codertocat/Hello-World' } },
};

const dispatchBody = {
  ref: 'master',
  inputs: {
    pr: '1',
    command: '/optimize\n\nfocus on tables',
    actor: 'octocat',
    comment_id: String(COMMENT_ID),
    head_sha: HEAD,
  },
};

const permissionBody = { permission: 'write', role_name: 'write', user: { login: 'octocat' } };

/** The comment the App makes when its work failed: none of the bot's yet, so one is created. */
function failureComment(scope: nock.Scope, check: (body: string) => boolean): nock.Scope {
  return scope
    .get(`${REPO}/issues/1/comments`)
    .query({ per_page: 100 })
    .reply(200, [])
    .post(`${REPO}/issues/1/comments`, (sent: { body: string }) => check(sent.body))
    .reply(201, { id: 77 });
}

const body = JSON.stringify(comment('/optimize focus on tables', { id: COMMENT_ID }));

describe('the App answers first and works after', () => {
  it('a delivery is answered 200 while none of its GitHub calls has been answered', async () => {
    const queue = new WorkQueue();
    const { url } = await serve(queue);
    const gh = heldGitHub();
    const scope = github()
      .get(CONFIG)
      .query({ ref: 'master' })
      .reply(404, gh.held({ message: 'Not Found' }))
      .get(PERMISSION)
      .reply(200, gh.held(permissionBody))
      .get(`${REPO}/pulls/1`)
      .reply(200, gh.held(pull))
      .post(DISPATCH, dispatchBody)
      .reply(204, gh.held(''));

    expect(await deliver(url, 'd-ack', body)).toBe(200);
    expect(gh.answered).toEqual([]); // the answer did not wait on GitHub
    expect(gh.asked.length).toBeLessThanOrEqual(1); // at most the config read is under way
    expect(queue.running).toBe(1);

    gh.release();
    await queue.idle();
    expect(scope.isDone()).toBe(true); // and then the work was done: dispatched once
  });

  it('a redelivery, while the first is still at work or after, is answered and dispatched only once', async () => {
    const queue = new WorkQueue();
    const { url, log } = await serve(queue);
    const gh = heldGitHub();
    const scope = github()
      .get(CONFIG)
      .query({ ref: 'master' })
      .reply(404, gh.held({ message: 'Not Found' }))
      .get(PERMISSION)
      .reply(200, gh.held(permissionBody))
      .get(`${REPO}/pulls/1`)
      .reply(200, gh.held(pull))
      .post(DISPATCH, dispatchBody)
      .once()
      .reply(204, gh.held(''));

    expect(await deliver(url, 'd-same', body)).toBe(200);
    expect(await deliver(url, 'd-same', body)).toBe(200); // GitHub's redelivery, same id
    expect(queue.running + queue.waiting).toBe(1);
    gh.release();
    await queue.idle();
    expect(await deliver(url, 'd-same', body)).toBe(200); // redelivered by hand later
    expect(await deliver(url, 'd-other', body)).toBe(200); // the same comment, a new delivery id
    await queue.idle();
    expect(scope.isDone()).toBe(true);
    expect(log.filter((line) => line.message === 'skill-optimizer: duplicate')).toHaveLength(3);
  });

  it('a permission look-up that fails after the answer is logged, redacted, and reported on the PR', async () => {
    const queue = new WorkQueue();
    const { url, log } = await serve(queue);
    const token = `ghs_${'A1b2C3d4'.repeat(4)}`;
    const scope = github()
      .get(CONFIG)
      .query({ ref: 'master' })
      .reply(404, { message: 'Not Found' })
      .get(PERMISSION)
      .reply(403, { message: `Resource not accessible by integration (${token})` });
    failureComment(
      scope,
      (sent) =>
        sent.startsWith(
          `${MARKERS.failure}\nSkill Optimizer could not act on this comment: could not look up octocat's permission in Codertocat/Hello-World: the token lacks the \`metadata: read\` permission`,
        ) &&
        sent.includes('Redelivering delivery `d-perm`') &&
        !sent.includes(token),
    );

    expect(await deliver(url, 'd-perm', body)).toBe(200);
    await queue.idle();
    expect(scope.isDone()).toBe(true);
    const errors = log.filter((line) => line.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]?.message).toMatch(
      /^skill-optimizer: could not act on delivery d-perm: could not look up octocat's permission/,
    );
    expect(errors[0]?.fields.delivery).toBe('d-perm');
    expect(JSON.stringify(log)).not.toContain(token);
  });

  it('a 5xx from the dispatch after the answer is reported on the PR, and a redelivery tries again', async () => {
    const queue = new WorkQueue();
    const { url, log } = await serve(queue);
    const scope = github()
      .get(CONFIG)
      .query({ ref: 'master' })
      .reply(404, { message: 'Not Found' })
      .get(PERMISSION)
      .reply(200, permissionBody)
      .get(`${REPO}/pulls/1`)
      .reply(200, pull)
      .post(DISPATCH, dispatchBody)
      .reply(502, { message: 'Bad Gateway' });
    failureComment(scope, (sent) =>
      sent.startsWith(
        `${MARKERS.failure}\nSkill Optimizer could not act on this comment: could not start the workflow skill-optimizer.yml on master in Codertocat/Hello-World: GitHub is unavailable (502) even after retrying`,
      ),
    );

    expect(await deliver(url, 'd-502', body)).toBe(200);
    await queue.idle();
    expect(scope.isDone()).toBe(true);
    expect(log.filter((line) => line.level === 'error')).toHaveLength(1);

    const again = github()
      .get(CONFIG)
      .query({ ref: 'master' })
      .reply(404, { message: 'Not Found' })
      .get(PERMISSION)
      .reply(200, permissionBody)
      .get(`${REPO}/pulls/1`)
      .reply(200, pull)
      .post(DISPATCH, dispatchBody)
      .reply(204);
    expect(await deliver(url, 'd-502', body)).toBe(200);
    await queue.idle();
    expect(again.isDone()).toBe(true);
  });

  it.each([
    ['unsigned', null],
    ['signed with another secret', sign(body, 'not the secret')],
    ['signed for another body', sign(`${body} `)],
  ])('a delivery %s gets a 4xx and queues no work', async (_what, signature) => {
    const queue = new WorkQueue();
    const { url, log } = await serve(queue);
    const scope = github().get(CONFIG).query({ ref: 'master' }).reply(404, {});

    const status = await deliver(url, 'd-bad', body, signature);
    expect(status).toBeGreaterThanOrEqual(400);
    expect(status).toBeLessThan(500);
    expect(queue.running + queue.waiting).toBe(0);
    await queue.idle();
    expect(scope.isDone()).toBe(false); // GitHub was asked nothing
    expect(log.some((line) => line.message.startsWith('skill-optimizer:'))).toBe(false);
  });

  it('when the work queue is full the delivery is answered 503 and can be redelivered later', async () => {
    const queue = new WorkQueue({ concurrency: 1, backlog: 1 });
    const { url } = await serve(queue);
    const gh = heldGitHub();
    const scope = github();
    for (const id of [1, 2, 3]) {
      scope
        .get(CONFIG)
        .query({ ref: 'master' })
        .reply(404, gh.held({ message: 'Not Found' }))
        .get(PERMISSION)
        .reply(200, gh.held(permissionBody))
        .get(`${REPO}/pulls/1`)
        .reply(200, gh.held(pull))
        .post(DISPATCH, {
          ...dispatchBody,
          inputs: { ...dispatchBody.inputs, comment_id: `${id}` },
        })
        .reply(204, gh.held(''));
    }
    const numbered = (id: number) => JSON.stringify(comment('/optimize focus on tables', { id }));

    expect(await deliver(url, 'd-1', numbered(1))).toBe(200); // running
    expect(await deliver(url, 'd-2', numbered(2))).toBe(200); // waiting
    expect(await deliver(url, 'd-3', numbered(3))).toBe(503); // refused, not piled up
    gh.release();
    await queue.idle();
    expect(await deliver(url, 'd-3', numbered(3))).toBe(200); // its ids were released
    await queue.idle();
    expect(scope.isDone()).toBe(true);
  });
});
