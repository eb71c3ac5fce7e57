import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidBranchNameError, RefConflictError } from '../../src/github/errors.js';
import { commitFiles, createBranch, getBranchSha } from '../../src/github/git-data.js';
import { NothingToCommitError } from '../../src/store/errors.js';
import { api, failure, OWNER, REPO, sha, testClient } from './fixture.js';

afterEach(() => {
  nock.cleanAll();
});

const base = `/repos/${OWNER}/${REPO}`;
const BRANCH = 'skill-optimizer/demo';
const refPath = `${base}/git/ref/heads%2Fskill-optimizer%2Fdemo`;
const updateRefPath = `${base}/git/refs/heads%2Fskill-optimizer%2Fdemo`;
const PARENT = sha('parent');
const ROOT = sha('root');
const AUTHOR = { name: 'Skill Optimizer', email: 'skill-optimizer@users.noreply.github.com' };
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff]);

/** The parent commit's tree: skills/demo/{SKILL.md, gone.md, old/{a.md, sub/b.sh}}. */
function serveParentTree(scope: nock.Scope): nock.Scope {
  return (
    scope
      // The commit names its root tree: one listing answers both.
      .get(`${base}/git/trees/${PARENT}`)
      .reply(200, {
        sha: ROOT,
        truncated: false,
        tree: [{ path: 'skills', mode: '040000', type: 'tree', sha: sha('t-skills') }],
      })
      .get(`${base}/git/trees/${sha('t-skills')}`)
      .reply(200, {
        truncated: false,
        tree: [{ path: 'demo', mode: '040000', type: 'tree', sha: sha('t-demo') }],
      })
      .get(`${base}/git/trees/${sha('t-demo')}`)
      .reply(200, {
        truncated: false,
        tree: [
          { path: 'SKILL.md', mode: '100644', type: 'blob', sha: sha('b-skill') },
          { path: 'gone.md', mode: '100644', type: 'blob', sha: sha('b-gone') },
          { path: 'old', mode: '040000', type: 'tree', sha: sha('t-old') },
        ],
      })
      .get(`${base}/git/trees/${sha('t-old')}`)
      .query({ recursive: '1' })
      .reply(200, {
        truncated: false,
        tree: [
          { path: 'a.md', mode: '100644', type: 'blob', sha: sha('b-a') },
          { path: 'sub', mode: '040000', type: 'tree', sha: sha('t-sub') },
          { path: 'sub/b.sh', mode: '100755', type: 'blob', sha: sha('b-b') },
        ],
      })
  );
}

/** Every request body the scope received, to prove what was (not) sent. */
function recordBodies(scope: nock.Scope): string[] {
  const bodies: string[] = [];
  scope.on('request', (_req: unknown, _interceptor: unknown, body: string) => {
    bodies.push(body);
  });
  return bodies;
}

const CHANGES = [
  { path: 'skills/demo/SKILL.md', content: '# Demo v2\n' },
  { path: 'skills/demo/logo.png', content: PNG },
  { path: 'skills/demo/old', delete: true as const },
  { path: 'skills/demo/gone.md', delete: true as const },
  { path: 'missing.md', delete: true as const },
];

