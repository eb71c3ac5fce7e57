import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { githubPublisher, PublishError, type PublishWhere } from '../../src/action/publish.js';
import { renderPublished } from '../../src/action/publish-run.js';
import type { BenchGain, PublishPlan } from '../../src/chain/publish.js';
import { benchPointSchema } from '../../src/chain/state.js';
import { GitHubUnavailableError } from '../../src/github/errors.js';
import { api, failure, sha, TOKEN, testClient } from '../github/fixture.js';

afterEach(() => {
  nock.cleanAll();
});

const HERE = '/repos/Codertocat/Hello-World';
const UP = '/repos/keepachangelog/agent-skills';
const FORK = '/repos/skill-bot/agent-skills';
const BRANCH = 'skill-optimizer/publish/2-keep-a-changelog';
/** How octokit writes `heads/<branch>` into a ref path. */
const ref = (branch: string) => encodeURIComponent(`heads/${branch}`);
const SOURCE = sha('source');
const API_KEY = 'sk-ant-test-KEY-1f2e3d4c5b6a';

const SKILL_PR = { headRef: 'changes', baseRef: 'master', isFork: false };
const WHERE: PublishWhere = {
  owner: 'Codertocat',
  repo: 'Hello-World',
  skillPr: async () => SKILL_PR,
  serverUrl: 'https://github.com',
  author: { name: 'github-actions[bot]', email: 'bot@example.com' },
};

const gain: BenchGain = {
  first: benchPointSchema.parse({
    iteration: 0,
    skill: 'vendored-skill',
    pass_rate: 40,
    heldout_pass_rate: 50,
    min_probe_pass_rate: 0,
    baseline_pass_rate: 20,
    accepted: null,
    results_dir: 'a',
  }),
  last: benchPointSchema.parse({
    iteration: 1,
    skill: 'improved-skill',
    pass_rate: 90,
    heldout_pass_rate: 100,
    min_probe_pass_rate: 67,
    baseline_pass_rate: 20,
    accepted: true,
    results_dir: 'b',
    verdict: 'improved',
  }),
  baselineOverride: null,
};

function plan(over: Partial<PublishPlan> = {}): PublishPlan {
  return {
    slug: 'keep-a-changelog',
    skillName: 'keep-a-changelog',
    branch: BRANCH,
    target: { kind: 'stacked' },
    skillPath: 'skills/keep-a-changelog',
    sourceCommit: SOURCE,
    changes: [
      { path: 'skills/keep-a-changelog', delete: true },
      { path: 'skills/keep-a-changelog/SKILL.md', content: 'improved\n' },
      { path: 'skills/keep-a-changelog/icon.bin', content: Buffer.from([0, 255]) },
    ],
    title: 'keep-a-changelog: improve the skill (bench pass rate 40% → 90%)',
    body: 'the body',
    commitMessage: 'keep-a-changelog: improve the skill\n\nEvidence.\n',
    gain,
    weaknesses: ['release-steps-missing'],
    ...over,
  };
}

const UPSTREAM: PublishPlan['target'] = {
  kind: 'upstream',
  owner: 'keepachangelog',
  repo: 'agent-skills',
  baseBranch: 'main',
  license: 'MIT',
  requiresCla: true,
  conventions: { title: null, description: null, commits: null, frontmatter: null },
};

/** Bodies seen by nock; any carrying a secret is a leak. */
const seen: unknown[] = [];
const record = (expected: unknown) => (body: unknown) => {
  seen.push(body);
  return JSON.stringify(body) === JSON.stringify(expected);
};

/**
 * The reads and writes of commitFiles on `at`, replacing skills/keep-a-changelog. The branch is
 * not read again: the publisher read or created it at `parent` just before.
 */
function mockCommit(
  scope: nock.Scope,
  at: string,
  parent: string,
  opts: { fail?: 'commit'; unchanged?: boolean } = {},
) {
  const root = sha('root-tree');
  const skills = sha('skills-tree');
  const folder = sha('folder-tree');
  scope
    .get(`${at}/git/trees/${parent}`)
    .reply(200, {
      sha: root,
      truncated: false,
      tree: [{ path: 'skills', mode: '040000', type: 'tree', sha: skills }],
    })
    .get(`${at}/git/trees/${skills}`)
    .reply(200, {
      truncated: false,
      tree: [{ path: 'keep-a-changelog', mode: '040000', type: 'tree', sha: folder }],
    })
    .get(`${at}/git/trees/${folder}`)
    .query({ recursive: '1' })
    .reply(200, {
      truncated: false,
      tree: [
        { path: 'SKILL.md', mode: '100644', type: 'blob', sha: sha('old-skill') },
        { path: 'reference/old.md', mode: '100644', type: 'blob', sha: sha('old-ref') },
      ],
    })
    .post(
      `${at}/git/blobs`,
      record({ content: Buffer.from([0, 255]).toString('base64'), encoding: 'base64' }),
    )
    .reply(201, { sha: sha('icon-blob') })
    .post(
      `${at}/git/trees`,
      record({
        base_tree: root,
        tree: [
          {
            path: 'skills/keep-a-changelog/SKILL.md',
            mode: '100644',
            type: 'blob',
            content: 'improved\n',
          },
          {
            path: 'skills/keep-a-changelog/icon.bin',
            mode: '100644',
            type: 'blob',
            sha: sha('icon-blob'),
          },
          {
            path: 'skills/keep-a-changelog/reference/old.md',
            mode: '100644',
            type: 'blob',
            sha: null,
          },
        ],
      }),
    )
    .reply(201, { sha: opts.unchanged ? root : sha('new-tree') });
  if (opts.unchanged) return;
  const commit = scope.post(
    `${at}/git/commits`,
    record({
      message: 'keep-a-changelog: improve the skill\n\nEvidence.\n',
      tree: sha('new-tree'),
      parents: [parent],
      author: { name: 'github-actions[bot]', email: 'bot@example.com' },
    }),
  );
  if (opts.fail === 'commit') {
    commit.reply(502, failure('Bad Gateway', 502));
    return;
  }
  commit.reply(201, { sha: sha('published') });
  scope
    .patch(`${at}/git/refs/${ref(BRANCH)}`, record({ sha: sha('published'), force: false }))
    .reply(200, { object: { sha: sha('published') } });
}

function expectNoSecrets() {
  const text = JSON.stringify(seen);
  expect(text).not.toContain(TOKEN);
  expect(text).not.toContain(API_KEY);
}