describe('commitFiles', () => {
  it('writes blobs, a tree on the parent, a commit, then fast-forwards the branch', async () => {
    const scope = serveParentTree(
      api()
        .get(refPath)
        .reply(200, { ref: `refs/heads/${BRANCH}`, object: { sha: PARENT } }),
    )
      .post(`${base}/git/blobs`, { content: PNG.toString('base64'), encoding: 'base64' })
      .reply(201, { sha: sha('b-png') })
      .post(`${base}/git/trees`, {
        base_tree: ROOT,
        tree: [
          { path: 'skills/demo/SKILL.md', mode: '100644', type: 'blob', content: '# Demo v2\n' },
          { path: 'skills/demo/gone.md', mode: '100644', type: 'blob', sha: null },
          { path: 'skills/demo/logo.png', mode: '100644', type: 'blob', sha: sha('b-png') },
          { path: 'skills/demo/old/a.md', mode: '100644', type: 'blob', sha: null },
          { path: 'skills/demo/old/sub/b.sh', mode: '100755', type: 'blob', sha: null },
        ],
      })
      .reply(201, { sha: sha('new-tree') })
      .post(`${base}/git/commits`, {
        message: 'skill-optimizer(demo): 09 improve — tighter triggers',
        tree: sha('new-tree'),
        parents: [PARENT],
        author: AUTHOR,
      })
      .reply(201, { sha: sha('new-commit') })
      .patch(updateRefPath, { sha: sha('new-commit'), force: false })
      .reply(200, { object: { sha: sha('new-commit') } });
    const { client } = testClient();
    const commit = await commitFiles(client, {
      owner: OWNER,
      repo: REPO,
      branch: BRANCH,
      expectedParent: PARENT,
      message: 'skill-optimizer(demo): 09 improve — tighter triggers',
      changes: CHANGES,
      author: AUTHOR,
    });
    expect(commit).toBe(sha('new-commit'));
    expect(scope.isDone()).toBe(true);
  });

  it('refuses with RefConflictError, never forcing, when the branch moved during the commit', async () => {
    const scope = serveParentTree(
      api()
        .get(refPath)
        .reply(200, { object: { sha: PARENT } }),
    )
      .post(`${base}/git/blobs`)
      .reply(201, { sha: sha('b-png') })
      .post(`${base}/git/trees`)
      .reply(201, { sha: sha('new-tree') })
      .post(`${base}/git/commits`)
      .reply(201, { sha: sha('new-commit') })
      .patch(updateRefPath, { sha: sha('new-commit'), force: false })
      .reply(422, failure('Update is not a fast forward', 422));
    const bodies = recordBodies(scope);
    const { client } = testClient({ retry: true, retryDelayMs: 1 });
    const error = await commitFiles(client, {
      owner: OWNER,
      repo: REPO,
      branch: BRANCH,
      expectedParent: PARENT,
      message: 'step 9',
      changes: CHANGES,
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RefConflictError);
    expect((error as RefConflictError).message).toBe(
      `the branch ${BRANCH} moved while committing 'step 9': it was expected at ${PARENT.slice(0, 12)} but is no longer at that commit (someone pushed to it or deleted it). Nothing was overwritten and this step was not committed; try again: /optimize`,
    );
    expect((error as RefConflictError).retry).toBe('/optimize');
    expect(scope.isDone()).toBe(true);
    expect(bodies.filter((body) => body.includes('"force"'))).toEqual([
      JSON.stringify({ sha: sha('new-commit'), force: false }),
    ]);
  });

  it('writes nothing when the branch already moved before the commit', async () => {
    const scope = api()
      .get(refPath)
      .reply(200, { object: { sha: sha('human-push') } });
    const { client } = testClient();
    const error = await commitFiles(client, {
      owner: OWNER,
      repo: REPO,
      branch: BRANCH,
      expectedParent: PARENT,
      message: 'step 9',
      changes: CHANGES,
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RefConflictError);
    expect((error as Error).message).toContain(`but is now at ${sha('human-push').slice(0, 12)}`);
    expect(scope.isDone()).toBe(true);
  });

  it('does not read the branch again when the caller just read it, and still refuses to force', async () => {
    // No GET of the ref is mocked: nock would fail the request if commitFiles made it.
    const scope = serveParentTree(api())
      .post(`${base}/git/blobs`)
      .reply(201, { sha: sha('b-png') })
      .post(`${base}/git/trees`)
      .reply(201, { sha: sha('new-tree') })
      .post(`${base}/git/commits`)
      .reply(201, { sha: sha('new-commit') })
      .patch(updateRefPath, { sha: sha('new-commit'), force: false })
      .reply(422, failure('Update is not a fast forward', 422));
    const { client } = testClient();
    const error = await commitFiles(client, {
      owner: OWNER,
      repo: REPO,
      branch: BRANCH,
      expectedParent: PARENT,
      parentJustRead: true,
      message: 'step 9',
      changes: CHANGES,
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RefConflictError);
    expect(scope.isDone(), `pending: ${scope.pendingMocks().join(', ')}`).toBe(true);
  });

  it('throws NothingToCommitError when the tree does not change', async () => {
    const scope = api()
      .get(refPath)
      .reply(200, { object: { sha: PARENT } })
      .get(`${base}/git/trees/${PARENT}`)
      .reply(200, { sha: ROOT, truncated: false, tree: [] });
    const { client } = testClient();
    const args = {
      owner: OWNER,
      repo: REPO,
      branch: BRANCH,
      expectedParent: PARENT,
      message: 'noop',
      changes: [{ path: 'missing.md', delete: true as const }],
    };
    await expect(commitFiles(client, args)).rejects.toThrow(
      "nothing to commit for 'noop': the changes leave skill-optimizer/demo as it is",
    );
    expect(scope.isDone()).toBe(true);
    await expect(commitFiles(client, { ...args, changes: [] })).rejects.toThrow(
      "nothing to commit for 'noop': no changes given",
    );
    await expect(commitFiles(client, { ...args, changes: [] })).rejects.toBeInstanceOf(
      NothingToCommitError,
    );
  });

  const HOSTILE = [
    '',
    '@',
    '../main',
    'a..b',
    'main~1',
    'main^',
    'a:b',
    'a b',
    'a\tb',
    'a\u0000b',
    'a\u007fb',
    '-f',
    '--force',
    'a@{1}',
    'x.lock',
    'x.lock/y',
    'x/',
    '/x',
    'a//b',
    '.hidden',
    'a/.b',
    'a*b',
    'a?b',
    'a[b',
    'a\\b',
    'x.',
  ];

  it.each(HOSTILE)('rejects the branch name %j before any request', async (branch) => {
    const { client } = testClient();
    const args = { owner: OWNER, repo: REPO, branch };
    await expect(
      commitFiles(client, { ...args, expectedParent: PARENT, message: 'm', changes: CHANGES }),
    ).rejects.toThrow(InvalidBranchNameError);
    await expect(createBranch(client, { ...args, sha: PARENT })).rejects.toThrow(
      InvalidBranchNameError,
    );
    await expect(getBranchSha(client, args)).rejects.toThrow(InvalidBranchNameError);
  });

  it('rejects a parent that is not a full sha and paths that leave the repository', async () => {
    const { client } = testClient();
    const args = { owner: OWNER, repo: REPO, branch: BRANCH, message: 'm' };
    await expect(
      commitFiles(client, { ...args, expectedParent: 'HEAD~1', changes: CHANGES }),
    ).rejects.toThrow("the expected parent is not a full commit sha: 'HEAD~1'");
    await expect(
      commitFiles(client, {
        ...args,
        expectedParent: PARENT,
        changes: [{ path: '../x', content: 'y' }],
      }),
    ).rejects.toThrow("'../x' is not a path inside the repository: it contains '..'");
  });
});

describe('branches', () => {
  it('reads a branch tip, null when missing', async () => {
    const scope = api()
      .get(refPath)
      .reply(200, { object: { sha: PARENT } })
      .get(refPath)
      .reply(404, failure('Not Found', 404));
    const { client } = testClient();
    const args = { owner: OWNER, repo: REPO, branch: BRANCH };
    expect(await getBranchSha(client, args)).toBe(PARENT);
    expect(await getBranchSha(client, args)).toBeNull();
    expect(scope.isDone()).toBe(true);
  });

  it('creates a branch, and says so when it exists already', async () => {
    const scope = api()
      .post(`${base}/git/refs`, { ref: `refs/heads/${BRANCH}`, sha: PARENT })
      .reply(201, {})
      .post(`${base}/git/refs`, { ref: `refs/heads/${BRANCH}`, sha: PARENT })
      .reply(422, failure('Reference already exists', 422));
    const { client } = testClient();
    const args = { owner: OWNER, repo: REPO, branch: BRANCH, sha: PARENT };
    await createBranch(client, args);
    await expect(createBranch(client, args)).rejects.toThrow(
      `the branch ${BRANCH} already exists in ${OWNER}/${REPO}`,
    );
    expect(scope.isDone()).toBe(true);
  });
});