describe('publishing a finished run on GitHub', () => {
  it('stacks a draft PR on the skill PR: a new branch at the vendored commit, one commit, draft: true', async () => {
    const scope = api()
      .get(`${HERE}/git/ref/${ref(BRANCH)}`)
      .reply(404, failure('Not Found', 404))
      .post(`${HERE}/git/refs`, record({ ref: `refs/heads/${BRANCH}`, sha: SOURCE }))
      .reply(201, {});
    mockCommit(scope, HERE, SOURCE);
    scope
      .get(`${HERE}/pulls`)
      .query({ head: `Codertocat:${BRANCH}`, base: 'changes', state: 'open', per_page: 1 })
      .reply(200, [])
      .post(
        `${HERE}/pulls`,
        record({
          head: BRANCH,
          base: 'changes',
          title: 'keep-a-changelog: improve the skill (bench pass rate 40% → 90%)',
          body: 'the body',
          draft: true,
        }),
      )
      .reply(201, { number: 9, html_url: 'https://github.com/Codertocat/Hello-World/pull/9' });
    const { client } = testClient();

    const published = await githubPublisher(client).publish(plan(), WHERE);

    expect(scope.isDone(), `pending: ${scope.pendingMocks().join(', ')}`).toBe(true);
    expect(published).toEqual({
      repo: 'Codertocat/Hello-World',
      number: 9,
      url: 'https://github.com/Codertocat/Hello-World/pull/9',
      head: BRANCH,
      base: 'changes',
      created: true,
      committed: true,
      forked: false,
    });
    expectNoSecrets();
  });

  it('is idempotent: the existing branch and PR are found again, nothing duplicated', async () => {
    const existing = sha('published');
    const scope = api()
      .get(`${HERE}/git/ref/${ref(BRANCH)}`)
      .reply(200, { object: { sha: existing } });
    mockCommit(scope, HERE, existing, { unchanged: true });
    scope
      .get(`${HERE}/pulls`)
      .query({ head: `Codertocat:${BRANCH}`, base: 'changes', state: 'open', per_page: 1 })
      .reply(200, [{ number: 9, body: 'an older body' }])
      .patch(`${HERE}/pulls/9`, record({ body: 'the body' }))
      .reply(200, {});
    const { client } = testClient();

    const published = await githubPublisher(client).publish(plan(), WHERE);

    expect(scope.isDone(), `pending: ${scope.pendingMocks().join(', ')}`).toBe(true);
    expect(published).toMatchObject({ number: 9, created: false, committed: false });
    expect(published.url).toBe('https://github.com/Codertocat/Hello-World/pull/9');
  });

  it("a fork's skill PR gets its draft PR into the base branch, started from that branch", async () => {
    const base = sha('master');
    const scope = api()
      .get(`${HERE}/git/ref/${ref('master')}`)
      .reply(200, { object: { sha: base } })
      .get(`${HERE}/git/ref/${ref(BRANCH)}`)
      .reply(404, failure('Not Found', 404))
      .post(`${HERE}/git/refs`, record({ ref: `refs/heads/${BRANCH}`, sha: base }))
      .reply(201, {});
    mockCommit(scope, HERE, base);
    scope
      .get(`${HERE}/pulls`)
      .query({ head: `Codertocat:${BRANCH}`, base: 'master', state: 'open', per_page: 1 })
      .reply(200, [])
      .post(`${HERE}/pulls`, (b) => b.base === 'master' && b.draft === true)
      .reply(201, { number: 10, html_url: 'https://github.com/Codertocat/Hello-World/pull/10' });
    const { client } = testClient();
    const published = await githubPublisher(client).publish(plan(), {
      ...WHERE,
      skillPr: async () => ({ ...SKILL_PR, isFork: true }),
    });
    expect(scope.isDone(), `pending: ${scope.pendingMocks().join(', ')}`).toBe(true);
    expect(published).toMatchObject({ number: 10, base: 'master' });
  });

  it('upstream: forks, waits for the fork (bounded), commits on upstream base, opens a draft PR there', async () => {
    const base = sha('upstream-main');
    const scope = api()
      .get(`${UP}/git/ref/${ref('main')}`)
      .reply(200, { object: { sha: base } })
      .post(`${UP}/forks`, record({ default_branch_only: true }))
      .reply(202, { name: 'agent-skills', owner: { login: 'skill-bot' } })
      .get(`${FORK}/git/ref/${ref('main')}`)
      .reply(404, failure('Not Found', 404))
      .get(`${FORK}/git/ref/${ref('main')}`)
      .reply(404, failure('Not Found', 404))
      .get(`${FORK}/git/ref/${ref('main')}`)
      .reply(200, { object: { sha: base } })
      // A fork that has just appeared holds no branch of ours: created without a lookup.
      .post(`${FORK}/git/refs`, record({ ref: `refs/heads/${BRANCH}`, sha: base }))
      .reply(201, {});
    mockCommit(scope, FORK, base);
    scope
      .get(`${UP}/pulls`)
      .query({ head: `skill-bot:${BRANCH}`, base: 'main', state: 'open', per_page: 1 })
      .reply(200, [])
      .post(
        `${UP}/pulls`,
        record({
          head: `skill-bot:${BRANCH}`,
          base: 'main',
          title: 'keep-a-changelog: improve the skill (bench pass rate 40% → 90%)',
          body: 'the body',
          draft: true,
        }),
      )
      .reply(201, {
        number: 77,
        html_url: 'https://github.com/keepachangelog/agent-skills/pull/77',
      });
    const waits: number[] = [];
    const { client } = testClient();

    const published = await githubPublisher(client, {
      sleep: async (ms) => {
        waits.push(ms);
      },
      forkWaitMs: 100,
    }).publish(plan({ target: UPSTREAM }), {
      ...WHERE,
      skillPr: async () => {
        throw new Error('an upstream publication has no use for the skill PR');
      },
    });

    expect(scope.isDone(), `pending: ${scope.pendingMocks().join(', ')}`).toBe(true);
    expect(waits).toEqual([100, 200]);
    expect(published).toMatchObject({
      repo: 'keepachangelog/agent-skills',
      number: 77,
      head: `skill-bot:${BRANCH}`,
      base: 'main',
      forked: true,
      created: true,
    });
    expectNoSecrets();
  });

  it('upstream: a branch already in a fork that had to be waited for is read back, not recreated', async () => {
    const base = sha('upstream-main');
    const existing = sha('existing-branch');
    const scope = api()
      .get(`${UP}/git/ref/${ref('main')}`)
      .reply(200, { object: { sha: base } })
      .post(`${UP}/forks`)
      .reply(202, { name: 'agent-skills', owner: { login: 'skill-bot' } })
      .get(`${FORK}/git/ref/${ref('main')}`)
      .reply(404, failure('Not Found', 404))
      .get(`${FORK}/git/ref/${ref('main')}`)
      .reply(200, { object: { sha: base } })
      .post(`${FORK}/git/refs`)
      .reply(422, failure('Reference already exists', 422))
      .get(`${FORK}/git/ref/${ref(BRANCH)}`)
      .reply(200, { object: { sha: existing } });
    mockCommit(scope, FORK, existing);
    scope
      .get(`${UP}/pulls`)
      .query({ head: `skill-bot:${BRANCH}`, base: 'main', state: 'open', per_page: 1 })
      .reply(200, [{ number: 77, body: 'the body' }]);
    const { client } = testClient();

    const published = await githubPublisher(client, { sleep: async () => {} }).publish(
      plan({ target: UPSTREAM }),
      WHERE,
    );

    expect(scope.isDone(), `pending: ${scope.pendingMocks().join(', ')}`).toBe(true);
    expect(published).toMatchObject({ number: 77, created: false, committed: true });
  });

  it('upstream: a fork there already is asked for the branch before one is created', async () => {
    const base = sha('upstream-main');
    const scope = api()
      .get(`${UP}/git/ref/${ref('main')}`)
      .reply(200, { object: { sha: base } })
      .post(`${UP}/forks`)
      .reply(202, { name: 'agent-skills', owner: { login: 'skill-bot' } })
      .get(`${FORK}/git/ref/${ref('main')}`)
      .reply(200, { object: { sha: base } })
      .get(`${FORK}/git/ref/${ref(BRANCH)}`)
      .reply(404, failure('Not Found', 404))
      .post(`${FORK}/git/refs`, record({ ref: `refs/heads/${BRANCH}`, sha: base }))
      .reply(201, {});
    mockCommit(scope, FORK, base);
    scope
      .get(`${UP}/pulls`)
      .query({ head: `skill-bot:${BRANCH}`, base: 'main', state: 'open', per_page: 1 })
      .reply(200, [{ number: 77, body: 'the body' }]);
    const { client } = testClient();

    const published = await githubPublisher(client, { sleep: async () => {} }).publish(
      plan({ target: UPSTREAM }),
      WHERE,
    );

    expect(scope.isDone(), `pending: ${scope.pendingMocks().join(', ')}`).toBe(true);
    expect(published).toMatchObject({ number: 77, created: false, committed: true });
  });

  it('upstream: gives up on a fork that never appears, having pushed nothing', async () => {
    const scope = api()
      .get(`${UP}/git/ref/${ref('main')}`)
      .reply(200, { object: { sha: sha('upstream-main') } })
      .post(`${UP}/forks`)
      .reply(202, { name: 'agent-skills', owner: { login: 'skill-bot' } })
      .get(`${FORK}/git/ref/${ref('main')}`)
      .times(3)
      .reply(404, failure('Not Found', 404));
    const { client } = testClient();
    const publishing = githubPublisher(client, {
      sleep: async () => {},
      forkChecks: 3,
    }).publish(plan({ target: UPSTREAM }), WHERE);
    await expect(publishing).rejects.toThrow(PublishError);
    await expect(publishing).rejects.toThrow(
      'the fork skill-bot/agent-skills has no main branch yet',
    );
    expect(scope.isDone()).toBe(true);
  });

  it('upstream in this very repository: no fork, a branch here, a draft PR to the base branch', async () => {
    const base = sha('master');
    const scope = api()
      .get(`${HERE}/git/ref/${ref('master')}`)
      .reply(200, { object: { sha: base } })
      .get(`${HERE}/git/ref/${ref(BRANCH)}`)
      .reply(404, failure('Not Found', 404))
      .post(`${HERE}/git/refs`)
      .reply(201, {});
    mockCommit(scope, HERE, base);
    scope
      .get(`${HERE}/pulls`)
      .query({ head: `Codertocat:${BRANCH}`, base: 'master', state: 'open', per_page: 1 })
      .reply(200, [])
      .post(`${HERE}/pulls`, (b) => b.head === BRANCH && b.base === 'master' && b.draft === true)
      .reply(201, { number: 11, html_url: 'https://github.com/Codertocat/Hello-World/pull/11' });
    const { client } = testClient();
    const target = { ...UPSTREAM, owner: 'codertocat', repo: 'hello-world', baseBranch: 'master' };
    const published = await githubPublisher(client).publish(plan({ target }), WHERE);
    expect(scope.isDone(), `pending: ${scope.pendingMocks().join(', ')}`).toBe(true);
    expect(published).toMatchObject({ forked: false, number: 11 });
  });

  it('names a base branch the upstream does not have, before forking anything', async () => {
    const scope = api()
      .get(`${UP}/git/ref/${ref('main')}`)
      .reply(404, failure('Not Found', 404));
    const { client } = testClient();
    await expect(
      githubPublisher(client).publish(plan({ target: UPSTREAM }), WHERE),
    ).rejects.toThrow('keepachangelog/agent-skills has no branch main');
    expect(scope.isDone()).toBe(true);
  });

  it('a 5xx mid-commit leaves the branch where it was (the ref never moves) and says how to retry', async () => {
    const existing = sha('published');
    const scope = api()
      .get(`${HERE}/git/ref/${ref(BRANCH)}`)
      .reply(200, { object: { sha: existing } });
    mockCommit(scope, HERE, existing, { fail: 'commit' });
    const { client } = testClient();
    const publishing = githubPublisher(client).publish(plan(), WHERE);
    await expect(publishing).rejects.toThrow(GitHubUnavailableError);
    await expect(publishing).rejects.toMatchObject({ retry: '/optimize' });
    // No PATCH of the ref was asked for: nock would have matched nothing and failed otherwise.
    expect(scope.isDone(), `pending: ${scope.pendingMocks().join(', ')}`).toBe(true);
  });
});

describe('what the chain PR says about a publication', () => {
  it('calls a required CLA out prominently and lists the conventions to check before ready', () => {
    const text = renderPublished(
      plan({
        target: {
          ...UPSTREAM,
          conventions: {
            title: 'prefixed: "keep-a-changelog: ..."',
            description: 'What changed and how it was checked. <!-- hidden -->',
            commits: 'Signed off (Signed-off-by) by @someone',
            frontmatter: null,
          },
        },
      }),
      {
        repo: 'keepachangelog/agent-skills',
        number: 77,
        url: 'https://github.com/keepachangelog/agent-skills/pull/77',
        head: `skill-bot:${BRANCH}`,
        base: 'main',
        created: true,
        committed: true,
        forked: true,
      },
    );
    expect(text).toContain(
      '> **CLA required:** step 2 found that `keepachangelog/agent-skills` requires a Contributor License Agreement. A human must sign it before the pull request can be merged.',
    );
    expect(text).toContain(
      'Draft pull request opened: https://github.com/keepachangelog/agent-skills/pull/77',
    );
    expect(text).toContain('- Title: prefixed: "keep-a-changelog: ..."');
    // Text from 02 cannot open HTML comments or mention people.
    expect(text).toContain('- Description: What changed and how it was checked.\n');
    expect(text).toContain('- Commits: Signed off (Signed-off-by) by @\u200Dsomeone');
    expect(text).not.toContain('SKILL.md frontmatter');
  });

  it('says nothing of a CLA for a stacked PR, and tells an unchanged re-run apart', () => {
    const text = renderPublished(plan(), {
      repo: 'Codertocat/Hello-World',
      number: 9,
      url: 'https://github.com/Codertocat/Hello-World/pull/9',
      head: BRANCH,
      base: 'changes',
      created: false,
      committed: false,
      forked: false,
    });
    expect(text).toContain(
      'Draft pull request unchanged: https://github.com/Codertocat/Hello-World/pull/9',
    );
    expect(text).not.toContain('CLA');
    expect(text).not.toContain('Before you mark it ready');
  });
});
